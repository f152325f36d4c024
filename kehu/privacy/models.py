"""Privacy: data-subject requests, per-customer audit keys, encrypted sensitive values, erasure tombstones,
retention rules (docs/privacy.md, ADR 0024).

Customers are referred to by plain integer ids, not foreign keys: a customer merge moves every row that points
at a customer (kehu/customers/merge.py) and must not move a person's key or erasure record to someone else;
an erased customer's key must go even if the customer row goes too.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import VersionedModel

#: PIPL art. 50 does not fix a term; the common practice (and GB/T 35273-2020 8.7) is 15 working days; we count
#: calendar days, configurable
DEFAULT_DEADLINE_DAYS = 15


class SubjectKey(models.Model):
    """A customer's data key, wrapped under the master key. Deleting it shreds every sealed audit value."""

    customer_id = models.BigIntegerField(unique=True)
    wrapped = models.TextField()
    key_id = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("subject key")
        verbose_name_plural = _("subject keys")

    def __str__(self) -> str:
        return f"key of customer #{self.customer_id}"


class SensitiveValue(models.Model):
    """One sensitive field value of one record, encrypted under the master key, with its blind index."""

    model = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    field = models.CharField(max_length=60)
    ciphertext = models.TextField()
    blind_index = models.CharField(max_length=64, db_index=True)
    masked = models.CharField(max_length=64, blank=True)
    key_id = models.CharField(max_length=16, blank=True, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("sensitive value")
        verbose_name_plural = _("sensitive values")
        constraints = [
            models.UniqueConstraint(fields=["model", "object_id", "field"], name="uniq_sensitive_value")
        ]
        indexes = [models.Index(fields=["model", "field", "blind_index"])]

    def __str__(self) -> str:
        return f"{self.model}#{self.object_id}.{self.field}"


class RequestKind(models.TextChoices):
    ACCESS = "access", _("Access / portability (export)")
    CORRECTION = "correction", _("Correction")
    ERASURE = "erasure", _("Erasure")


class RequestStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    APPROVED = "approved", _("Approved")
    DONE = "done", _("Done")
    REJECTED = "rejected", _("Rejected")


class RequestChannel(models.TextChoices):
    PORTAL = "portal", _("Customer portal")
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    LETTER = "letter", _("Letter")
    IN_PERSON = "in_person", _("In person")


class PrivacyRequest(VersionedModel):
    """A data subject's request: who asked, who recorded, approved and ran it, what was done, the deadline."""

    kind = models.CharField(_("kind"), max_length=12, choices=RequestKind.choices)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=RequestStatus.choices,
        default=RequestStatus.RECEIVED,
        db_index=True,
    )
    customer_id = models.BigIntegerField(_("customer"), db_index=True)
    #: the customer's name when the request came in, kept until an erasure runs (then masked)
    subject_label = models.CharField(_("data subject"), max_length=200, blank=True)
    requester = models.CharField(
        _("requested by"), max_length=200, help_text=_("Who asked: the customer, a representative")
    )
    channel = models.CharField(_("channel"), max_length=10, choices=RequestChannel.choices)
    verified = models.BooleanField(_("identity verified"), default=False)
    details = models.TextField(_("details"), blank=True)
    #: correction: {field: new value}
    corrections = models.JSONField(_("corrections"), default=dict, blank=True)
    received_on = models.DateField(_("received on"), default=timezone.localdate)
    due_on = models.DateField(_("due on"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("approved by"),
        editable=False,
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True, editable=False)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("carried out by"),
        editable=False,
    )
    done_at = models.DateTimeField(_("carried out at"), null=True, blank=True, editable=False)
    #: what was done: counts per record type, files produced, fields changed (no personal values)
    outcome = models.JSONField(_("what was done"), default=dict, blank=True, editable=False)
    rejection_reason = models.CharField(_("reason for rejection"), max_length=300, blank=True)
    export_file = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("privacy request")
        verbose_name_plural = _("privacy requests")
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["status", "due_on"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in {RequestStatus.RECEIVED, RequestStatus.APPROVED}

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_on < timezone.localdate()

    @staticmethod
    def deadline(received: dt.date) -> dt.date:
        days = int(getattr(settings, "KEHU_PRIVACY_DEADLINE_DAYS", DEFAULT_DEADLINE_DAYS))
        return received + dt.timedelta(days=days)


class Erasure(models.Model):
    """The tombstone of one erased customer. Also appended to the tombstone file (outside the database), so
    `kehu privacy reapply-erasures` can erase again after a restore from a backup taken before."""

    customer_id = models.BigIntegerField(unique=True)
    request_id = models.BigIntegerField(null=True, blank=True)
    erased_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")

    def __str__(self) -> str:
        return f"customer #{self.customer_id} erased"


class RetentionAction(models.TextChoices):
    DELETE = "delete", _("Delete")
    ANONYMISE = "anonymise", _("Anonymise")


class RetentionRule(VersionedModel):
    """Records of one type older than `months` (by `date_field`) and matching the preset condition are deleted
    or anonymised by the scheduled retention run."""

    name = models.CharField(_("name"), max_length=120)
    record_type = models.CharField(_("record type"), max_length=100)
    condition = models.CharField(_("condition"), max_length=40, blank=True)
    date_field = models.CharField(_("age counted from"), max_length=60, default="created_at")
    months = models.PositiveIntegerField(_("keep for (months)"))
    action = models.CharField(_("then"), max_length=10, choices=RetentionAction.choices)
    active = models.BooleanField(_("active"), default=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True, editable=False)
    last_run_count = models.PositiveIntegerField(_("records last run"), default=0, editable=False)

    class Meta:
        verbose_name = _("retention rule")
        verbose_name_plural = _("retention rules")
        ordering = ["record_type", "name"]

    def __str__(self) -> str:
        return self.name
