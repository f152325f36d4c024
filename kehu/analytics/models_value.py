"""Value segments by CLV with a relationship strategy each, and churn risk (issue #11 items 3 and 4).

The CRM practice loop of the seeds — evaluate → segment by CLV → design strategies → execute → evaluate →
repeat — as data: every scoring run segments the customers by CLV (`CustomerValue`, the current segment and
churn risk of each customer), keeps a snapshot of the segments at the start of a cycle (`ValueSnapshot`) and a
summary with the strategies then in force (`ValueCycle`), so the loop page can show what happened next.
Like the scores, these rows are derived data written in bulk by the run and never audited per row; the
strategies and settings are edited by administrators (audited, optimistic locking)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.core.models import VersionedModel


class ValueSegment(models.TextChoices):
    TOP = "top", pgettext_lazy("value segment", "Most valuable")
    CORE = "core", pgettext_lazy("value segment", "Core")
    STANDARD = "standard", pgettext_lazy("value segment", "Standard")
    BELOW_ZERO = "below_zero", pgettext_lazy("value segment", "Below zero")


class ChurnModel(models.TextChoices):
    LOGISTIC = "logistic", _("Logistic regression on history")
    P_ALIVE = "p_alive", _("BG/NBD probability active (fallback)")


class ValueSettings(VersionedModel):
    """One row (pk 1): the CLV cut points, the margin estimate and the churn settings."""

    top_share = models.FloatField(
        _("most valuable: top share of customers"),
        default=0.20,
        validators=[MinValueValidator(0.01), MaxValueValidator(0.99)],
        help_text=_("E.g. 0.2: the fifth of customers with the highest CLV."),
    )
    core_share = models.FloatField(
        _("core: the next share of customers"),
        default=0.30,
        validators=[MinValueValidator(0.0), MaxValueValidator(0.99)],
        help_text=_("E.g. 0.3: the next 30 percent by CLV. The rest are standard customers."),
    )
    margin_rate = models.FloatField(
        _("gross margin rate"),
        default=1.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_("Share of net revenue that is gross margin (1 = count revenue as margin)."),
    )
    cost_per_ticket = models.DecimalField(
        _("cost to serve per ticket"),
        max_digits=12,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0)],
        help_text=_("Customers whose margin minus service cost is below zero form the below-zero segment."),
    )
    churn_period_days = models.PositiveIntegerField(
        _("churn period (days)"),
        default=90,
        validators=[MinValueValidator(14), MaxValueValidator(730)],
        help_text=_(
            "A customer has churned when they buy nothing for this long; also the length of a cycle."
        ),
    )
    at_risk_threshold = models.FloatField(
        _("at-risk threshold"),
        default=0.5,
        validators=[MinValueValidator(0.05), MaxValueValidator(0.99)],
        help_text=_("Customers with a churn risk at or above this are on the at-risk list."),
    )

    class Meta:
        verbose_name = _("value settings")
        verbose_name_plural = _("value settings")

    def __str__(self) -> str:
        return str(_("Value settings"))

    def clean(self) -> None:
        if self.top_share + self.core_share >= 1.0:
            raise ValidationError({"core_share": _("The two shares together must stay below 1.")})

    @classmethod
    def current(cls) -> ValueSettings:
        obj = cls.objects.filter(pk=1).first()
        return obj if obj is not None else cls(pk=1)


class RelationshipStrategy(VersionedModel):
    """What a value segment gets: a service level, contact and visit rhythm, campaign eligibility."""

    segment = models.CharField(_("value segment"), max_length=12, choices=ValueSegment.choices, unique=True)
    description = models.TextField(_("strategy"), blank=True)
    sla_policy = models.ForeignKey(
        "service.SlaPolicy",
        verbose_name=_("service level (SLA policy)"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Applies to the segment's tickets where no service contract sets a policy."),
    )
    contact_every_days = models.PositiveIntegerField(
        _("contact every (days)"), null=True, blank=True, validators=[MaxValueValidator(3650)]
    )
    visit_every_days = models.PositiveIntegerField(
        _("visit every (days)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(3650)],
        help_text=_("Account coverage for sales; empty: no planned visits."),
    )
    campaign_eligible = models.BooleanField(_("eligible for campaigns"), default=True)

    class Meta:
        verbose_name = _("relationship strategy")
        verbose_name_plural = _("relationship strategies")
        ordering = ["segment"]

    def __str__(self) -> str:
        return str(self.get_segment_display())

    def summary(self) -> dict:
        return {
            "segment": self.segment,
            "description": self.description,
            "sla_policy": self.sla_policy_id,
            "sla_policy_name": self.sla_policy.name if self.sla_policy_id else "",
            "contact_every_days": self.contact_every_days,
            "visit_every_days": self.visit_every_days,
            "campaign_eligible": self.campaign_eligible,
        }


class CustomerValue(models.Model):
    """The current value segment and churn risk of a customer with purchases (replaced by every run)."""

    customer = models.OneToOneField(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="analytics_value",
    )
    #: no database constraint and no index (migration 0008): a run's rows all point at it (ADR 0011)
    run = models.ForeignKey(
        "analytics.ScoringRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    #: one plain index (ix_value_segment; no LIKE index: migration 0008)
    segment = models.CharField(_("value segment"), max_length=12, choices=ValueSegment.choices)
    clv_rank = models.PositiveIntegerField(_("CLV rank"))
    margin = models.DecimalField(_("estimated margin"), max_digits=18, decimal_places=2)
    churn_risk = models.FloatField(_("churn risk"))
    churn_model = models.CharField(_("churn model"), max_length=10, choices=ChurnModel.choices)
    #: [[reason code, contribution], …] strongest first; labels in churn.REASONS
    churn_reasons = models.JSONField(_("churn reasons"), default=list, blank=True)
    computed_at = models.DateTimeField(_("computed"))

    class Meta:
        verbose_name = _("customer value segment")
        verbose_name_plural = _("customer value segments")
        ordering = ["clv_rank"]
        indexes = [
            models.Index(fields=["churn_risk"], name="ix_value_churn"),
            models.Index(fields=["segment"], name="ix_value_segment"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.segment}"


class ValueCycle(models.Model):
    """One turn of the practice loop as recorded by a scoring run: settings, strategies in force, segment
    figures, the churn model's report. `cycle_start` runs keep their per-customer snapshot."""

    run = models.OneToOneField("analytics.ScoringRun", on_delete=models.CASCADE, related_name="value_cycle")
    as_of = models.DateField(_("as of"))
    cycle_start = models.BooleanField(_("start of a cycle"), default=False)
    settings = models.JSONField(default=dict, blank=True)
    strategies = models.JSONField(default=dict, blank=True)
    segments = models.JSONField(default=dict, blank=True)
    churn = models.JSONField(default=dict, blank=True)
    pareto = models.JSONField(default=dict, blank=True)
    messages = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("value cycle")
        verbose_name_plural = _("value cycles")
        ordering = ["-as_of", "-run_id"]

    def __str__(self) -> str:
        return str(self.as_of)


class ValueSnapshot(models.Model):
    """A customer's value segment at a cycle's start (kept for cycle starts and the latest run)."""

    #: no database constraint (migration 0008): the cycle's rows are written with it in one statement
    cycle = models.ForeignKey(
        ValueCycle, on_delete=models.CASCADE, related_name="snapshot", db_constraint=False
    )
    customer_id = models.BigIntegerField()
    segment = models.CharField(max_length=12, choices=ValueSegment.choices)
    clv = models.DecimalField(max_digits=18, decimal_places=2)
    monetary = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        verbose_name = _("value snapshot")
        verbose_name_plural = _("value snapshots")
        constraints = [models.UniqueConstraint(fields=["cycle", "customer_id"], name="uniq_value_snapshot")]

    def __str__(self) -> str:
        return f"{self.cycle_id}: {self.customer_id} {self.segment}"
