"""Report builder and dashboard pages (included into the analytics URL namespace)."""

from django.urls import path, re_path

from . import views_reports as v

urlpatterns = [
    path("dashboard/", v.dashboard, name="dashboard"),
    path("reports/", v.report_list, name="reports"),
    path("reports/new/", v.report_builder, name="report_new"),
    path("reports/drill/", v.ReportDrill.as_view(), name="report_drill"),
    path("reports/<int:pk>/", v.report_detail, name="report"),
    path("reports/<int:pk>/edit/", v.report_builder, name="report_edit"),
    path("reports/<int:pk>/dashboard/", v.report_pin, name="report_pin"),
    path("reports/<int:pk>/delete/", v.report_delete, name="report_delete"),
    re_path(r"^reports/(?P<pk>[0-9]+)/export\.(?P<fmt>xlsx|pdf)$", v.report_export, name="report_export"),
]
