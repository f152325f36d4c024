"""Campaigns (营销活动): plan, approval, target segments, journeys, the outbox and the contact-rule ledger."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import OwnedModel

from ..contact_rules import MessageKind, Rule
from .segments import Segment


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING_APPROVAL = "pending_approval", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class Campaign(OwnedModel):
    name = models.CharField(_("name"), max_length=200)
    objective = models.TextField(_("objective"), blank=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=CampaignStatus.choices,
        default=CampaignStatus.DRAFT,
        db_index=True,
    )
    start_date = models.DateField(_("start date"), null=True, blank=True)
    end_date = models.DateField(_("end date"), null=True, blank=True)
    budget = models.DecimalField(_("budget"), max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    expected_response_rate = models.DecimalField(
        _("expected response rate (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    segments = models.ManyToManyField(
        Segment, verbose_name=_("target segments"), blank=True, related_name="campaigns"
    )
    channels = models.CharField(
        _("channels"), max_length=100, default="email", blank=True, help_text=_("Email for now")
    )
    submitted_at = models.DateTimeField(_("submitted for approval"), null=True, blank=True, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True, editable=False)
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("marketing:campaign", args=[self.pk])


class StepKind(models.TextChoices):
    SEND = "send", _("Send email")
    WAIT = "wait", _("Wait")
    BRANCH = "branch", _("Branch")
    TASK = "task", _("Create a task for the owner rep")
    END = "end", _("End")


class BranchCondition(models.TextChoices):
    OPENED = "opened", _("Opened the email")
    CLICKED = "clicked", _("Clicked a link")


class JourneyStep(models.Model):
    """One step of a campaign's journey, numbered from 1. After a step the journey goes to the next number,
    except a branch (``yes_step`` / ``no_step``) and the end. A send step waits until its message is sent or
    dropped; a wait step waits ``wait_hours`` from when the customer reached it."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(_("step"))
    kind = models.CharField(_("kind"), max_length=8, choices=StepKind.choices)
    message_kind = models.CharField(
        _("message kind"), max_length=10, choices=MessageKind.choices, default=MessageKind.MARKETING
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(
        _("message"),
        blank=True,
        help_text=_(
            "Plain text; {{ name }}, {{ first_name }}, {{ city }}, {{ company }} and {{ owner }} are "
            "filled in per customer, and every link is tracked."
        ),
    )
    wait_hours = models.PositiveIntegerField(_("wait (hours)"), default=0)
    condition = models.CharField(_("condition"), max_length=8, choices=BranchCondition.choices, blank=True)
    condition_step = models.PositiveIntegerField(_("of the email sent at step"), null=True, blank=True)
    yes_step = models.PositiveIntegerField(_("then go to step"), null=True, blank=True)
    no_step = models.PositiveIntegerField(_("otherwise go to step"), null=True, blank=True)
    task_title = models.CharField(_("task title"), max_length=200, blank=True)
    task_due_days = models.PositiveIntegerField(_("task due in (days)"), default=1)

    class Meta:
        verbose_name = _("journey step")
        verbose_name_plural = _("journey steps")
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "position"], name="marketing_step_position_once")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"


class EnrolmentStatus(models.TextChoices):
    ACTIVE = "active", _("In the journey")
    DONE = "done", _("Finished")


class Enrolment(models.Model):
    """A customer's place in a campaign's journey: the step and when it is due."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="enrolments")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=1)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=EnrolmentStatus.choices, default=EnrolmentStatus.ACTIVE)
    entered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="marketing_enrolment_once")
        ]
        indexes = [models.Index(fields=["campaign", "status", "position", "due_at"], name="ix_enrolment_due")]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.customer_id}@{self.position}"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    HELD = "held", _("Held by a contact rule")
    SENT = "sent", _("Sent")
    DROPPED = "dropped", _("Dropped")
    FAILED = "failed", _("Failed")


FINAL_STATUSES = (MessageStatus.SENT, MessageStatus.DROPPED, MessageStatus.FAILED)


class Message(models.Model):
    """One message of one send step to one customer: the outbox row that workers claim (ADR 0015)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="messages")
    step = models.ForeignKey(JourneyStep, on_delete=models.CASCADE, related_name="messages")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(_("channel"), max_length=8, default="email")
    kind = models.CharField(_("message kind"), max_length=10, choices=MessageKind.choices)
    status = models.CharField(
        _("status"), max_length=8, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    not_before = models.DateTimeField(_("not before"))
    created_at = models.DateTimeField(default=timezone.now)
    claimed_by = models.CharField(max_length=40, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    rule = models.CharField(_("held or dropped by"), max_length=16, choices=Rule.choices, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    to_address = models.CharField(_("to"), max_length=254, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    logged = models.BooleanField(default=False)  # on the customer's timeline
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked at"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign message")
        verbose_name_plural = _("campaign messages")
        constraints = [
            models.UniqueConstraint(fields=["step", "customer"], name="marketing_message_once_per_step")
        ]
        indexes = [
            models.Index(fields=["status", "not_before"], name="ix_message_due"),
            models.Index(fields=["campaign", "status"], name="ix_message_campaign_status"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.step_id}/{self.customer_id}"


class RuleHold(models.Model):
    """Each time a rule held a message back (or dropped it): the campaign page counts these per rule."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="holds")
    rule = models.CharField(max_length=16, choices=Rule.choices)
    dropped = models.BooleanField(default=False)
    until = models.DateTimeField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["campaign", "rule"], name="ix_rulehold_campaign_rule")]

    def __str__(self) -> str:
        return f"{self.message_id}:{self.rule}"


class ContactProfile(models.Model):
    """Per customer: the time zone the send windows are read in, and the row a sender locks (FOR UPDATE)
    while it checks and reserves the customer's next marketing message, so that concurrent workers
    serialise per customer."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, primary_key=True, related_name="contact_profile"
    )
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.time_zone}"


class ContactLedger(models.Model):
    """The marketing messages a customer was sent (or is being sent), one row per local calendar day: the
    unique (customer, day) is the database's own guarantee of the one-per-day cap."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="ledger")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "day"], name="marketing_one_message_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.day}"


class DoNotContact(models.Model):
    """The global do-not-contact list: a customer, an email address, or both. Nothing is sent to them."""

    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    email = models.CharField(_("email"), max_length=254, blank=True, db_index=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("do-not-contact entry")
        verbose_name_plural = _("do-not-contact list")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.email or str(self.customer_id)
