"""Leads (线索): capture, qualification, assignment rules, first-contact SLA, web forms, conversion."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import CustomFieldsModel, OwnedModel, VersionedModel
from kehu.customers.models import Kind
from kehu.sales.money import clean_currency


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    WORKING = "working", _("Working")
    QUALIFIED = "qualified", _("Qualified")
    DISQUALIFIED = "disqualified", _("Disqualified")
    CONVERTED = "converted", _("Converted")


OPEN_LEAD_STATUSES = (LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED)

# status -> statuses it may move to by hand (conversion is its own service)
LEAD_TRANSITIONS = {
    LeadStatus.NEW: {LeadStatus.WORKING, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED},
    LeadStatus.WORKING: {LeadStatus.NEW, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED},
    LeadStatus.QUALIFIED: {LeadStatus.WORKING, LeadStatus.DISQUALIFIED},
    LeadStatus.DISQUALIFIED: {LeadStatus.WORKING},
    LeadStatus.CONVERTED: set(),
}


class DisqualifyReason(models.TextChoices):
    NO_BUDGET = "no_budget", _("No budget")
    NO_NEED = "no_need", _("No need")
    NOT_REACHABLE = "unreachable", _("Could not be reached")
    COMPETITOR = "competitor", _("Bought from a competitor")
    DUPLICATE = "duplicate", _("Duplicate")
    SPAM = "spam", _("Spam or invalid")
    OTHER = "other", _("Other")


class LeadSource(models.TextChoices):
    MANUAL = "manual", _("Entered by hand")
    WEB_FORM = "web_form", _("Web form")
    IMPORT = "import", _("Import")
    CAMPAIGN = "campaign", _("Campaign response")
    API = "api", _("API")
    REFERRAL = "referral", _("Referral")
    TRADE_SHOW = "trade_show", _("Trade show")
    CALL = "call", _("Phone call")
    OTHER = "other", _("Other")


class Timeframe(models.TextChoices):
    NOW = "now", _("Immediately")
    QUARTER = "quarter", _("This quarter")
    HALF_YEAR = "half_year", _("Within six months")
    YEAR = "year", _("Within a year")
    UNKNOWN = "unknown", _("Unknown")


class Lead(OwnedModel, CustomFieldsModel):
    """A prospect not yet qualified into a customer and an opportunity. The owner is the assigned rep; the
    record scope follows the owner. `first_contact_due` is the SLA deadline set on assignment."""

    kind = models.CharField(
        _("kind"),
        max_length=12,
        choices=Kind.choices,
        default="organization",
    )
    company = models.CharField(_("company"), max_length=200, blank=True)
    name = models.CharField(_("contact name"), max_length=120, blank=True)
    job_title = models.CharField(_("job title"), max_length=120, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True)
    email = models.CharField(_("email"), max_length=254, blank=True, db_index=True)
    city = models.CharField(_("city"), max_length=80, blank=True)
    region = models.ForeignKey(
        "core.Department",
        verbose_name=_("region / territory"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    product_line = models.ForeignKey(
        "products.ProductCategory",
        verbose_name=_("product line"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source = models.CharField(
        _("source"), max_length=12, choices=LeadSource.choices, default=LeadSource.MANUAL
    )
    campaign_ref = models.CharField(
        _("campaign"), max_length=120, blank=True, help_text=_("Campaign that produced the lead")
    )
    status = models.CharField(_("status"), max_length=12, choices=LeadStatus.choices, default=LeadStatus.NEW)
    disqualify_reason = models.CharField(
        _("disqualification reason"), max_length=12, choices=DisqualifyReason.choices, blank=True
    )
    disqualify_note = models.CharField(_("disqualification note"), max_length=300, blank=True)
    score = models.PositiveSmallIntegerField(
        _("lead score"), default=0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    # qualification (BANT)
    budget = models.DecimalField(_("budget"), max_digits=16, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    decision_maker = models.BooleanField(_("talks to the decision maker"), default=False)
    need = models.TextField(_("need"), blank=True)
    timeframe = models.CharField(
        _("purchase timeframe"), max_length=10, choices=Timeframe.choices, default=Timeframe.UNKNOWN
    )
    message = models.TextField(_("message"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # assignment and SLA (written by services only)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True, editable=False)
    assignment_rule = models.ForeignKey(
        "sales.AssignmentRule",
        verbose_name=_("assignment rule"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    first_contact_due = models.DateTimeField(_("first contact due"), null=True, blank=True, editable=False)
    first_contacted_at = models.DateTimeField(_("first contacted at"), null=True, blank=True, editable=False)
    sla_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    sla_escalated_at = models.DateTimeField(null=True, blank=True, editable=False)
    web_form = models.ForeignKey(
        "sales.LeadWebForm",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    external_ref = models.CharField(
        _("external reference"), max_length=120, null=True, blank=True, unique=True
    )
    # conversion (written by lead_convert only)
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True, editable=False)
    converted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    converted_customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="converted_leads",
        editable=False,
    )
    converted_contact = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    converted_opportunity = models.ForeignKey(
        "sales.Opportunity",
        verbose_name=_("opportunity"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "status", "-created_at"], name="ix_lead_owner_status"),
            models.Index(fields=["status", "-created_at"], name="ix_lead_status_created"),
            # the SLA scan: open, never contacted, by deadline
            models.Index(
                fields=["first_contact_due"],
                name="ix_lead_sla_due",
                condition=models.Q(first_contacted_at__isnull=True, first_contact_due__isnull=False),
            ),
            models.Index(fields=["owner", "first_contacted_at"], name="ix_lead_owner_load"),
        ]

    def __str__(self) -> str:
        return self.company or self.name or self.email or self.phone or f"#{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("sales:lead", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_LEAD_STATUSES

    @property
    def sla_breached(self) -> bool:
        return bool(
            self.first_contact_due and not self.first_contacted_at and self.first_contact_due < timezone.now()
        )

    def clean(self) -> None:
        from kehu.customers import normalize

        errors: dict = {}
        self.company = normalize.clean_text(self.company)
        self.name = normalize.clean_text(self.name)
        self.job_title = normalize.clean_text(self.job_title)
        self.city = normalize.clean_text(self.city)
        self.campaign_ref = normalize.clean_text(self.campaign_ref)
        self.external_ref = (self.external_ref or "").strip() or None
        if self.kind == "organization" and not self.company:
            errors["company"] = _("Enter the company name.")
        if not (self.company or self.name):
            errors["name"] = _("Enter a name or a company.")
        if self.phone:
            try:
                self.phone = normalize.normalize_phone(self.phone)
            except ValidationError as exc:
                errors["phone"] = exc.messages
        if self.email:
            try:
                self.email = normalize.normalize_email(self.email)
            except ValidationError as exc:
                errors["email"] = exc.messages
        self.currency = clean_currency(self.currency)
        if not self.currency:
            errors["currency"] = _("Use a three-letter currency code such as CNY or USD.")
        if self.budget is not None and self.budget < 0:
            errors["budget"] = _("The budget cannot be negative.")
        if self.status == LeadStatus.DISQUALIFIED and not self.disqualify_reason:
            errors["disqualify_reason"] = _("Give the reason for disqualifying the lead.")
        if self.status != LeadStatus.DISQUALIFIED:
            self.disqualify_reason, self.disqualify_note = "", ""
        if self.status == LeadStatus.CONVERTED and not self.converted_customer_id:
            errors["status"] = _("Convert the lead to mark it converted.")
        if errors:
            raise ValidationError(errors)


class LeadActivity(VersionedModel):
    """A call, email or note logged on a lead before it became a customer. Conversion copies each onto the
    new customer's timeline (kehu.interactions), so the history moves with the lead."""

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="activities"
    )
    channel = models.CharField(_("channel"), max_length=10, default="call")
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("details"), blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = _("lead activity")
        verbose_name_plural = _("lead activities")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["lead", "-occurred_at"], name="ix_leadactivity_lead")]

    def __str__(self) -> str:
        return self.subject

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text
        from kehu.interactions.models import InteractionChannel

        self.subject = clean_text(self.subject)
        if not self.subject:
            raise ValidationError({"subject": _("Enter a subject.")})
        if self.channel not in InteractionChannel.values:
            raise ValidationError({"channel": _("Unknown channel.")})
        if self.occurred_at and self.occurred_at > timezone.now() + timezone.timedelta(days=1):
            raise ValidationError({"occurred_at": _("An activity cannot lie in the future.")})


