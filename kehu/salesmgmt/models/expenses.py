"""Expenses of the sales reps (ADR 0016): a category (configurable), an amount with its currency, the day it
was spent, optionally tied to an opportunity or a visit (and so to a customer's timeline), receipts, and an
approval: draft → awaiting approval → approved / rejected (with a comment; a rejected expense can be changed
and submitted again). A month closed for expenses (`ExpensePeriodClose`) refuses every expense dated in it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import OwnedModel, VersionedModel

ZERO = Decimal("0")
MAX_AMOUNT = Decimal("1000000")


class ExpenseStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


#: an expense its owner may still change (and add receipts to)
EDITABLE = (ExpenseStatus.DRAFT, ExpenseStatus.REJECTED)


class ExpenseCategory(VersionedModel):
    """Configuration: travel, meals with customers, gifts… (administrators and managers keep the list)."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("expense category")
        verbose_name_plural = _("expense categories")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


class ExpensePeriodClose(VersionedModel):
    """A month closed for expenses (the books of that month are done): no expense dated in it is added,
    changed, submitted or decided any more."""

    month = models.DateField(_("month"), unique=True, help_text=_("Any day of the month to close"))
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("closed expense month")
        verbose_name_plural = _("closed expense months")
        ordering = ["-month"]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"

    def clean(self) -> None:
        if self.month is not None:
            self.month = month_start(self.month)


def month_is_closed(day: dt.date | None) -> bool:
    return day is not None and ExpensePeriodClose.objects.filter(month=month_start(day)).exists()


class Expense(OwnedModel):
    category = models.ForeignKey(
        ExpenseCategory, verbose_name=_("category"), on_delete=models.PROTECT, related_name="+"
    )
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    spent_on = models.DateField(_("date"))
    description = models.CharField(_("description"), max_length=300, blank=True)
    opportunity = models.ForeignKey(
        "sales.Opportunity", verbose_name=_("opportunity"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    visit = models.ForeignKey(
        "salesmgmt.Visit", verbose_name=_("visit"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    #: the customer of the opportunity or visit (for the timeline), set by the service
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )  # fmt: skip
    status = models.CharField(
        _("status"), max_length=10, choices=ExpenseStatus.choices, default=ExpenseStatus.DRAFT, editable=False
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+", editable=False,
    )  # fmt: skip
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True, editable=False)
    decision_comment = models.CharField(_("approver's comment"), max_length=300, blank=True, editable=False)

    class Meta:
        verbose_name = _("expense")
        verbose_name_plural = _("expenses")
        ordering = ["-spent_on", "-id"]
        indexes = [
            models.Index(fields=["owner", "spent_on"], name="ix_expense_owner_day"),
            models.Index(fields=["status", "submitted_at"], name="ix_expense_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.spent_on} {self.amount} {self.currency}"

    def get_absolute_url(self) -> str:
        return reverse("salesmgmt:expense", args=[self.pk])

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE

    def clean(self) -> None:
        errors: dict[str, object] = {}
        if self.amount is not None:
            if self.amount <= 0:
                errors["amount"] = _("An expense is a positive amount.")
            elif self.amount > MAX_AMOUNT:
                errors["amount"] = _("An expense is at most %(max)s.") % {"max": MAX_AMOUNT}
        self.currency = (self.currency or "").strip().upper()
        if len(self.currency) != 3 or not self.currency.isalpha():
            errors["currency"] = _("A currency is a three-letter code such as CNY.")
        if self.spent_on is not None:
            if self.spent_on > timezone.localdate():
                errors["spent_on"] = _("An expense cannot lie in the future.")
            elif month_is_closed(self.spent_on):
                errors["spent_on"] = _("%(month)s is closed for expenses.") % {
                    "month": f"{self.spent_on:%Y-%m}"
                }
        if self.category_id and not self.category.active and self._state.adding:
            errors["category"] = _("This category is no longer in use.")
        if self.visit_id and self.opportunity_id and self.visit.customer_id != self.opportunity.customer_id:
            errors["visit"] = _("The visit and the opportunity belong to different customers.")
        if errors:
            raise ValidationError(errors)
        # the customer whose timeline shows the expense
        if self.opportunity_id:
            self.customer_id = self.opportunity.customer_id
        elif self.visit_id:
            self.customer_id = self.visit.customer_id
        else:
            self.customer_id = None


def _receipt_path(instance, filename: str) -> str:
    return f"expenses/{instance.expense_id}/{filename}"


class ExpenseReceipt(models.Model):
    """A receipt (photo, PDF): the type and size rules are the attachments' (KEHU_ATTACHMENT_TYPES/_MAX_BYTES)."""

    expense = models.ForeignKey(
        Expense, verbose_name=_("expense"), on_delete=models.CASCADE, related_name="receipts"
    )
    file = models.FileField(_("file"), upload_to=_receipt_path, max_length=300)
    name = models.CharField(_("name"), max_length=200)
    size = models.PositiveIntegerField(_("size"), default=0, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    uploaded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        ordering = ["expense", "uploaded_at", "id"]

    def __str__(self) -> str:
        return self.name
