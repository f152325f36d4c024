from django.urls import path

from . import views

app_name = "analytics"
urlpatterns = [
    path("", views.home, name="home"),
    path("run/", views.run_now, name="run"),
    path("diagnostics/", views.diagnostics, name="diagnostics"),
]
from .urls_scorecard import urlpatterns as scorecard_urlpatterns  # noqa: E402 - balanced scorecard

urlpatterns += scorecard_urlpatterns
