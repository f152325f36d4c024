"""Field service: work orders dispatched to engineers, on-site check-in/out with GPS, the completion report
with the customer's sign-off."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.models import OwnedModel


class WorkOrderKind(models.TextChoices):
    REPAIR = "repair", _("Repair")
    INSTALLATION = "installation", _("Installation")
    MAINTENANCE = "maintenance", _("Maintenance")
    INSPECTION = "inspection", _("Inspection")


class WorkOrderStatus(models.TextChoices):
    NEW = "new", _("New")
    SCHEDULED = "scheduled", _("Scheduled")
    IN_PROGRESS = "in_progress", _("On site")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


def _check_point(errors: dict, name: str, lat, lng) -> None:
    if (lat is None) != (lng is None):
        errors[f"{name}_latitude"] = _("Give both latitude and longitude, or neither.")
    elif lat is not None and not (-90 <= lat <= 90 and -180 <= lng <= 180):
        errors[f"{name}_latitude"] = _("The coordinates are out of range.")


class WorkOrder(OwnedModel):
    """An on-site job. `owner` is the engineer it is dispatched to (the record scope follows the engineer)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("engineer"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    ticket = models.ForeignKey(
        "service.Ticket",
        verbose_name=_("ticket"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="work_orders",
    )
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="work_orders"
    )
    installed_product = models.ForeignKey(
        "products.InstalledProduct",
        verbose_name=_("installed product"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="work_orders",
    )
    service_contract = models.ForeignKey(
        "service.ServiceContract",
        verbose_name=_("service contract"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="work_orders",
    )
    kind = models.CharField(
        _("type"), max_length=12, choices=WorkOrderKind.choices, default=WorkOrderKind.REPAIR
    )
    status = models.CharField(
        _("status"), max_length=12, choices=WorkOrderStatus.choices, default=WorkOrderStatus.NEW
    )
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    region = models.CharField(_("region"), max_length=80, blank=True)
    site_address = models.CharField(_("site address"), max_length=300, blank=True)
    scheduled_start = models.DateTimeField(_("scheduled from"), null=True, blank=True)
    scheduled_end = models.DateTimeField(_("scheduled until"), null=True, blank=True)
    check_in_at = models.DateTimeField(_("checked in"), null=True, blank=True, editable=False)
    check_in_latitude = models.DecimalField(
        max_digits=9, decimal_places=6, null=True, blank=True, editable=False
    )
    check_in_longitude = models.DecimalField(
        max_digits=9, decimal_places=6, null=True, blank=True, editable=False
    )
    check_out_at = models.DateTimeField(_("checked out"), null=True, blank=True, editable=False)
    check_out_latitude = models.DecimalField(
        max_digits=9, decimal_places=6, null=True, blank=True, editable=False
    )
    check_out_longitude = models.DecimalField(
        max_digits=9, decimal_places=6, null=True, blank=True, editable=False
    )
    report = models.TextField(_("completion report"), blank=True)
    labour_minutes = models.PositiveIntegerField(_("labour (minutes)"), null=True, blank=True)
    signature = models.FileField(
        _("customer signature"), upload_to="service/signatures/%Y/%m/", null=True, blank=True, editable=False
    )
    signed_by = models.CharField(_("signed by"), max_length=120, blank=True)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True, editable=False)
    customer_rating = models.PositiveSmallIntegerField(
        _("customer rating"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    customer_feedback = models.TextField(_("customer feedback"), blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("work order")
        verbose_name_plural = _("work orders")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "status", "scheduled_start"], name="ix_workorder_engineer"),
            models.Index(fields=["status", "scheduled_start"], name="ix_workorder_schedule"),
            models.Index(fields=["customer", "-created_at"], name="ix_workorder_customer"),
            models.Index(fields=["installed_product", "-created_at"], name="ix_workorder_unit"),
        ]

    def __str__(self) -> str:
        return f"WO-{self.pk} {self.subject}" if self.pk else self.subject

    def get_absolute_url(self) -> str:
        return reverse("service:workorder", args=[self.pk])

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        errors: dict = {}
        self.subject = clean_text(self.subject)
        if not self.subject:
            errors["subject"] = _("Enter a subject.")
        if self.scheduled_start and self.scheduled_end and self.scheduled_end <= self.scheduled_start:
            errors["scheduled_end"] = _("The visit must end after it starts.")
        if self.check_in_at and self.check_out_at and self.check_out_at < self.check_in_at:
            errors["check_out_at"] = _("Check-out cannot be before check-in.")
        if self.check_out_at and not self.check_in_at:
            errors["check_out_at"] = _("Check in before checking out.")
        _check_point(errors, "check_in", self.check_in_latitude, self.check_in_longitude)
        _check_point(errors, "check_out", self.check_out_latitude, self.check_out_longitude)
        if self.signature and not self.signed_by:
            errors["signed_by"] = _("Enter the name of who signed.")
        if self.status == WorkOrderStatus.SCHEDULED and not (self.scheduled_start and self.owner_id):
            errors["scheduled_start"] = _("A scheduled work order has an engineer and a time.")
        if self.installed_product_id and self.customer_id:
            unit = self.installed_product
            if unit.customer_id != self.customer_id and unit.customer.account_id != self.customer_id:
                errors["installed_product"] = _("This product unit is not held by the customer.")
        if (
            self.service_contract_id
            and self.customer_id
            and self.service_contract.customer_id != self.customer_id
        ):
            errors["service_contract"] = _("This service contract belongs to another customer.")
        if errors:
            raise ValidationError(errors)
