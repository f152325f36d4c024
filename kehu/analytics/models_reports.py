"""Saved reports of the report builder, their sharing and e-mail schedule, and the role dashboards' widgets.

A report is a specification (model, filters, group-bys, measures, chart) that `kehu.analytics.reports`
compiles to one aggregate query over the records the *reader* may see: sharing a report shares the question,
never the answer — each reader (and each e-mail recipient) gets the figures of their own record scope."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ChartType(models.TextChoices):
    BAR = "bar", _("Bar chart")
    LINE = "line", _("Line chart")
    PIE = "pie", _("Pie chart")
    TABLE = "table", _("Table")


class Schedule(models.TextChoices):
    NONE = "", pgettext_lazy("report schedule", "Not sent")
    DAILY = "daily", pgettext_lazy("report schedule", "Daily")
    WEEKLY = "weekly", pgettext_lazy("report schedule", "Weekly (Mondays)")
    MONTHLY = "monthly", pgettext_lazy("report schedule", "Monthly (on the 1st)")


class Report(models.Model):
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="+"
    )
    #: the registered model reported on, e.g. "sales.orderline" (also inside `spec`, kept here for lists)
    model = models.CharField(_("record type"), max_length=100)
    #: filters, group_by, measures, columns (validated by kehu.analytics.reports.parse_spec)
    spec = models.JSONField(_("definition"), default=dict)
    chart = models.CharField(_("chart type"), max_length=8, choices=ChartType.choices, default=ChartType.BAR)
    shared_roles = models.ManyToManyField(
        "core.Role", verbose_name=_("shared with roles"), blank=True, related_name="+"
    )
    shared_teams = models.ManyToManyField(
        "core.Team", verbose_name=_("shared with teams"), blank=True, related_name="+"
    )
    schedule = models.CharField(_("e-mail delivery"), max_length=8, choices=Schedule.choices, blank=True)
    recipients = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("recipients"), blank=True, related_name="+"
    )
    #: the local date of the last scheduled delivery (claimed under a row lock: one delivery per period)
    last_sent_on = models.DateField(_("last sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class DashboardWidget(models.Model):
    """A saved report shown on the dashboard of a role (each viewer sees it within their own scope)."""

    role = models.ForeignKey("core.Role", verbose_name=_("role"), on_delete=models.CASCADE, related_name="+")
    report = models.ForeignKey(
        Report, verbose_name=_("report"), on_delete=models.CASCADE, related_name="widgets"
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    wide = models.BooleanField(_("full width"), default=False)

    class Meta:
        verbose_name = _("dashboard widget")
        verbose_name_plural = _("dashboard widgets")
        ordering = ["role", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["role", "report"], name="uniq_widget_role_report")]

    def __str__(self) -> str:
        return f"{self.role_id}: {self.report_id}"
