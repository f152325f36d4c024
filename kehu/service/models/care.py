"""Care plans: scheduled proactive contacts for key customers (birthdays, warranty expiry, maintenance due,
no contact for N days), creating tasks or messages; CareAction records each, once per customer and date."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import VersionedModel


class CareTrigger(models.TextChoices):
    BIRTHDAY = "birthday", _("Birthday")
    WARRANTY_EXPIRY = "warranty", _("Warranty about to end")
    MAINTENANCE_DUE = "maintenance", _("Maintenance due")
    NO_CONTACT = "no_contact", _("No contact for a while")


class CareActionKind(models.TextChoices):
    TASK = "task", _("Create a task for the owner")
    MESSAGE = "message", _("Send a message")


class CarePlan(VersionedModel):
    name = models.CharField(_("name"), max_length=120)
    trigger = models.CharField(_("when"), max_length=12, choices=CareTrigger.choices)
    days_before = models.PositiveIntegerField(_("days ahead"), default=7)
    no_contact_days = models.PositiveIntegerField(_("days without contact"), null=True, blank=True)
    maintenance_interval_months = models.PositiveIntegerField(
        _("maintenance every (months)"), null=True, blank=True
    )
    customer_types = models.JSONField(_("customer types"), default=list, blank=True)
    customer_tags = models.ManyToManyField(
        "core.Tag", verbose_name=_("customer tags (key customers)"), blank=True, related_name="+"
    )
    action = models.CharField(
        _("action"), max_length=8, choices=CareActionKind.choices, default=CareActionKind.TASK
    )
    task_title = models.CharField(_("task title"), max_length=200, blank=True)
    message_subject = models.CharField(_("message subject"), max_length=200, blank=True)
    message_body = models.TextField(_("message text"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("care plan")
        verbose_name_plural = _("care plans")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from kehu.customers.models import CustomerType

        errors = {}
        if self.trigger == CareTrigger.NO_CONTACT and not self.no_contact_days:
            errors["no_contact_days"] = _("Say after how many days without contact.")
        if self.trigger == CareTrigger.MAINTENANCE_DUE and not self.maintenance_interval_months:
            errors["maintenance_interval_months"] = _("Say how often maintenance is due.")
        if self.action == CareActionKind.TASK and not self.task_title.strip():
            errors["task_title"] = _("Enter the task title.")
        if self.action == CareActionKind.MESSAGE and not (
            self.message_subject.strip() and self.message_body.strip()
        ):
            errors["message_body"] = _("Enter the message subject and text.")
        if not isinstance(self.customer_types, list) or not set(self.customer_types) <= set(
            CustomerType.values
        ):
            errors["customer_types"] = _("Choose customer types from the list.")
        if errors:
            raise ValidationError(errors)


class CareActionStatus(models.TextChoices):
    CREATED = "created", _("Created")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")


class CareAction(models.Model):
    plan = models.ForeignKey(
        CarePlan, verbose_name=_("care plan"), on_delete=models.CASCADE, related_name="actions"
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="care_actions",
    )
    due_date = models.DateField(_("for"))
    status = models.CharField(_("status"), max_length=8, choices=CareActionStatus.choices)
    task = models.ForeignKey(
        "interactions.Task",
        verbose_name=_("task"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("care action")
        verbose_name_plural = _("care actions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "customer", "due_date"], name="uniq_care_action")
        ]

    def __str__(self) -> str:
        return f"{self.plan} · {self.customer_id} · {self.due_date}"
