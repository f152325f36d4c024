"""KPIs and the balanced scorecard (issue #11, item 6; ADR 0011 § scorecard).

A KPI is computed from the records by a built-in metric (kehu.analytics.kpis) or entered per period; targets
and entered values are per period (month / quarter / year) and per unit (the company, or one department);
cause → effect links join KPIs across the four perspectives. Relationship costs are entered records (split
into acquire / retain / develop, optionally per campaign); CRM initiatives carry cash flows per period for
ROI, NPV and IRR (kehu.analytics.finance). All are configuration written through the record service (audited,
versioned), not derived data."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.models import VersionedModel

from .periods import PeriodType, period_of


class Perspective(models.TextChoices):
    FINANCIAL = "financial", _("Financial")
    CUSTOMER = "customer", _("Customer")
    PROCESS = "process", _("Internal process")
    LEARNING = "learning", _("Learning and growth")


class KpiSource(models.TextChoices):
    METRIC = "metric", _("Computed from the records")
    MANUAL = "manual", _("Entered per period")


class KpiUnit(models.TextChoices):
    MONEY = "money", _("Money")
    COUNT = "count", _("Count")
    PERCENT = "percent", _("Percent")
    HOURS = "hours", _("Hours")
    NUMBER = "number", _("Number")


class Rollup(models.TextChoices):
    """How entered monthly (quarterly) values make a quarter's or a year's when none was entered for it."""

    BY_UNIT = "", _("By unit: sum of money, counts and hours; average of percentages and numbers")
    SUM = "sum", _("Sum of the periods")
    AVERAGE = "average", _("Average of the periods")
    LAST = "last", _("Value of the last period")


#: the rule of `Rollup.BY_UNIT`: flows add up, levels and ratios average
ROLLUP_BY_UNIT = {
    KpiUnit.MONEY: Rollup.SUM,
    KpiUnit.COUNT: Rollup.SUM,
    KpiUnit.HOURS: Rollup.SUM,
    KpiUnit.PERCENT: Rollup.AVERAGE,
    KpiUnit.NUMBER: Rollup.AVERAGE,
}


class Kpi(VersionedModel):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    perspective = models.CharField(_("perspective"), max_length=10, choices=Perspective.choices)
    source = models.CharField(_("source"), max_length=6, choices=KpiSource.choices, default=KpiSource.METRIC)
    #: a built-in metric key of kehu.analytics.kpis.METRICS (when source = metric)
    metric = models.CharField(_("metric"), max_length=30, blank=True)
    unit = models.CharField(_("unit"), max_length=8, choices=KpiUnit.choices, default=KpiUnit.NUMBER)
    higher_is_better = models.BooleanField(_("higher is better"), default=True)
    rollup = models.CharField(
        _("roll-up of entered values"),
        max_length=8,
        choices=Rollup.choices,
        default=Rollup.BY_UNIT,
        blank=True,
        help_text=_(
            "A quarter or a year without an entered value of its own takes the entered months (quarters) this way."
        ),
    )
    tolerance = models.DecimalField(
        _("tolerance (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("10"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("Within this distance of the target the status is amber, beyond it red."),
    )
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("KPI")
        verbose_name_plural = _("KPIs")
        ordering = ["perspective", "position", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("analytics:scorecard_kpi_detail", args=[self.pk])

    @property
    def rollup_rule(self) -> str:
        """sum, average or last: the KPI's own choice, else by its unit."""
        return self.rollup or ROLLUP_BY_UNIT.get(self.unit, Rollup.AVERAGE)

    def clean(self) -> None:
        from .kpis import METRICS

        if self.source == KpiSource.METRIC:
            if self.metric not in METRICS:
                raise ValidationError({"metric": _("Choose a built-in metric for a computed KPI.")})
        else:
            self.metric = ""


class _PerPeriod(VersionedModel):
    """A value of one KPI for one period (month, quarter or year) and one unit (company or department)."""

    kpi = models.ForeignKey(Kpi, verbose_name=_("KPI"), on_delete=models.CASCADE, related_name="+")
    period_type = models.CharField(
        _("period"), max_length=7, choices=PeriodType.choices, default=PeriodType.QUARTER
    )
    period_start = models.DateField(
        _("period start"), help_text=_("Any day of the period; stored as its first day.")
    )
    department = models.ForeignKey(
        "core.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Empty: the whole company."),
    )

    class Meta:
        abstract = True

    def clean(self) -> None:
        if self.period_start:
            self.period_start = period_of(self.period_type, self.period_start).start
            clash = (
                type(self)
                ._default_manager.filter(
                    kpi_id=self.kpi_id,
                    period_type=self.period_type,
                    period_start=self.period_start,
                    department_id=self.department_id,
                )
                .exclude(pk=self.pk)
            )
            if self.kpi_id and clash.exists():
                raise ValidationError(_("There is already a row for this KPI, period and unit."))

    @property
    def period(self):
        return period_of(self.period_type, self.period_start)


