"""Sales plans (targets): a company plan per period, its targets per node (company, department, team, rep)
and product line, allocated top-down and rolled up bottom-up (ADR 0014).

A target's `parent` is the target it was allocated from; the children of one parent add up to it exactly
(amount and units), which `services.plans` guarantees under the plan's row lock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.models import VersionedModel

ZERO = Decimal("0")


class PeriodKind(models.TextChoices):
    YEAR = "year", _("Year")
    QUARTER = "quarter", _("Quarter")
    MONTH = "month", _("Month")


class ActualsSource(models.TextChoices):
    WON = "won", _("Won opportunities")
    PAID = "paid", _("Paid orders")
    #: payments received on contracts (回款) marked "counts towards targets", by the contract's owner; amounts only
    #: (a payment has no product line: per-line targets get no actuals from this source)
    PAYMENTS = "payments", _("Payments received")


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    CLOSED = "closed", _("Closed")


class PlanLevel(models.TextChoices):
    COMPANY = "company", _("Company")
    DEPARTMENT = "department", _("Department")
    TEAM = "team", _("Team")
    REP = "rep", _("Sales rep")


LEVEL_ORDER = [PlanLevel.COMPANY, PlanLevel.DEPARTMENT, PlanLevel.TEAM, PlanLevel.REP]


def period_bounds(kind: str, year: int, number: int) -> tuple[dt.date, dt.date]:
    """First day and the day after the last day of a period (half-open)."""
    if kind == PeriodKind.YEAR:
        return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    months = 3 if kind == PeriodKind.QUARTER else 1
    first_month = (number - 1) * months + 1
    start = dt.date(year, first_month, 1)
    end_month = first_month + months
    end = dt.date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return start, end


def previous_period(kind: str, year: int, number: int) -> tuple[int, int]:
    if kind == PeriodKind.YEAR:
        return year - 1, 0
    last = 4 if kind == PeriodKind.QUARTER else 12
    return (year, number - 1) if number > 1 else (year - 1, last)


class SalesPlan(VersionedModel):
    name = models.CharField(_("name"), max_length=120)
    period_kind = models.CharField(
        _("period"), max_length=8, choices=PeriodKind.choices, default=PeriodKind.YEAR
    )
    year = models.PositiveSmallIntegerField(
        _("year"), validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    period_number = models.PositiveSmallIntegerField(
        _("quarter or month"), default=0, help_text=_("1–4 for a quarter, 1–12 for a month, 0 for a year")
    )
    start_date = models.DateField(_("starts"), editable=False)
    end_date = models.DateField(_("ends before"), editable=False)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    actuals_source = models.CharField(
        _("actuals from"), max_length=10, choices=ActualsSource.choices, default=ActualsSource.WON
    )
    status = models.CharField(
        _("status"), max_length=8, choices=PlanStatus.choices, default=PlanStatus.DRAFT, editable=False
    )
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("sales plan")
        verbose_name_plural = _("sales plans")
        ordering = ["-year", "period_kind", "-period_number"]
        unique_together = [("period_kind", "year", "period_number")]  # validate_unique: a 400, not a 500

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("salesmgmt:plan", args=[self.pk])

    @property
    def period_label(self) -> str:
        if self.period_kind == PeriodKind.YEAR:
            return str(self.year)
        if self.period_kind == PeriodKind.QUARTER:
            return f"{self.year} Q{self.period_number}"
        return f"{self.year}-{self.period_number:02d}"

    @property
    def is_closed(self) -> bool:
        return self.status == PlanStatus.CLOSED

    def clean(self) -> None:
        limits = {PeriodKind.YEAR: (0, 0), PeriodKind.QUARTER: (1, 4), PeriodKind.MONTH: (1, 12)}
        low, high = limits.get(self.period_kind, (0, 0))
        if self.period_kind == PeriodKind.YEAR:
            self.period_number = 0
        if self.period_number is None or not low <= self.period_number <= high:
            raise ValidationError(
                {
                    "period_number": _("Between %(low)s and %(high)s for this period.")
                    % {"low": low, "high": high}
                }
            )
        if self.year is not None and 2000 <= self.year <= 2100:
            self.start_date, self.end_date = period_bounds(self.period_kind, self.year, self.period_number)
        self.currency = (self.currency or "").upper()


class PlanTarget(VersionedModel):
    """One figure of a plan: a node (company, department, team or rep) for one product line (or all)."""

    plan = models.ForeignKey(
        SalesPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="targets"
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("allocated from"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        editable=False,
    )
    level = models.CharField(_("level"), max_length=10, choices=PlanLevel.choices, editable=False)
    department = models.ForeignKey(
        "core.Department", verbose_name=_("department"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", editable=False,
    )  # fmt: skip
    team = models.ForeignKey(
        "core.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        editable=False,
    )  # fmt: skip
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales rep"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", editable=False,
    )  # fmt: skip
    product_line = models.ForeignKey(
        "products.ProductCategory", verbose_name=_("product line"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+", editable=False,
    )  # fmt: skip
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, default=ZERO)
    units = models.DecimalField(_("units"), max_digits=14, decimal_places=3, default=ZERO)
    #: "company", "department:3", "team:5", "rep:7" plus "|<product line id or *>": one row per node and line
    key = models.CharField(max_length=80, editable=False)

    class Meta:
        verbose_name = _("plan target")
        verbose_name_plural = _("plan targets")
        ordering = ["plan", "id"]
        unique_together = [("plan", "key")]
        indexes = [models.Index(fields=["plan", "parent"], name="ix_plantarget_parent")]

    def __str__(self) -> str:
        return f"{self.node_label} {self.line_label}".strip()

    @property
    def node_label(self) -> str:
        if self.level == PlanLevel.COMPANY:
            return str(_("Company"))
        return str(self.department or self.team or self.rep or "")

    @property
    def line_label(self) -> str:
        return str(self.product_line) if self.product_line_id else ""

    def clean(self) -> None:
        errors = {}
        if self.amount is None or self.amount < 0:
            errors["amount"] = _("A target cannot be negative.")
        if self.units is None or self.units < 0:
            errors["units"] = _("A target cannot be negative.")
        if errors:
            raise ValidationError(errors)
