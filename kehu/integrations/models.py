"""Integrations (ADR 0022): API tokens with scopes, idempotency keys of creates, webhook subscriptions, their
deliveries and attempts, and the hosts an administrator allows webhooks to reach despite the SSRF guard."""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TokenKind(models.TextChoices):
    PERSONAL = "personal", _("Personal")
    INTEGRATION = "integration", _("Integration")


class ApiToken(models.Model):
    """A bearer token `kehu_<prefix>_<secret>`. Only the SHA-256 of the whole key is stored; the key is shown
    once, at creation. The token acts as `user`, narrowed by `scopes` ("<app>:read", "<app>:write", "*:read")."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=TokenKind.choices, default=TokenKind.PERSONAL)
    prefix = models.CharField(_("prefix"), max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(_("scopes"), default=list)
    rate_per_minute = models.PositiveIntegerField(_("requests per minute"), default=600)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} (kehu_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())


class IdempotencyKey(models.Model):
    """The first answer to a create sent with an Idempotency-Key, replayed for the same key and body."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    path = models.CharField(max_length=500)
    status_code = models.PositiveSmallIntegerField(default=0)
    body = models.JSONField(null=True)
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="integrations_idem_user_key")]

    def __str__(self) -> str:
        return self.key


class AllowedHost(models.Model):
    """A host name or address that webhooks may reach although it is private, loopback or link-local."""

    host = models.CharField(_("host"), max_length=255, unique=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["host"]
        verbose_name = _("allowed webhook host")

    def __str__(self) -> str:
        return self.host


class Subscription(models.Model):
    """A webhook endpoint and the events it receives. Payloads carry what `owner` may see (record scope and
    field rights at the moment of the event)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_subscriptions",
        verbose_name=_("owner"),
    )  # fmt: skip
    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=100)
    events = models.JSONField(_("events"), default=list)
    payload_version = models.CharField(_("payload version"), max_length=10, default="2026-12")
    active = models.BooleanField(_("active"), default=True)
    failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("webhook subscription")

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    DELIVERED = "delivered", _("Delivered")


class Delivery(models.Model):
    """One event for one subscription. Deliveries of the same object go out in id order: a later one waits
    until the earlier ones were delivered."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    event = models.CharField(max_length=60)
    object_key = models.CharField(max_length=80)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="integ_delivery_due"),
            models.Index(fields=["subscription", "object_key", "status"], name="integ_delivery_object"),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk}"

    @property
    def body_json(self):
        return json.loads(self.body)


class Attempt(models.Model):
    """One try of a delivery: the log of response codes."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.response_code or self.error}"