class AssignmentMethod(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round-robin")
    LEAST_LOADED = "load", _("Fewest open leads")
    FIXED = "fixed", _("Always the first assignee")


class AssignmentRule(VersionedModel):
    """Who gets a new lead. Rules are tried by `priority` (lowest first); the first whose criteria all match
    (empty = any) picks an assignee among its candidates (listed users, members of a team, members of a
    department subtree) by its method. Configured by administrators on the rules page."""

    name = models.CharField(_("name"), max_length=120)
    priority = models.PositiveIntegerField(_("priority"), default=100, help_text=_("Lower runs first"))
    active = models.BooleanField(_("active"), default=True)
    # criteria
    region = models.ForeignKey(
        "core.Department",
        verbose_name=_("lead region / territory"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Matches leads of this department or any below it"),
    )
    product_line = models.ForeignKey(
        "products.ProductCategory",
        verbose_name=_("product line"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    source = models.CharField(_("source"), max_length=12, choices=LeadSource.choices, blank=True)
    city = models.CharField(_("city"), max_length=80, blank=True)
    # candidates
    method = models.CharField(
        _("distribution"),
        max_length=12,
        choices=AssignmentMethod.choices,
        default=AssignmentMethod.ROUND_ROBIN,
    )
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("assignees"), blank=True, related_name="+"
    )
    team = models.ForeignKey(
        "core.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    department = models.ForeignKey(
        "core.Department",
        verbose_name=_("assignee department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    sla_hours = models.PositiveIntegerField(
        _("first contact within (hours)"), null=True, blank=True, help_text=_("Empty: the default SLA")
    )
    # round-robin cursor: the last user who received a lead from this rule (moved under a row lock)
    last_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("sales:rule", args=[self.pk])

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        self.name = clean_text(self.name)
        self.city = clean_text(self.city)
        if not self.name:
            raise ValidationError({"name": _("Enter a name.")})
        if self.sla_hours is not None and not 1 <= self.sla_hours <= 24 * 30:
            raise ValidationError({"sla_hours": _("Between 1 hour and 30 days.")})


def _form_key() -> str:
    return secrets.token_urlsafe(16)


class LeadWebForm(VersionedModel):
    """A public, embeddable form that creates leads (iframe or plain HTML POST). Spam protection: a hidden
    honeypot field and a per-IP rate limit; submissions go through the assignment rules like any lead."""

    name = models.CharField(_("name"), max_length=120)
    key = models.CharField(_("public key"), max_length=40, unique=True, default=_form_key, editable=False)
    active = models.BooleanField(_("active"), default=True)
    default_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner when no rule matches"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    region = models.ForeignKey(
        "core.Department",
        verbose_name=_("region / territory"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    product_line = models.ForeignKey(
        "products.ProductCategory",
        verbose_name=_("product line"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    campaign_ref = models.CharField(_("campaign"), max_length=120, blank=True)
    thank_you = models.CharField(_("thank-you message"), max_length=300, blank=True)
    redirect_url = models.URLField(_("redirect after submit"), blank=True)
    rate_limit = models.PositiveIntegerField(
        _("submissions per IP and hour"), default=5, validators=[MinValueValidator(1)]
    )
    submissions = models.PositiveIntegerField(_("submissions"), default=0, editable=False)

    class Meta:
        verbose_name = _("lead web form")
        verbose_name_plural = _("lead web forms")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("sales:webform", args=[self.pk])

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        self.name = clean_text(self.name)
        if not self.name:
            raise ValidationError({"name": _("Enter a name.")})


class WebFormHit(models.Model):
    """One accepted or refused submission per IP (hashed), for the rate limit; old rows are pruned."""

    form = models.ForeignKey(LeadWebForm, on_delete=models.CASCADE, related_name="+")
    ip_hash = models.CharField(max_length=64)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["form", "ip_hash", "at"], name="ix_webformhit_window")]

    def __str__(self) -> str:
        return f"{self.form_id} {self.at:%Y-%m-%d %H:%M}"
