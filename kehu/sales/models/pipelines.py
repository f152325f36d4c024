"""Pipelines, stages, opportunities (商机) with lines, competitors, stage history and close reasons."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import CustomFieldsModel, OwnedModel, VersionedModel
from kehu.sales.money import ZERO, clean_currency, line_figures


class Pipeline(VersionedModel):
    """A sales process with its own stages (new business, renewals, distributors...)."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    is_default = models.BooleanField(_("default pipeline"), default=False)
    active = models.BooleanField(_("active"), default=True)
    currency = models.CharField(_("default currency"), max_length=3, default="CNY")
    stalled_days = models.PositiveIntegerField(
        _("stalled after (days without activity)"), default=14, validators=[MinValueValidator(1)]
    )
    position = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="uniq_pipeline_default"
            )
        ]

    choice_label_fields = ("name",)  # what __str__ reads (kehu.ui.widgets.choice_rows)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        self.name = clean_text(self.name)
        self.currency = clean_currency(self.currency)
        errors = {}
        if not self.name:
            errors["name"] = _("Enter a name.")
        if not self.currency:
            errors["currency"] = _("Use a three-letter currency code such as CNY or USD.")
        if errors:
            raise ValidationError(errors)


class StageKind(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class Stage(VersionedModel):
    """A column of a pipeline. Won and lost stages close the opportunity (probability 100 / 0)."""

    pipeline = models.ForeignKey(
        Pipeline, verbose_name=_("pipeline"), on_delete=models.CASCADE, related_name="stages"
    )
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=4, choices=StageKind.choices, default=StageKind.OPEN)
    probability = models.PositiveSmallIntegerField(
        _("probability (%)"), default=10, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    position = models.PositiveIntegerField(_("order"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["pipeline", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["pipeline", "name"], name="uniq_stage_name")]

    choice_label_fields = ("name",)  # what __str__ reads (kehu.ui.widgets.choice_rows)

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.kind != StageKind.OPEN

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        self.name = clean_text(self.name)
        if not self.name:
            raise ValidationError({"name": _("Enter a name.")})
        if self.kind == StageKind.WON:
            self.probability = 100
        elif self.kind == StageKind.LOST:
            self.probability = 0
        elif self.probability in (None, 100) or self.probability > 99:
            raise ValidationError({"probability": _("An open stage has a probability below 100%.")})


class CloseKind(models.TextChoices):
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class CloseReason(VersionedModel):
    """The reasons a deal is won or lost (required on close), configured by administrators."""

    kind = models.CharField(_("kind"), max_length=4, choices=CloseKind.choices)
    name = models.CharField(_("reason"), max_length=120)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("won/lost reason")
        verbose_name_plural = _("won/lost reasons")
        ordering = ["kind", "position", "name"]
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="uniq_close_reason")]

    choice_label_fields = ("name",)  # what __str__ reads (kehu.ui.widgets.choice_rows)

    def __str__(self) -> str:
        return self.name


