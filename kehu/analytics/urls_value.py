from django.urls import path

from . import views_value

urlpatterns = [
    path("value/", views_value.segments, name="value_segments"),
    path("value/settings/", views_value.settings_edit, name="value_settings"),
    path("value/strategy/<str:segment>/", views_value.strategy_edit, name="value_strategy"),
    path("value/loop/", views_value.loop, name="value_loop"),
    path("churn/", views_value.at_risk, name="value_at_risk"),
    path("churn/care/", views_value.at_risk_care, name="value_at_risk_care"),
]
