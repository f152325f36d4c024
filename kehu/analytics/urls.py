from django.urls import path

from . import views

app_name = "analytics"
urlpatterns = [
    path("", views.home, name="home"),
    path("run/", views.run_now, name="run"),
    path("diagnostics/", views.diagnostics, name="diagnostics"),
]

from . import urls_reports  # noqa: E402 - report builder and dashboards (anreport)

urlpatterns += urls_reports.urlpatterns
