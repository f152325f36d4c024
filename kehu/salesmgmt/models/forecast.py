"""Forecast (ADR 0014 "Forecast and dashboards", issue 17 part 3).

- `ForecastEntry`: the rep's forecast category of one opportunity (pipeline / best case / commit / omitted),
  inheriting the opportunity's scope (`via="opportunity"`): whoever may change the deal sets its category.
- `ForecastAdjustment`: a manager's figure for one rep and period, kept beside the rep's own commit (never
  overwriting it), with a note; owned by the rep (scope), written by a manager through the record service.
- `ForecastSnapshot`: the figures of one rep and period as they stood in one week (ISO week, Monday), written
  by the weekly job (`manage.py forecast_snapshot`), one row per (week, rep, period): idempotent.
kehu.sales models are not changed."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core.models import VersionedModel

from .plans import PeriodKind

ZERO = Decimal("0")


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", _("Pipeline")
    BEST_CASE = "best_case", _("Best case")
    COMMIT = "commit", _("Commit")
    OMITTED = "omitted", _("Omitted")


class ForecastEntry(VersionedModel):
    opportunity = models.OneToOneField(
        "sales.Opportunity",
        on_delete=models.CASCADE,
        related_name="forecast_entry",
        verbose_name=_("opportunity"),
    )
    category = models.CharField(
        _("forecast category"),
        max_length=16,
        choices=ForecastCategory.choices,
        default=ForecastCategory.PIPELINE,
    )

    class Meta:
        verbose_name = _("forecast entry")
        verbose_name_plural = _("forecast entries")

    def __str__(self) -> str:
        return f"{self.opportunity}: {self.get_category_display()}"


class _Period(models.Model):
    period_kind = models.CharField(_("period"), max_length=8, choices=PeriodKind.choices)
    year = models.PositiveSmallIntegerField(_("year"))
    period_number = models.PositiveSmallIntegerField(_("quarter or month"), default=0)

    class Meta:
        abstract = True


class ForecastAdjustment(VersionedModel, _Period):
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales rep"), on_delete=models.PROTECT, related_name="+"
    )
    amount = models.DecimalField(_("manager's forecast"), max_digits=16, decimal_places=2)
    note = models.CharField(_("manager's note"), max_length=500, blank=True)
    adjusted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("adjusted by"),
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        null=True,
    )

    class Meta:
        verbose_name = _("forecast adjustment")
        verbose_name_plural = _("forecast adjustments")
        constraints = [
            models.UniqueConstraint(
                fields=["rep", "period_kind", "year", "period_number"], name="uq_forecast_adjustment"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rep} {self.year}/{self.period_kind}{self.period_number or ''}"


class TeamForecastAdjustment(VersionedModel, _Period):
    """A manager's figure for a whole team and period (issue #17 part 3, team level), kept beside the sum of
    the team's reps' forecasts (which it never changes). Who may read or write it follows the rep-level
    adjustments' scope: every member of the team must be inside it (services/forecast.py)."""

    team = models.ForeignKey("core.Team", verbose_name=_("team"), on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("manager's team forecast"), max_digits=16, decimal_places=2)
    note = models.CharField(_("manager's note"), max_length=500, blank=True)
    adjusted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("adjusted by"),
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        null=True,
    )

    class Meta:
        verbose_name = _("team forecast adjustment")
        verbose_name_plural = _("team forecast adjustments")
        constraints = [
            models.UniqueConstraint(
                fields=["team", "period_kind", "year", "period_number"], name="uq_team_forecast_adjustment"
            )
        ]

    def __str__(self) -> str:
        return f"{self.team} {self.year}/{self.period_kind}{self.period_number or ''}"


class ForecastSnapshot(_Period):
    week = models.DateField(_("week of"))  # the Monday of the ISO week the figures were taken in
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales rep"), on_delete=models.CASCADE, related_name="+"
    )
    taken_at = models.DateTimeField(_("taken at"))
    pipeline = models.DecimalField(_("pipeline"), max_digits=16, decimal_places=2, default=ZERO)
    weighted = models.DecimalField(_("weighted pipeline"), max_digits=16, decimal_places=2, default=ZERO)
    best_case = models.DecimalField(_("best case"), max_digits=16, decimal_places=2, default=ZERO)
    commit = models.DecimalField(_("commit"), max_digits=16, decimal_places=2, default=ZERO)
    won = models.DecimalField(_("won"), max_digits=16, decimal_places=2, default=ZERO)
    adjusted = models.DecimalField(
        _("manager's forecast"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    target = models.DecimalField(_("target"), max_digits=16, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("forecast snapshot")
        verbose_name_plural = _("forecast snapshots")
        constraints = [
            models.UniqueConstraint(
                fields=["week", "rep", "period_kind", "year", "period_number"], name="uq_forecast_snapshot"
            )
        ]
        indexes = [
            models.Index(fields=["period_kind", "year", "period_number", "week"], name="ix_fsnap_period")
        ]

    def __str__(self) -> str:
        return f"{self.rep} {self.week}"
