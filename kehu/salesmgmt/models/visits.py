"""Field visits: planned on the calendar, checked in and out on a phone with the browser's geolocation, with
notes (also typed offline and sent later, idempotent per client id) and a report (ADR 0014)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.models import OwnedModel, VersionedModel


class VisitStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    CHECKED_IN = "in", _("Checked in")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class CustomerLocation(VersionedModel):
    """Where a customer is (its main address's coordinates), for the distance of a check-in."""

    customer = models.OneToOneField(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)

    class Meta:
        verbose_name = _("customer location")
        verbose_name_plural = _("customer locations")

    def __str__(self) -> str:
        return f"{self.latitude}, {self.longitude}"

    def clean(self) -> None:
        if self.latitude is None or self.longitude is None:
            return
        if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
            raise ValidationError({"latitude": _("The coordinates are out of range.")})


class Visit(OwnedModel):
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+"
    )
    opportunity = models.ForeignKey(
        "sales.Opportunity", verbose_name=_("opportunity"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    subject = models.CharField(_("purpose"), max_length=200)
    planned_start = models.DateTimeField(_("planned start"))
    planned_minutes = models.PositiveIntegerField(_("planned duration (minutes)"), default=60)
    status = models.CharField(
        _("status"), max_length=10, choices=VisitStatus.choices, default=VisitStatus.PLANNED, editable=False
    )
    checkin_at = models.DateTimeField(_("checked in at"), null=True, blank=True, editable=False)
    checkin_latitude = models.DecimalField(
        max_digits=9, decimal_places=6, null=True, blank=True, editable=False
    )
    checkin_longitude = models.DecimalField(
        max_digits=9, decimal_places=6, null=True, blank=True, editable=False
    )
    checkin_accuracy = models.DecimalField(
        _("accuracy (m)"), max_digits=9, decimal_places=1, null=True, blank=True, editable=False
    )
    checkin_distance = models.PositiveIntegerField(
        _("distance from the customer (m)"), null=True, blank=True, editable=False
    )
    checkout_at = models.DateTimeField(_("checked out at"), null=True, blank=True, editable=False)
    checkout_latitude = models.DecimalField(
        max_digits=9, decimal_places=6, null=True, blank=True, editable=False
    )
    checkout_longitude = models.DecimalField(
        max_digits=9, decimal_places=6, null=True, blank=True, editable=False
    )
    checkout_accuracy = models.DecimalField(
        max_digits=9, decimal_places=1, null=True, blank=True, editable=False
    )
    report = models.TextField(_("visit report"), blank=True)

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["planned_start", "id"]
        indexes = [models.Index(fields=["owner", "planned_start"], name="ix_visit_owner_start")]

    def __str__(self) -> str:
        return self.subject

    def get_absolute_url(self) -> str:
        return reverse("salesmgmt:visit", args=[self.pk])


class VisitNote(models.Model):
    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    text = models.TextField(_("note"))
    #: generated in the browser: a note sent twice (offline queue retried) is stored once
    client_id = models.UUIDField(default=uuid.uuid4, unique=True)
    written_at = models.DateTimeField(_("written at"))
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("visit note")
        verbose_name_plural = _("visit notes")
        ordering = ["written_at", "id"]

    def __str__(self) -> str:
        return self.text[:60]


def _photo_path(instance, filename: str) -> str:
    return f"visits/{instance.visit_id}/{filename}"


class VisitPhoto(models.Model):
    """An optional photo of a visit (the shop front, the shelf): JPEG, PNG or WebP by content, at most
    KEHU_VISIT_PHOTO_MAX_BYTES (services/visits.py `photo_check`); inherits the visit's scope."""

    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(_("file"), upload_to=_photo_path, max_length=300)
    name = models.CharField(_("name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=40, editable=False)
    size = models.PositiveIntegerField(_("size"), default=0, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("visit photo")
        verbose_name_plural = _("visit photos")
        ordering = ["visit", "uploaded_at", "id"]

    def __str__(self) -> str:
        return self.name