class KpiTarget(_PerPeriod):
    target = models.DecimalField(_("target"), max_digits=18, decimal_places=4)

    class Meta:
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")
        ordering = ["kpi", "-period_start", "id"]
        indexes = [models.Index(fields=["kpi", "period_type", "period_start"], name="ix_kpitarget_period")]

    def __str__(self) -> str:
        return f"{self.kpi} {self.period.label}: {self.target}"

    def get_absolute_url(self) -> str:
        return reverse("analytics:scorecard_kpi_detail", args=[self.kpi_id])


class KpiValue(_PerPeriod):
    """An entered actual (market share, cost reduction, training hours …) for a manual KPI."""

    value = models.DecimalField(_("value"), max_digits=18, decimal_places=4)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("KPI value")
        verbose_name_plural = _("KPI values")
        ordering = ["kpi", "-period_start", "id"]
        indexes = [models.Index(fields=["kpi", "period_type", "period_start"], name="ix_kpivalue_period")]

    def __str__(self) -> str:
        return f"{self.kpi} {self.period.label}: {self.value}"

    def get_absolute_url(self) -> str:
        return reverse("analytics:scorecard_kpi_detail", args=[self.kpi_id])


class KpiLink(VersionedModel):
    """Cause → effect: improving `cause` is expected to move `effect` (learning → process → customer → money)."""

    cause = models.ForeignKey(Kpi, verbose_name=_("cause"), on_delete=models.CASCADE, related_name="effects")
    effect = models.ForeignKey(Kpi, verbose_name=_("effect"), on_delete=models.CASCADE, related_name="causes")
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("KPI link")
        verbose_name_plural = _("KPI links")
        ordering = ["cause", "effect"]
        constraints = [models.UniqueConstraint(fields=["cause", "effect"], name="uq_kpilink_pair")]

    def __str__(self) -> str:
        return f"{self.cause} → {self.effect}"

    def get_absolute_url(self) -> str:
        return reverse("analytics:scorecard_links")

    def clean(self) -> None:
        if self.cause_id and self.cause_id == self.effect_id:
            raise ValidationError(_("A KPI cannot be its own cause."))


class CostCategory(models.TextChoices):
    ACQUIRE = "acquire", _("Acquiring new customers")
    RETAIN = "retain", _("Retaining existing customers")
    DEVELOP = "develop", _("Developing existing customers")
    COST_OF_SALES = "cost_of_sales", _("Cost of goods sold")
    OPERATING = "operating", _("Other operating cost")


#: the three relationship cost categories of the seeds (获得 / 维持 / 发展)
RELATIONSHIP_COSTS = (CostCategory.ACQUIRE, CostCategory.RETAIN, CostCategory.DEVELOP)


class CostKind(models.TextChoices):
    DIRECT = "direct", _("Direct")
    QUASI_DIRECT = "quasi", _("Quasi-direct")
    INDIRECT = "indirect", _("Indirect")


