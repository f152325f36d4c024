"""Collections: receivable plans (回款计划: instalments), payments received (回款) matched to instalments,
and invoice requests (开票). Every row hangs under a contract and inherits its record scope.

Invariants across rows (a payment no larger than what is outstanding, invoices no larger than the contract)
are checked by kehu.sales.services.receivables under the contract's row lock; `clean()` holds the rules of
one row."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import VersionedModel
from kehu.sales.money import ZERO, clean_currency


class InstalmentStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PARTLY_PAID = "partly", _("Partly paid")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")


UNPAID_STATUSES = (InstalmentStatus.OPEN, InstalmentStatus.PARTLY_PAID)


class Instalment(VersionedModel):
    """One instalment of a contract's receivable plan. `paid_amount` is the sum of its allocations, updated
    with the allocation under the contract's lock; overdue = unpaid and due before today."""

    contract = models.ForeignKey(
        "sales.Contract", verbose_name=_("contract"), on_delete=models.CASCADE, related_name="instalments"
    )
    sequence = models.PositiveSmallIntegerField(_("instalment"), default=1)
    due_date = models.DateField(_("due date"))
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY", editable=False)
    paid_amount = models.DecimalField(
        _("received"), max_digits=16, decimal_places=2, default=ZERO, editable=False
    )
    status = models.CharField(
        _("status"),
        max_length=9,
        choices=InstalmentStatus.choices,
        default=InstalmentStatus.OPEN,
        editable=False,
    )
    notes = models.CharField(_("notes"), max_length=300, blank=True)
    overdue_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("receivable plan")
        verbose_name_plural = _("receivable plans")
        ordering = ["contract", "sequence", "due_date"]
        constraints = [models.UniqueConstraint(fields=["contract", "sequence"], name="uniq_instalment_seq")]
        indexes = [
            # overdue receivables of a team: the contracts of the team's owners (ix_contract_owner_status),
            # then their unpaid instalments due before today
            models.Index(
                fields=["contract", "due_date"],
                name="ix_instalment_unpaid",
                include=["amount", "paid_amount"],
                condition=models.Q(status__in=["open", "partly"]),
            ),
            models.Index(
                fields=["due_date"],
                name="ix_instalment_due",
                condition=models.Q(status__in=["open", "partly"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id}#{self.sequence}"

    @property
    def outstanding(self):
        return self.amount - self.paid_amount

    @property
    def is_overdue(self) -> bool:
        return self.status in UNPAID_STATUSES and self.due_date < timezone.localdate()

    def clean(self) -> None:
        errors = {}
        if self.amount is None or self.amount <= 0:
            errors["amount"] = _("The amount must be greater than zero.")
        elif self.amount < self.paid_amount:
            errors["amount"] = _("The amount cannot be less than what was already received.")
        if errors:
            raise ValidationError(errors)
        if self.status != InstalmentStatus.CANCELLED:
            self.status = (
                InstalmentStatus.PAID
                if self.paid_amount >= self.amount
                else InstalmentStatus.PARTLY_PAID
                if self.paid_amount > 0
                else InstalmentStatus.OPEN
            )


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "transfer", _("Bank transfer")
    ACCEPTANCE_BILL = "bill", _("Bank acceptance bill")
    CHEQUE = "cheque", _("Cheque")
    CASH = "cash", _("Cash")
    ALIPAY = "alipay", _("Alipay")
    WECHAT_PAY = "wechat", _("WeChat Pay")
    CARD = "card", _("Card")
    OTHER = "other", _("Other")


class Payment(VersionedModel):
    """Money received (回款) against a contract, matched to instalments through allocations. From finance by
    API with an `external_ref` (idempotent); `counts_as_actual` feeds sales plans (targets)."""

    contract = models.ForeignKey(
        "sales.Contract", verbose_name=_("contract"), on_delete=models.PROTECT, related_name="payments"
    )
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    received_on = models.DateField(_("received on"), default=timezone.localdate)
    method = models.CharField(
        _("method"), max_length=9, choices=PaymentMethod.choices, default=PaymentMethod.BANK_TRANSFER
    )
    reference = models.CharField(_("bank reference"), max_length=120, blank=True)
    external_ref = models.CharField(
        _("finance reference"), max_length=120, null=True, blank=True, unique=True
    )
    counts_as_actual = models.BooleanField(_("counts towards targets"), default=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    notes = models.CharField(_("notes"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("payment received")
        verbose_name_plural = _("payments received")
        ordering = ["-received_on", "-id"]
        indexes = [models.Index(fields=["contract", "received_on"], name="ix_payment_contract")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} ({self.received_on})"

    def clean(self) -> None:
        errors = {}
        self.external_ref = (self.external_ref or "").strip() or None
        if self.amount is None or self.amount <= 0:
            errors["amount"] = _("The amount must be greater than zero.")
        self.currency = clean_currency(self.currency)
        if not self.currency:
            errors["currency"] = _("Use a three-letter currency code such as CNY or USD.")
        elif self.contract_id:
            from .contracts import Contract

            currency = Contract.objects.filter(pk=self.contract_id).values_list("currency", flat=True).first()
            if currency and currency != self.currency:
                errors["currency"] = _("The payment's currency does not match the contract's (%(c)s).") % {
                    "c": currency
                }
        if self.received_on and self.received_on > timezone.localdate():
            errors["received_on"] = _("A payment cannot be received in the future.")
        if errors:
            raise ValidationError(errors)


class PaymentAllocation(models.Model):
    """How much of a payment settles which instalment (a payment may settle several, and an instalment may be
    paid in several payments)."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="allocations")
    instalment = models.ForeignKey(Instalment, on_delete=models.PROTECT, related_name="allocations")
    amount = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["payment", "instalment"], name="uniq_allocation"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="allocation_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} → {self.instalment_id}: {self.amount}"


class InvoiceType(models.TextChoices):
    VAT_SPECIAL = "special", _("VAT special invoice")
    VAT_ORDINARY = "ordinary", _("VAT ordinary invoice")


class InvoiceStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    ISSUED = "issued", _("Issued")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


INVOICE_COUNTED = (InvoiceStatus.REQUESTED, InvoiceStatus.APPROVED, InvoiceStatus.ISSUED)


class InvoiceRequest(VersionedModel):
    """A request to finance to issue a VAT invoice (开票申请). A special invoice needs the buyer's tax number,
    address/phone and bank account; the sum of live requests never exceeds the contract amount."""

    contract = models.ForeignKey(
        "sales.Contract",
        verbose_name=_("contract"),
        on_delete=models.PROTECT,
        related_name="invoice_requests",
    )
    invoice_type = models.CharField(
        _("invoice type"), max_length=8, choices=InvoiceType.choices, default=InvoiceType.VAT_SPECIAL
    )
    title = models.CharField(_("invoice title (buyer)"), max_length=200)
    tax_number = models.CharField(_("taxpayer id"), max_length=40, blank=True)
    address_phone = models.CharField(_("address and phone"), max_length=300, blank=True)
    bank_account = models.CharField(_("bank and account"), max_length=300, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY", editable=False)
    status = models.CharField(
        _("status"),
        max_length=9,
        choices=InvoiceStatus.choices,
        default=InvoiceStatus.REQUESTED,
        editable=False,
    )
    invoice_number = models.CharField(_("invoice number"), max_length=40, blank=True)
    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    external_ref = models.CharField(
        _("finance reference"), max_length=120, null=True, blank=True, unique=True
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    notes = models.CharField(_("notes"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("invoice request")
        verbose_name_plural = _("invoice requests")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["contract", "status"], name="ix_invoice_contract")]

    def __str__(self) -> str:
        return f"{self.title} {self.amount}"

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        errors = {}
        self.title = clean_text(self.title)
        self.tax_number = clean_text(self.tax_number).upper().replace(" ", "")
        self.external_ref = (self.external_ref or "").strip() or None
        if not self.title:
            errors["title"] = _("Enter the buyer's name as it appears on the invoice.")
        if self.amount is None or self.amount <= 0:
            errors["amount"] = _("The amount must be greater than zero.")
        if self.invoice_type == InvoiceType.VAT_SPECIAL:
            if not self.tax_number:
                errors["tax_number"] = _("A VAT special invoice needs the buyer's taxpayer id.")
            if not self.address_phone.strip():
                errors["address_phone"] = _("A VAT special invoice needs the buyer's address and phone.")
            if not self.bank_account.strip():
                errors["bank_account"] = _("A VAT special invoice needs the buyer's bank and account.")
        if self.tax_number and not (15 <= len(self.tax_number) <= 20 and self.tax_number.isalnum()):
            errors["tax_number"] = _("A taxpayer id has 15 to 20 letters and digits.")
        if self.status == InvoiceStatus.ISSUED and not self.invoice_number:
            errors["invoice_number"] = _("Enter the invoice number.")
        if errors:
            raise ValidationError(errors)
