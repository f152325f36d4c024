"""Interactions: the one timeline of every channel per customer (rolled up per account), tasks and reminders."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import OwnedModel, VersionedModel


class InteractionChannel(models.TextChoices):
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    WEB_FORM = "web_form", _("Web form")
    FAX = "fax", _("Fax")
    LETTER = "letter", _("Letter")
    VISIT = "visit", _("Visit")
    MEETING = "meeting", _("Meeting")
    NOTE = "note", _("Note")
    EVENT = "event", _("Event")


class Direction(models.TextChoices):
    INBOUND = "in", _("Inbound")
    OUTBOUND = "out", _("Outbound")
    INTERNAL = "internal", _("Internal")


class Interaction(VersionedModel):
    """One contact with a customer on any channel, or an event from another app (order, ticket, campaign)."""

    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="interactions",
    )
    # the account whose timeline shows this entry: the contact's account, or the customer itself
    account = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", editable=False
    )
    channel = models.CharField(_("channel"), max_length=10, choices=InteractionChannel.choices)
    direction = models.CharField(
        _("direction"), max_length=8, choices=Direction.choices, default=Direction.OUTBOUND
    )
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("details"), blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    related_model = models.CharField(max_length=100, blank=True, editable=False)
    related_id = models.CharField(max_length=64, blank=True, editable=False)
    url = models.CharField(max_length=300, blank=True, editable=False)
    external_ref = models.CharField(
        _("external reference"), max_length=120, null=True, blank=True, unique=True
    )

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-occurred_at", "-id"], name="ix_interaction_customer_time"),
            models.Index(fields=["account", "-occurred_at", "-id"], name="ix_interaction_account_time"),
        ]
        constraints = [
            # one timeline entry per event of another app: timeline_event_record is idempotent under races
            models.UniqueConstraint(
                fields=["related_model", "related_id"],
                condition=~models.Q(related_model=""),
                name="uniq_interaction_related",
            ),
        ]

    def __str__(self) -> str:
        return self.subject

    def get_absolute_url(self) -> str:
        return reverse("interactions:detail", args=[self.pk])

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        self.subject = clean_text(self.subject)
        self.external_ref = (self.external_ref or "").strip() or None  # "" must not collide as a value
        if not self.subject:
            raise ValidationError({"subject": _("Enter a subject.")})
        if self.occurred_at and self.occurred_at > timezone.now() + timezone.timedelta(days=366):
            raise ValidationError({"occurred_at": _("The date is more than a year in the future.")})
        if (self.latitude is None) != (self.longitude is None):
            raise ValidationError({"latitude": _("Give both latitude and longitude, or neither.")})
        if self.latitude is not None and not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
            raise ValidationError({"latitude": _("The coordinates are out of range.")})
        if self.customer_id:
            from kehu.customers.models import Customer

            account_id = (
                Customer.objects.filter(pk=self.customer_id).values_list("account_id", flat=True).first()
            )
            self.account_id = account_id or self.customer_id


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")


class Task(OwnedModel):
    """A follow-up: the owner is the assignee (record scope follows the assignee)."""

    title = models.CharField(_("title"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tasks",
    )
    due_at = models.DateTimeField(_("due"), db_index=True)
    remind_at = models.DateTimeField(_("remind at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    priority = models.CharField(
        _("priority"), max_length=8, choices=Priority.choices, default=Priority.NORMAL
    )
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["owner", "status", "due_at"], name="ix_task_owner_status_due"),
            models.Index(fields=["status", "remind_at"], name="ix_task_reminders"),
            models.Index(fields=["customer", "status"], name="ix_task_customer_status"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("interactions:task", args=[self.pk])

    @property
    def is_overdue(self) -> bool:
        return self.status == TaskStatus.OPEN and self.due_at < timezone.now()

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        self.title = clean_text(self.title)
        if not self.title:
            raise ValidationError({"title": _("Enter a title.")})
        if self.remind_at and self.due_at and self.remind_at > self.due_at:
            raise ValidationError({"remind_at": _("The reminder must not be after the due time.")})
