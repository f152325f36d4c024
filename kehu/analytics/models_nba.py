"""Next Best Activity (NBA, issue #11 item 5, ADR 0011 §NBA): the catalogue of actions, the ranked
recommendations of the last NBA run, the taken/ignored decisions with their tracked outcomes, the per action and
RFM segment calibration learnt from those outcomes. The company's own CRM initiatives, ranked the same way, are
the scorecard's `Initiative` (models_scorecard; PracticeStage and InitiativeStatus are re-exported here).

Benefit index = (E − C) / max(C, minimum cost): E is the expected effect (money), C the expected cost (channel +
staff + incentive). See kehu/analytics/nba.py for the maths and services_nba.py for the use cases."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.core.models import VersionedModel

from .models_scorecard import InitiativeStatus, PracticeStage

ZERO = Decimal("0")

__all__ = [
    "ActionKind", "ValueBasis", "NbaAction", "NbaRun", "RecommendationState", "NbaRecommendation", "Decision",
    "Outcome", "NbaDecision", "NbaCalibration", "PracticeStage", "InitiativeStatus",
]  # fmt: skip


class ActionKind(models.TextChoices):
    CALL = "call", pgettext_lazy("NBA action", "Call")
    VISIT = "visit", pgettext_lazy("NBA action", "Visit")
    OFFER = "offer", _("Offer / coupon")
    CARE = "care", _("Care message")
    CROSS_SELL = "cross_sell", _("Upsell / cross-sell")
    SERVICE_CHECK = "service_check", _("Service check")
    WIN_BACK = "win_back", _("Win-back")


class ValueBasis(models.TextChoices):
    """What the action is worth when the customer responds (the base of E)."""

    SPEND = "spend", _("Expected spend per purchase")
    CLV = "clv", _("Customer lifetime value")
    AT_RISK = "at_risk", _("Value at risk (CLV × (1 − P(alive)))")
    PRODUCT = "product", _("Price of the product the customer lacks")


class NbaAction(VersionedModel):
    """One action of the catalogue, edited by administrators through the record service (audited, locked)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=ActionKind.choices)
    #: the interaction channel the action is carried out through (counts towards the contact rule)
    channel = models.CharField(_("channel"), max_length=10)
    #: the consent channel the customer must have granted ("" = none needed, e.g. a service visit)
    consent_channel = models.CharField(_("consent needed"), max_length=8, blank=True)
    channel_cost = models.DecimalField(
        _("channel cost"), max_digits=12, decimal_places=2, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    staff_cost = models.DecimalField(
        _("staff cost"), max_digits=12, decimal_places=2, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    incentive_cost = models.DecimalField(
        _("incentive cost (coupon, gift)"),
        max_digits=12,
        decimal_places=2,
        default=ZERO,
        validators=[MinValueValidator(ZERO)],
    )
    value_basis = models.CharField(_("value basis"), max_length=8, choices=ValueBasis.choices)
    value_share = models.FloatField(
        _("share of the value realised"),
        default=1.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(10.0)],
        help_text=_(
            "E = response rate × share × value basis (× P(alive) unless the basis is value at risk)."
        ),
    )
    default_value = models.DecimalField(
        _("value without a score"),
        max_digits=12,
        decimal_places=2,
        default=ZERO,
        validators=[MinValueValidator(ZERO)],
        help_text=_("The value basis assumed for customers who have no score yet (no purchases)."),
    )
    prior_rate = models.FloatField(
        _("prior response rate"),
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
    )
    prior_strength = models.FloatField(
        _("prior strength (pseudo-decisions)"),
        default=20.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(100000.0)],
        help_text=_("How many observed decisions weigh as much as the prior when calibrating."),
    )
    #: eligibility: RFM segment codes and lifecycle stages (empty = any); service check and cross-sell
    #: have built-in conditions (installed base or tickets; a product the customer lacks)
    segments = models.JSONField(_("RFM segments"), default=list, blank=True)
    stages = models.JSONField(_("lifecycle stages"), default=list, blank=True)
    max_p_alive = models.FloatField(
        _("only when P(alive) at most"),
        default=1.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
    )
    window_days = models.PositiveSmallIntegerField(
        _("outcome window (days)"), default=30, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    product = models.ForeignKey(
        "products.Product",
        verbose_name=_("product offered"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Cross-sell: this product; empty = the best-selling product the customer lacks."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("NBA action")
        verbose_name_plural = _("NBA actions")
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("analytics:nba_action_edit", args=[self.pk])

    @property
    def channel_label(self) -> str:
        from kehu.interactions.models import InteractionChannel

        return str(dict(InteractionChannel.choices).get(self.channel, self.channel))

    @property
    def cost(self) -> Decimal:
        return self.channel_cost + self.staff_cost + self.incentive_cost

    def clean(self) -> None:
        from kehu.customers.models import Channel, Stage
        from kehu.interactions.models import InteractionChannel

        from .rfm import Segment

        errors = {}
        if self.channel not in InteractionChannel.values:
            errors["channel"] = _("Choose an interaction channel.")
        if self.consent_channel and self.consent_channel not in Channel.values:
            errors["consent_channel"] = _("Choose a consent channel or leave it empty.")
        if not isinstance(self.segments, list) or set(map(str, self.segments)) - set(Segment.values):
            errors["segments"] = _("Unknown RFM segment.")
        if not isinstance(self.stages, list) or set(map(str, self.stages)) - set(Stage.values):
            errors["stages"] = _("Unknown lifecycle stage.")
        if errors:
            raise ValidationError(errors)


class NbaRun(models.Model):
    """One NBA run: outcomes closed, calibration refreshed, every customer ranked. Derived data like scoring
    runs: one audit entry per run, not per recommendation."""

    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customers = models.PositiveIntegerField(_("customers ranked"), default=0)
    recommendations = models.PositiveIntegerField(_("recommendations"), default=0)
    outcomes_closed = models.PositiveIntegerField(_("outcomes closed"), default=0)
    messages = models.JSONField(default=list, blank=True)
    timings = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("NBA run")
        verbose_name_plural = _("NBA runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"NBA {self.started_at:%Y-%m-%d %H:%M}"


class RecommendationState(models.TextChoices):
    OPEN = "open", _("Open")
    TAKEN = "taken", _("Taken")
    IGNORED = "ignored", _("Ignored")


class NbaRecommendation(models.Model):
    """A ranked action for one customer (the best few per customer, written in bulk by an NBA run)."""

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    action = models.ForeignKey(
        NbaAction, verbose_name=_("action"), on_delete=models.CASCADE, related_name="+"
    )
    product = models.ForeignKey(
        "products.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.ForeignKey(NbaRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rank = models.PositiveSmallIntegerField(_("rank"))
    state = models.CharField(
        _("state"), max_length=8, choices=RecommendationState.choices, default=RecommendationState.OPEN
    )
    response_rate = models.FloatField(_("response rate"))
    expected_effect = models.DecimalField(_("expected effect E"), max_digits=16, decimal_places=2)
    expected_cost = models.DecimalField(_("expected cost C"), max_digits=12, decimal_places=2)
    benefit_index = models.FloatField(_("benefit index"))
    computed_at = models.DateTimeField(_("computed"))
    #: the customer's owner, copied so that a rep's worklist can enter the index at the rep's own rows (ADR 0011,
    #: an11); written by the NBA run and kept current by a database trigger on the customer's owner. Never used
    #: for access: the worklist applies the scope selector too, this only narrows the walk.
    customer_owner_id = models.BigIntegerField(_("customer's owner"), null=True, editable=False)
    #: the customer's consent for the action's channel as of now (the run ranks consented actions only; a
    #: withdrawal later clears it through the same trigger's sibling on `consent`) — also only a narrowing: the
    #: worklist checks the consent itself too
    consent_ok = models.BooleanField(_("consent given"), default=True, editable=False)

    class Meta:
        verbose_name = _("NBA recommendation")
        verbose_name_plural = _("NBA recommendations")
        ordering = ["customer", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "action"], name="uniq_nba_customer_action"),
        ]
        indexes = [
            models.Index(fields=["customer", "rank"], name="ix_nba_customer_rank"),
            # the worklist: the open best action per customer, best benefit first
            models.Index(fields=["rank", "state", "-benefit_index"], name="ix_nba_worklist"),
            # a rep's worklist: their customers' eligible rows in benefit order, however few they are among all
            models.Index(
                fields=["customer_owner_id", "-benefit_index", "customer"],
                name="ix_nba_owner_worklist",
                condition=models.Q(rank=1, state="open", benefit_index__gt=0, consent_ok=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.action_id} #{self.rank}"


class Decision(models.TextChoices):
    TAKEN = "taken", _("Taken")
    IGNORED = "ignored", _("Ignored")


class Outcome(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCESS = "success", _("Success")
    NO_RESPONSE = "none", _("No response")
    NOT_TRACKED = "n/a", _("Not tracked")


class NbaDecision(models.Model):
    """A rep's taken/ignored decision on a recommendation, with what was expected then and, for a taken action,
    the outcome tracked over the action's window (an order or an inbound interaction of the customer)."""

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    action = models.ForeignKey(
        NbaAction, verbose_name=_("action"), on_delete=models.PROTECT, related_name="decisions"
    )
    decision = models.CharField(_("decision"), max_length=8, choices=Decision.choices)
    segment = models.CharField(_("RFM segment"), max_length=20, blank=True)
    expected_effect = models.DecimalField(_("expected effect E"), max_digits=16, decimal_places=2)
    expected_cost = models.DecimalField(_("expected cost C"), max_digits=12, decimal_places=2)
    benefit_index = models.FloatField(_("benefit index"))
    response_rate = models.FloatField(_("response rate"))
    decided_at = models.DateTimeField(_("decided"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    window_ends = models.DateTimeField(_("window ends"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    outcome = models.CharField(_("outcome"), max_length=8, choices=Outcome.choices, default=Outcome.PENDING)
    realised_effect = models.DecimalField(
        _("realised effect"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    outcome_at = models.DateTimeField(_("outcome recorded"), null=True, blank=True)

    class Meta:
        verbose_name = _("NBA decision")
        verbose_name_plural = _("NBA decisions")
        ordering = ["-decided_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "action", "-window_ends"], name="ix_nbadecision_pair"),
            models.Index(fields=["outcome", "window_ends"], name="ix_nbadecision_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.action} → {self.customer_id} ({self.get_decision_display()})"


class NbaCalibration(models.Model):
    """What the outcomes taught: per action and RFM segment ("" = customers without a score), the response rate
    shrunk from the prior towards the observed rate, and the realised/expected value ratio shrunk towards 1."""

    action = models.ForeignKey(NbaAction, on_delete=models.CASCADE, related_name="calibrations")
    segment = models.CharField(max_length=20, blank=True)
    taken = models.PositiveIntegerField(default=0)
    successes = models.PositiveIntegerField(default=0)
    expected_effect = models.DecimalField(max_digits=18, decimal_places=2, default=ZERO)
    realised_effect = models.DecimalField(max_digits=18, decimal_places=2, default=ZERO)
    rate = models.FloatField()
    value_factor = models.FloatField(default=1.0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("NBA calibration")
        verbose_name_plural = _("NBA calibrations")
        constraints = [
            models.UniqueConstraint(fields=["action", "segment"], name="uniq_nbacal_action_segment")
        ]

    def __str__(self) -> str:
        return f"{self.action_id}/{self.segment or '-'}"
