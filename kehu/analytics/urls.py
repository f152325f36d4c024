from django.urls import path

from . import views

app_name = "analytics"
urlpatterns = [
    path("", views.home, name="home"),
    path("run/", views.run_now, name="run"),
    path("diagnostics/", views.diagnostics, name="diagnostics"),
]

from .urls_value import urlpatterns as value_urlpatterns  # noqa: E402 - value segments, loop, churn

urlpatterns += value_urlpatterns
from .urls_nba import urlpatterns as nba_urlpatterns  # noqa: E402 - Next Best Activity (issue #11 item 5)

urlpatterns += nba_urlpatterns
from . import urls_reports  # noqa: E402 - report builder and dashboards (anreport)

urlpatterns += urls_reports.urlpatterns
from .urls_scorecard import urlpatterns as scorecard_urlpatterns  # noqa: E402 - balanced scorecard

urlpatterns += scorecard_urlpatterns
