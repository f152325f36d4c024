"""Contracts (合同) with attachments, approval and renewal reminder."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import CustomFieldsModel, OwnedModel
from kehu.sales.money import ZERO, clean_currency


class ContractStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING_APPROVAL = "pending", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    ACTIVE = "active", _("Signed / in force")
    EXPIRED = "expired", _("Expired")
    TERMINATED = "terminated", _("Terminated")
    REJECTED = "rejected", _("Rejected")


class Contract(OwnedModel, CustomFieldsModel):
    """A contract with a customer. Receivable plans (instalments), payments and invoice requests hang under
    it and inherit its record scope (`via="contract"`)."""

    number = models.CharField(_("number"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=200)
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="contracts"
    )
    customer_signatory = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer signatory"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    our_signatory = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("our signatory"),
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
        related_name="contracts",
    )
    quote = models.ForeignKey(
        "sales.Quote",
        verbose_name=_("quote"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contracts",
    )
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    start_date = models.DateField(_("start"))
    end_date = models.DateField(_("end"), null=True, blank=True)
    signed_date = models.DateField(_("signed on"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ContractStatus.choices,
        default=ContractStatus.DRAFT,
        editable=False,
    )
    terms = models.TextField(_("terms"), blank=True)
    renewal_notice_days = models.PositiveIntegerField(_("renewal reminder (days before end)"), default=30)
    renewal_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    # receivable figures, maintained by the payment services under the contract's row lock
    paid_amount = models.DecimalField(
        _("received"), max_digits=16, decimal_places=2, default=ZERO, editable=False
    )
    invoiced_amount = models.DecimalField(
        _("invoiced"), max_digits=16, decimal_places=2, default=ZERO, editable=False
    )
    # what the receivable plan still expects (unpaid instalments' amount less what was received on them) and
    # its first unpaid due date: derived from the instalments by services.receivables.contract_receivables_refresh
    # whenever the plan or a payment changes them, so the receivables page sums contracts (an index-only scan
    # of ix_contract_receivable) instead of probing every unpaid instalment of a team
    receivable_outstanding = models.DecimalField(
        _("outstanding"), max_digits=16, decimal_places=2, default=ZERO, editable=False
    )
    receivable_due_from = models.DateField(_("first unpaid due date"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["-start_date", "-id"]
        indexes = [
            models.Index(fields=["owner", "status"], name="ix_contract_owner_status"),
            models.Index(fields=["customer", "-start_date"], name="ix_contract_customer"),
            models.Index(fields=["status", "end_date"], name="ix_contract_renewal"),
            models.Index(
                fields=["owner", "customer", "currency"],
                name="ix_contract_receivable",
                include=["receivable_outstanding", "receivable_due_from"],
                condition=models.Q(receivable_outstanding__gt=0),
            ),
            # the overdue sum per rep/customer: a team's contracts with something outstanding whose first
            # unpaid instalment is past due, read index-only (the owner list and the due date in the index)
            models.Index(
                fields=["owner", "receivable_due_from"],
                name="ix_contract_overdue",
                include=["id", "customer", "currency", "receivable_outstanding"],
                condition=models.Q(receivable_outstanding__gt=0),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("sales:contract", args=[self.pk])

    @property
    def outstanding(self):
        return self.amount - self.paid_amount

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        errors: dict = {}
        self.number = (self.number or "").strip().upper()
        self.title = clean_text(self.title)
        if not self.number:
            errors["number"] = _("Enter a number.")
        if not self.title:
            errors["title"] = _("Enter a title.")
        self.currency = clean_currency(self.currency)
        if not self.currency:
            errors["currency"] = _("Use a three-letter currency code such as CNY or USD.")
        if self.amount is None or self.amount <= 0:
            errors["amount"] = _("The amount must be greater than zero.")
        elif self.amount < self.paid_amount:
            errors["amount"] = _("The amount cannot be less than what was already received.")
        elif self.amount < self.invoiced_amount:
            errors["amount"] = _("The amount cannot be less than what was already invoiced.")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            errors["end_date"] = _("The end cannot be before the start.")
        if self.signed_date and self.signed_date > timezone.localdate():
            errors["signed_date"] = _("The signing date cannot be in the future.")
        if self.opportunity_id and self.customer_id:
            from .pipelines import Opportunity

            if (
                Opportunity.objects.filter(pk=self.opportunity_id)
                .values_list("customer_id", flat=True)
                .first()
                != self.customer_id
            ):
                errors["opportunity"] = _("The opportunity belongs to another customer.")
        if self.quote_id and self.customer_id:
            from .quotes import Quote

            if (
                Quote.objects.filter(pk=self.quote_id).values_list("customer_id", flat=True).first()
                != self.customer_id
            ):
                errors["quote"] = _("The quote belongs to another customer.")
        if errors:
            raise ValidationError(errors)


def _attachment_path(instance, filename: str) -> str:
    return f"contracts/{instance.contract_id}/{filename}"


class ContractAttachment(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to=_attachment_path, max_length=300)
    name = models.CharField(_("name"), max_length=200)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    uploaded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("contract attachment")
        verbose_name_plural = _("contract attachments")
        ordering = ["contract", "uploaded_at"]

    def __str__(self) -> str:
        return self.name
