"""Received emails: every message is stored raw before it is parsed, so a poisoned one is quarantined with
its reason (and can be looked at or replayed) while the rest keep flowing."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class InboundStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    PROCESSED = "processed", _("Turned into a ticket message")
    QUARANTINED = "quarantined", _("Quarantined")
    DUPLICATE = "duplicate", _("Duplicate (already received)")


class InboundMessage(models.Model):
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    source = models.CharField(_("source"), max_length=10, default="smtp")
    envelope_from = models.CharField(_("envelope sender"), max_length=254, blank=True)
    envelope_to = models.JSONField(_("envelope recipients"), default=list, blank=True)
    peer = models.CharField(_("sent from host"), max_length=120, blank=True)
    raw = models.FileField(_("raw message"), upload_to="service/inbound/%Y/%m/", max_length=300)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    sha256 = models.CharField(max_length=64, unique=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True, db_index=True)
    from_address = models.CharField(_("from"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=InboundStatus.choices, default=InboundStatus.RECEIVED
    )
    reason = models.TextField(_("reason"), blank=True)
    ticket = models.ForeignKey(
        "service.Ticket",
        verbose_name=_("ticket"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)

    class Meta:
        verbose_name = _("received email")
        verbose_name_plural = _("received emails")
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["status", "received_at"], name="ix_inbound_status")]

    def __str__(self) -> str:
        return f"{self.from_address}: {self.subject}"
