"""Quotes (报价) with lines, revisions, discount approval; discount limits per role."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import OwnedModel, VersionedModel
from kehu.sales.money import ZERO, VatRate, clean_currency, line_figures


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING_APPROVAL = "pending", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SENT = "sent", _("Sent")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Expired")
    SUPERSEDED = "superseded", _("Superseded by a revision")


# statuses in which lines and prices may still change
QUOTE_EDITABLE = (QuoteStatus.DRAFT, QuoteStatus.REJECTED)


class Quote(OwnedModel):
    """A priced offer to a customer. Totals are computed from the lines (kehu.sales.money) by the quote
    services and stored, so lists and reports never recompute them. A revision is a new Quote with the same
    `number`, `revision` + 1 and `previous` pointing at the old one, which becomes SUPERSEDED and keeps its
    lines. Approval: when a line or the total discount exceeds the owner's role limit (DiscountLimit), the
    quote must be approved before it can be sent; `approval_required` is recomputed on every line change."""

    number = models.CharField(_("number"), max_length=40)
    revision = models.PositiveSmallIntegerField(_("revision"), default=1)
    previous = models.OneToOneField(
        "self",
        verbose_name=_("previous revision"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="next_revision",
        editable=False,
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="quotes"
    )
    contact = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    opportunity = models.ForeignKey(
        "sales.Opportunity",
        verbose_name=_("opportunity"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="quotes",
    )
    price_list = models.ForeignKey(
        "products.PriceList",
        verbose_name=_("price list"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    status = models.CharField(
        _("status"), max_length=10, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT, editable=False
    )
    issue_date = models.DateField(_("date"), default=timezone.localdate)
    valid_until = models.DateField(_("valid until"))
    terms = models.TextField(_("terms"), blank=True)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans")
    # totals (computed)
    gross_amount = models.DecimalField(
        _("gross"), max_digits=16, decimal_places=2, default=ZERO, editable=False
    )
    discount_amount = models.DecimalField(
        _("discount"), max_digits=16, decimal_places=2, default=ZERO, editable=False
    )
    net_amount = models.DecimalField(
        _("net amount"), max_digits=16, decimal_places=2, default=ZERO, editable=False
    )
    tax_amount = models.DecimalField(_("VAT"), max_digits=16, decimal_places=2, default=ZERO, editable=False)
    total = models.DecimalField(_("total"), max_digits=16, decimal_places=2, default=ZERO, editable=False)
    # approval
    approval_required = models.BooleanField(_("approval required"), default=False, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True, editable=False)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number", "revision"], name="uniq_quote_revision"),
        ]
        indexes = [
            models.Index(fields=["owner", "status", "-issue_date"], name="ix_quote_owner_status"),
            models.Index(fields=["customer", "-issue_date"], name="ix_quote_customer"),
            models.Index(fields=["status", "valid_until"], name="ix_quote_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.number} v{self.revision}" if self.revision > 1 else self.number

    def get_absolute_url(self) -> str:
        return reverse("sales:quote", args=[self.pk])

    @property
    def editable(self) -> bool:
        return self.status in QUOTE_EDITABLE

    def clean(self) -> None:
        errors: dict = {}
        self.number = (self.number or "").strip().upper()
        if not self.number:
            errors["number"] = _("Enter a number.")
        self.currency = clean_currency(self.currency)
        if not self.currency:
            errors["currency"] = _("Use a three-letter currency code such as CNY or USD.")
        if self.issue_date and self.valid_until and self.valid_until < self.issue_date:
            errors["valid_until"] = _("A quote cannot expire before its date.")
        if self.price_list_id and self.currency:
            from kehu.products.models import PriceList

            pl_currency = (
                PriceList.objects.filter(pk=self.price_list_id).values_list("currency", flat=True).first()
            )
            if pl_currency and pl_currency != self.currency:
                errors["currency"] = _(
                    "The quote's currency (%(q)s) does not match the price list's (%(p)s)."
                ) % {
                    "q": self.currency,
                    "p": pl_currency,
                }
        if self.opportunity_id and self.customer_id:
            from .pipelines import Opportunity

            opp_customer = (
                Opportunity.objects.filter(pk=self.opportunity_id)
                .values_list("customer_id", flat=True)
                .first()
            )
            if opp_customer != self.customer_id:
                errors["opportunity"] = _("The opportunity belongs to another customer.")
        if errors:
            raise ValidationError(errors)


class QuoteLine(VersionedModel):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    product = models.ForeignKey(
        "products.Product",
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    description = models.CharField(_("description"), max_length=300, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3, default=Decimal("1"))
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    unit_price = models.DecimalField(_("unit price"), max_digits=16, decimal_places=2)
    list_price = models.DecimalField(
        _("list price"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        editable=False,
        help_text=_("The price list's price when the line was priced"),
    )
    discount_percent = models.DecimalField(_("discount (%)"), max_digits=5, decimal_places=2, default=ZERO)
    tax_rate = models.DecimalField(
        _("VAT rate (%)"),
        max_digits=5,
        decimal_places=2,
        choices=[(Decimal(v), label) for v, label in VatRate.choices],
        default=Decimal("13.00"),
    )
    gross_amount = models.DecimalField(max_digits=16, decimal_places=2, default=ZERO, editable=False)
    net_amount = models.DecimalField(
        _("net amount"), max_digits=16, decimal_places=2, default=ZERO, editable=False
    )
    tax_amount = models.DecimalField(_("VAT"), max_digits=16, decimal_places=2, default=ZERO, editable=False)
    total = models.DecimalField(_("total"), max_digits=16, decimal_places=2, default=ZERO, editable=False)

    class Meta:
        verbose_name = _("quote line")
        verbose_name_plural = _("quote lines")
        ordering = ["quote", "position", "id"]

    def __str__(self) -> str:
        return self.description or str(self.product_id)

    def clean(self) -> None:
        errors = {}
        if not self.product_id and not (self.description or "").strip():
            errors["description"] = _("Choose a product or describe the line.")
        if self.quantity is None or self.quantity <= 0:
            errors["quantity"] = _("The quantity must be greater than zero.")
        if self.unit_price is None or self.unit_price < 0:
            errors["unit_price"] = _("A price cannot be negative.")
        if self.discount_percent is None or not ZERO <= self.discount_percent <= 100:
            errors["discount_percent"] = _("A discount lies between 0 and 100%.")
        if (
            self.tax_rate is None
            or str(Decimal(self.tax_rate).quantize(Decimal("0.01"))) not in VatRate.values
        ):
            errors["tax_rate"] = _("Choose one of the VAT rates 13%, 9%, 6% or 0%.")
        if errors:
            raise ValidationError(errors)
        figures = line_figures(
            quantity=self.quantity,
            unit_price=self.unit_price,
            discount_percent=self.discount_percent,
            tax_rate=self.tax_rate,
        )
        self.gross_amount, self.net_amount = figures.gross, figures.net
        self.tax_amount, self.total = figures.tax, figures.total


class ApprovalDecision(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class QuoteApproval(models.Model):
    """One approval request of one quote revision and its decision. At most one pending request per quote
    (partial unique index): two managers deciding at once record one decision (the decision service takes
    the row lock and refuses a request that is no longer pending)."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="approvals")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(_("why approval is needed"), max_length=300, blank=True)
    max_line_discount = models.DecimalField(max_digits=5, decimal_places=2, default=ZERO)
    total_discount = models.DecimalField(max_digits=5, decimal_places=2, default=ZERO)
    decision = models.CharField(
        _("decision"), max_length=10, choices=ApprovalDecision.choices, default=ApprovalDecision.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("quote approval")
        verbose_name_plural = _("quote approvals")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["quote"], condition=models.Q(decision="pending"), name="uniq_quote_pending_approval"
            )
        ]
        indexes = [models.Index(fields=["decision", "requested_at"], name="ix_quoteapproval_queue")]

    def __str__(self) -> str:
        return f"{self.quote_id}: {self.decision}"

    def clean(self) -> None:
        if self.decision == ApprovalDecision.REJECTED and not (self.comment or "").strip():
            raise ValidationError({"comment": _("Say why the quote is rejected.")})


class DiscountLimit(VersionedModel):
    """The largest discount a role may give without approval (line and whole quote). A user holding several
    roles gets the most generous limit; a user whose roles have no limit needs approval for any discount."""

    role = models.OneToOneField(
        "core.Role", verbose_name=_("role"), on_delete=models.CASCADE, related_name="discount_limit"
    )
    max_line_discount = models.DecimalField(
        _("largest line discount (%)"), max_digits=5, decimal_places=2, default=ZERO
    )
    max_total_discount = models.DecimalField(
        _("largest quote discount (%)"), max_digits=5, decimal_places=2, default=ZERO
    )
    approver_role = models.ForeignKey(
        "core.Role",
        verbose_name=_("approved by role"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Empty: the manager of the rep's department"),
    )

    class Meta:
        verbose_name = _("discount limit")
        verbose_name_plural = _("discount limits")

    def __str__(self) -> str:
        return f"{self.role}: {self.max_line_discount}% / {self.max_total_discount}%"

    def clean(self) -> None:
        errors = {}
        for name in ("max_line_discount", "max_total_discount"):
            value = getattr(self, name)
            if value is None or not ZERO <= value <= 100:
                errors[name] = _("A discount lies between 0 and 100%.")
        if errors:
            raise ValidationError(errors)