class Competitor(VersionedModel):
    name = models.CharField(_("name"), max_length=200, unique=True)
    website = models.URLField(_("website"), blank=True)
    strengths = models.TextField(_("strengths"), blank=True)
    weaknesses = models.TextField(_("weaknesses"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("competitor")
        verbose_name_plural = _("competitors")
        ordering = ["name"]

    choice_label_fields = ("name",)  # what __str__ reads (kehu.ui.widgets.choice_rows)

    def __str__(self) -> str:
        return self.name


class OpportunityStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class Opportunity(OwnedModel, CustomFieldsModel):
    """A deal in a pipeline. `status`, `probability` and `stage_entered_at` follow the stage and are written by
    the stage-change service (opportunity_move) only; `position` orders the cards of a kanban column;
    `last_activity_at` feeds the stalled flag."""

    name = models.CharField(_("name"), max_length=200)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="opportunities",
    )
    contact = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        limit_choices_to={"kind": "person"},
    )
    pipeline = models.ForeignKey(
        Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT, related_name="+"
    )
    stage = models.ForeignKey(
        Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="opportunities"
    )
    status = models.CharField(
        _("status"),
        max_length=4,
        choices=OpportunityStatus.choices,
        default=OpportunityStatus.OPEN,
        editable=False,
    )
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, default=ZERO)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    probability = models.PositiveSmallIntegerField(
        _("probability (%)"), default=0, validators=[MaxValueValidator(100)], editable=False
    )
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, editable=False)
    close_reason = models.ForeignKey(
        CloseReason,
        verbose_name=_("won/lost reason"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    close_note = models.CharField(_("close note"), max_length=300, blank=True)
    lost_to = models.ForeignKey(
        Competitor,
        verbose_name=_("lost to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    lead = models.ForeignKey(
        "sales.Lead",
        verbose_name=_("lead"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    source = models.CharField(_("source"), max_length=12, blank=True)
    next_step = models.CharField(_("next step"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    competitors = models.ManyToManyField(
        Competitor,
        verbose_name=_("competitors"),
        through="OpportunityCompetitor",
        blank=True,
        related_name="+",
    )
    position = models.BigIntegerField(_("position in column"), default=0, editable=False)
    stage_entered_at = models.DateTimeField(default=timezone.now, editable=False)
    last_activity_at = models.DateTimeField(_("last activity"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        ordering = ["-created_at", "-id"]
        indexes = [
            # kanban column of a pipeline: cards in order (no team filter)
            models.Index(fields=["stage", "position", "id"], name="ix_opp_column"),
            # kanban filtered to a team (owner IN members): per owner and stage, in order; counts, weighted
            # totals and the per-column ranking read the key and included columns only (index-only scans on
            # PostgreSQL; closed_at decides "open or closed recently")
            models.Index(
                fields=["owner", "pipeline", "stage", "position"],
                name="ix_opp_owner_board",
                include=["id", "amount", "probability", "currency", "closed_at"],
            ),
            models.Index(fields=["pipeline", "status", "stage"], name="ix_opp_pipeline_status"),
            # the opportunity list, sorted by expected close date (its default): everybody's, a status, a rep's
            models.Index(fields=["expected_close_date"], name="ix_opp_close"),
            models.Index(fields=["status", "expected_close_date"], name="ix_opp_status_close"),
            models.Index(fields=["owner", "expected_close_date"], name="ix_opp_owner_close"),
            # the list's other sortable columns, ties broken by the default order (see OpportunityList)
            models.Index(fields=["amount", "expected_close_date"], name="ix_opp_amount_close"),
            models.Index(fields=["probability", "expected_close_date"], name="ix_opp_probability_close"),
            models.Index(fields=["name", "expected_close_date"], name="ix_opp_name_close"),
            models.Index(fields=["customer", "status"], name="ix_opp_customer"),
            models.Index(
                fields=["last_activity_at"], name="ix_opp_stalled", condition=models.Q(status="open")
            ),
            # deals won in a period (forecasts, dashboards): the period's won deals, not every won deal
            models.Index(fields=["closed_at"], name="ix_opp_won_closed", condition=models.Q(status="won")),
        ]

    choice_label_fields = ("name",)  # what __str__ reads (kehu.ui.widgets.choice_rows)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("sales:opportunity", args=[self.pk])

    @property
    def weighted_amount(self) -> Decimal:
        from kehu.sales.money import cents

        return cents(self.amount * self.probability / Decimal(100))

    def is_stalled(self, now=None) -> bool:
        """No activity for the pipeline's `stalled_days` (open deals only)."""
        if self.status != OpportunityStatus.OPEN:
            return False
        now = now or timezone.now()
        return (now - self.last_activity_at).days >= self.pipeline.stalled_days

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        errors: dict = {}
        self.name = clean_text(self.name)
        if not self.name:
            errors["name"] = _("Enter a name.")
        self.currency = clean_currency(self.currency)
        if not self.currency:
            errors["currency"] = _("Use a three-letter currency code such as CNY or USD.")
        if self.amount is not None and self.amount < 0:
            errors["amount"] = _("The amount cannot be negative.")
        if self.stage_id and self.pipeline_id:
            stage = (
                Stage.objects.filter(pk=self.stage_id).values("pipeline_id", "kind", "probability").first()
            )
            if stage is None or stage["pipeline_id"] != self.pipeline_id:
                errors["stage"] = _("This stage belongs to another pipeline.")
            else:
                self.status = stage["kind"]
                if self.status == OpportunityStatus.OPEN:
                    self.closed_at = None
                    self.close_reason = None
                    self.lost_to = None
                else:
                    reason = (
                        CloseReason.objects.filter(pk=self.close_reason_id)
                        .values_list("kind", flat=True)
                        .first()
                        if self.close_reason_id
                        else None
                    )
                    if reason is None:
                        errors["close_reason"] = _("Give the reason the deal was won or lost.")
                    elif reason != self.status:
                        errors["close_reason"] = _("This reason is for the other outcome.")
                    if self.status == OpportunityStatus.WON:
                        self.lost_to = None
        if self.contact_id and self.customer_id:
            from kehu.customers.models import Customer

            contact = Customer.objects.filter(pk=self.contact_id).values("kind", "account_id").first()
            if contact is None or contact["kind"] != "person":
                errors["contact"] = _("The contact must be a person.")
            elif self.contact_id != self.customer_id and contact["account_id"] != self.customer_id:
                errors["contact"] = _("The contact does not belong to this customer.")
        if errors:
            raise ValidationError(errors)


class OpportunityLine(VersionedModel):
    """A product the deal is about; its amount feeds the opportunity's amount when lines exist."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "products.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3, default=Decimal("1"))
    unit_price = models.DecimalField(_("unit price"), max_digits=16, decimal_places=2)
    discount_percent = models.DecimalField(_("discount (%)"), max_digits=5, decimal_places=2, default=ZERO)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, default=ZERO, editable=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("opportunity product")
        verbose_name_plural = _("opportunity products")
        ordering = ["opportunity", "position", "id"]

    def __str__(self) -> str:
        return f"{self.product_id} × {self.quantity}"

    def clean(self) -> None:
        errors = {}
        if self.quantity is None or self.quantity <= 0:
            errors["quantity"] = _("The quantity must be greater than zero.")
        if self.unit_price is None or self.unit_price < 0:
            errors["unit_price"] = _("A price cannot be negative.")
        if self.discount_percent is None or not ZERO <= self.discount_percent <= 100:
            errors["discount_percent"] = _("A discount lies between 0 and 100%.")
        if errors:
            raise ValidationError(errors)
        self.amount = line_figures(
            quantity=self.quantity,
            unit_price=self.unit_price,
            discount_percent=self.discount_percent,
            tax_rate=ZERO,
        ).net


class OpportunityCompetitor(VersionedModel):
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="competitor_links")
    competitor = models.ForeignKey(
        Competitor, verbose_name=_("competitor"), on_delete=models.PROTECT, related_name="+"
    )
    notes = models.CharField(_("notes"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("competitor on a deal")
        verbose_name_plural = _("competitors on deals")
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "competitor"], name="uniq_opp_competitor")
        ]

    def __str__(self) -> str:
        return str(self.competitor)


class StageChange(models.Model):
    """Stage history: one row per move (append-only); `seconds_in_from` is the time spent in the previous
    stage, so time-in-stage reports are sums, not window functions."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    seconds_in_from = models.PositiveBigIntegerField(default=0)
    amount = models.DecimalField(max_digits=16, decimal_places=2, default=ZERO)

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage history")
        ordering = ["opportunity", "at", "id"]
        indexes = [
            models.Index(fields=["opportunity", "at"], name="ix_stagechange_opp"),
            models.Index(fields=["to_stage", "at"], name="ix_stagechange_stage"),
        ]

    def __str__(self) -> str:
        return f"{self.from_stage_id} → {self.to_stage_id}"


DEFAULT_STAGES = [
    # (zh-Hans, en, kind, probability) — the seeds' five steps plus the two outcomes
    ("发现", "Discovery", StageKind.OPEN, 10),
    ("资格确认", "Qualification", StageKind.OPEN, 25),
    ("谈判", "Negotiation", StageKind.OPEN, 50),
    ("报价", "Quotation", StageKind.OPEN, 75),
    ("赢单", "Won", StageKind.WON, 100),
    ("输单", "Lost", StageKind.LOST, 0),
]