class CostEntry(VersionedModel):
    """A cost incurred on one day: relationship costs (acquire / retain / develop) and the cost of sales that
    turns revenue into profit. The sums per period come from SQL (kpis.costs)."""

    date = models.DateField(_("date"))
    category = models.CharField(_("category"), max_length=14, choices=CostCategory.choices)
    kind = models.CharField(_("cost type"), max_length=8, choices=CostKind.choices, default=CostKind.DIRECT)
    amount = models.DecimalField(
        _("amount"), max_digits=16, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    campaign = models.CharField(_("campaign"), max_length=120, blank=True)
    department = models.ForeignKey(
        "core.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: the whole company."),
    )
    description = models.CharField(_("description"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("cost entry")
        verbose_name_plural = _("cost entries")
        ordering = ["-date", "-id"]
        indexes = [models.Index(fields=["date", "category"], name="ix_costentry_date")]

    def __str__(self) -> str:
        return f"{self.date} {self.get_category_display()} {self.amount} {self.currency}"

    def get_absolute_url(self) -> str:
        return reverse("analytics:scorecard_cost_edit", args=[self.pk])


class CashFlowSource(models.TextChoices):
    ENTERED = "entered", _("Entered per period")
    DERIVED = "derived", _("Entered costs plus the gain of a KPI over its baseline")


class PracticeStage(models.TextChoices):
    """The CRM practice loop (seeds: 资源评估和优化 → 客户群体划分 → 关系策略设计 → 策略执行 → 实践评估)."""

    RESOURCES = "resources", _("Evaluate and optimise resources")
    SEGMENTATION = "segmentation", _("Segment customers")
    STRATEGY = "strategy", _("Design relationship strategies")
    EXECUTION = "execution", _("Execute strategies")
    EVALUATION = "evaluation", _("Evaluate the practice")


class InitiativeStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    APPROVED = "approved", _("Approved")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    DROPPED = "dropped", _("Dropped")


class Initiative(VersionedModel):
    """A CRM initiative (a project, a programme, one of the company's own CRM practice activities): its money
    flows per period are judged by ROI, NPV and IRR (the scorecard), and the same flows rank it among the other
    initiatives by NBA's benefit index (E − C) / C, with E and C the discounted benefits and costs
    (`scorecard.evaluate_initiative`, `selectors_nba.initiative_ranking`). One model since ADR 0011 §anfix:
    NBA's former `CrmInitiative` (one expected effect and cost) became an initiative with one period."""

    name = models.CharField(_("name"), max_length=160)
    stage = models.CharField(
        _("practice stage"), max_length=14, choices=PracticeStage.choices, default=PracticeStage.EXECUTION
    )
    status = models.CharField(
        _("status"), max_length=10, choices=InitiativeStatus.choices, default=InitiativeStatus.PROPOSED
    )
    description = models.TextField(_("description"), blank=True)
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    start = models.DateField(_("first period"), help_text=_("Any day of the first period (period 0)."))
    period_type = models.CharField(
        _("period"), max_length=7, choices=PeriodType.choices, default=PeriodType.QUARTER
    )
    discount_rate = models.DecimalField(
        _("annual discount rate (%)"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("8"),
        validators=[MinValueValidator(Decimal("-99")), MaxValueValidator(Decimal("1000"))],
    )
    source = models.CharField(
        _("cash flows"), max_length=8, choices=CashFlowSource.choices, default=CashFlowSource.ENTERED
    )
    kpi = models.ForeignKey(
        Kpi,
        verbose_name=_("benefit KPI"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Derived cash flows: the KPI's gain over the baseline, times the margin, is an inflow."),
    )
    baseline = models.DecimalField(_("baseline"), max_digits=18, decimal_places=4, null=True, blank=True)
    margin = models.DecimalField(
        _("margin (%)"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("100"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    periods = models.PositiveSmallIntegerField(
        _("periods"), default=8, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )

    class Meta:
        verbose_name = _("CRM initiative")
        verbose_name_plural = _("CRM initiatives")
        ordering = ["-start", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("analytics:scorecard_initiative", args=[self.pk])

    def clean(self) -> None:
        if self.start:
            self.start = period_of(self.period_type, self.start).start
        if self.source == CashFlowSource.DERIVED and (self.kpi_id is None or self.baseline is None):
            raise ValidationError(_("Derived cash flows need a benefit KPI and its baseline."))

    @property
    def first_period(self):
        return period_of(self.period_type, self.start)


class InitiativeCashFlow(VersionedModel):
    initiative = models.ForeignKey(
        Initiative, verbose_name=_("CRM initiative"), on_delete=models.CASCADE, related_name="cash_flows"
    )
    period_index = models.PositiveSmallIntegerField(
        _("period number"), help_text=_("0 is the first period."), validators=[MaxValueValidator(119)]
    )
    outflow = models.DecimalField(
        _("outflow (cost)"),
        max_digits=16,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    inflow = models.DecimalField(
        _("inflow (benefit)"),
        max_digits=16,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("cash flow")
        verbose_name_plural = _("cash flows")
        ordering = ["initiative", "period_index"]
        constraints = [
            models.UniqueConstraint(fields=["initiative", "period_index"], name="uq_cashflow_period")
        ]

    def __str__(self) -> str:
        return f"{self.initiative} #{self.period_index}"

    def get_absolute_url(self) -> str:
        return reverse("analytics:scorecard_initiative", args=[self.initiative_id])

    @property
    def period(self):
        start = self.initiative.first_period
        return start.shift(self.period_index) if start else None


def _register() -> None:
    """Secured configuration records (ownerless: a role's grant on each decides who may define KPIs, enter
    targets, values, costs and initiatives). Registered when the models load, so the analytics app's ready()
    needs no change; the responsible user is chosen on purpose (assigned). No field offers a field-level
    restriction (`fields=()`): these are the company's scorecard definitions, shown whole to whoever may see
    the scorecard, not personal data."""
    from kehu.core import registry

    url = lambda o: o.get_absolute_url()  # noqa: E731
    registry.register(Kpi, owner_field=None, assigned=("responsible",), url=url, fields=())
    registry.register(KpiTarget, owner_field=None, nav=False, fields=())
    registry.register(KpiValue, owner_field=None, nav=False, fields=())
    registry.register(KpiLink, owner_field=None, nav=False, fields=())
    registry.register(CostEntry, owner_field=None, nav=False, fields=())
    registry.register(Initiative, owner_field=None, assigned=("responsible",), url=url, fields=())
    registry.register(InitiativeCashFlow, owner_field=None, via="initiative", nav=False, fields=())


_register()
