"""Service contracts (服务合同): coverage of a customer's installed units, their SLA, visit allowance and
validity. Sales contracts (合同) live in kehu/sales; a service contract may be sold by one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import OwnedModel


class Coverage(models.TextChoices):
    FULL = "full", _("Parts and labour")
    LABOUR = "labour", _("Labour only")
    PARTS = "parts", _("Parts only")
    REMOTE = "remote", _("Remote support only")


class ServiceContractStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


class ServiceContract(OwnedModel):
    number = models.CharField(_("number"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="service_contracts",
    )
    units = models.ManyToManyField(
        "products.InstalledProduct",
        verbose_name=_("covered units"),
        blank=True,
        related_name="service_contracts",
        help_text=_("Empty: every unit of the customer."),
    )
    coverage = models.CharField(_("coverage"), max_length=8, choices=Coverage.choices, default=Coverage.FULL)
    sla_policy = models.ForeignKey(
        "service.SlaPolicy",
        verbose_name=_("SLA policy"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contracts",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ServiceContractStatus.choices, default=ServiceContractStatus.DRAFT
    )
    start_date = models.DateField(_("valid from"))
    end_date = models.DateField(_("valid until"))
    visits_allowed = models.PositiveIntegerField(
        _("on-site visits included"), null=True, blank=True, help_text=_("Empty: unlimited.")
    )
    visits_used = models.PositiveIntegerField(_("visits used"), default=0, editable=False)
    price = models.DecimalField(
        _("price"),
        max_digits=16,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    renewal_reminder_days = models.PositiveIntegerField(
        _("remind of renewal (days before the end)"), default=30
    )
    renewal_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("service contract")
        verbose_name_plural = _("service contracts")
        ordering = ["-end_date", "-id"]
        indexes = [
            models.Index(fields=["customer", "status", "end_date"], name="ix_scontract_customer"),
            models.Index(fields=["status", "end_date"], name="ix_scontract_renewal"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")), name="scontract_dates_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("service:contract", args=[self.pk])

    def covers_on(self, day: dt.date | None = None) -> bool:
        day = day or timezone.localdate()
        return self.status == ServiceContractStatus.ACTIVE and self.start_date <= day <= self.end_date

    @property
    def visits_left(self) -> int | None:
        return None if self.visits_allowed is None else max(self.visits_allowed - self.visits_used, 0)

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        errors = {}
        self.number = clean_text(self.number).upper()
        self.name = clean_text(self.name)
        self.currency = (self.currency or "").upper()
        if not self.number:
            errors["number"] = _("Enter the contract number.")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            errors["end_date"] = _("The contract cannot end before it starts.")
        if self.visits_allowed is not None and self.visits_used > self.visits_allowed:
            errors["visits_allowed"] = _("More visits were already used than this allows.")
        if len(self.currency) != 3 or not self.currency.isalpha():
            errors["currency"] = _("Use a three-letter currency code such as CNY or USD.")
        if errors:
            raise ValidationError(errors)
