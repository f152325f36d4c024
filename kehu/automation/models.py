"""Workflow rules (ADR 0019): a rule is configured by an administrator in the UI — record type, trigger,
conditions (the segment rule tree, ADR 0012) and actions — and runs in background tasks with its owner's
rights. Every run is logged; every change of a rule keeps a version."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import OwnedModel


class Trigger(models.TextChoices):
    CREATED = "created", _("Record created")
    FIELD_CHANGED = "field_changed", _("Field changed")
    STAGE_ENTERED = "stage_entered", _("Stage entered")
    DATE_REACHED = "date_reached", _("Date reached")
    NO_ACTIVITY = "no_activity", _("Time without activity")
    INBOUND = "inbound_message", _("Inbound message")
    SCHEDULE = "schedule", _("Schedule")


#: triggers fired by a record write (the others are found by the scheduler's scan)
WRITE_TRIGGERS = (Trigger.CREATED, Trigger.FIELD_CHANGED, Trigger.STAGE_ENTERED, Trigger.INBOUND)
TIME_TRIGGERS = (Trigger.DATE_REACHED, Trigger.NO_ACTIVITY, Trigger.SCHEDULE)


class Rule(OwnedModel):
    """One workflow rule. The owner is the user whose rights the rule acts with (ADR 0019)."""

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    model = models.CharField(_("record type"), max_length=60)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices)
    #: per trigger: field/from/to, stages, date_field/days_before, days, cron
    trigger_config = models.JSONField(_("trigger settings"), default=dict, blank=True)
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    actions = models.JSONField(_("actions"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=False)
    #: what the actions remember between runs (the round-robin pointer)
    state = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        verbose_name = _("workflow rule")
        verbose_name_plural = _("workflow rules")
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["model", "trigger", "active"], name="ix_rule_model_trigger")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("automation:rule", args=[self.pk])


class RuleVersion(models.Model):
    """The rule as it was saved, one row per version (the record's `version`)."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    snapshot = models.JSONField(default=dict)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("rule version")
        verbose_name_plural = _("rule versions")
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["rule", "number"], name="automation_version_once")]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.number}"


class RunStatus(models.TextChoices):
    SUCCEEDED = "succeeded", _("Succeeded")
    SKIPPED = "skipped", _("Conditions not met")
    RETRYING = "retrying", _("Failed, will retry")
    FAILED = "failed", _("Failed")
    LOOP = "loop", _("Stopped: depth limit")
    DRY_RUN = "dry_run", _("Dry run")


class RuleRun(models.Model):
    """One run of one rule on one record: the trigger, the record, each action and its outcome."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="runs")
    rule_version = models.PositiveIntegerField(_("rule version"))
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices)
    model = models.CharField(max_length=60)
    object_id = models.CharField(max_length=40)
    object_repr = models.CharField(_("record"), max_length=200, blank=True)
    event = models.JSONField(default=dict, blank=True)
    depth = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(_("outcome"), max_length=10, choices=RunStatus.choices)
    outcomes = models.JSONField(_("actions"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("rule run")
        verbose_name_plural = _("rule runs")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["rule", "-at"], name="ix_rulerun_rule_at"),
            models.Index(fields=["model", "object_id"], name="ix_rulerun_record"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}:{self.object_id}:{self.status}"


class RuleFire(models.Model):
    """A time trigger fired for a record (key: the date reached, the quiet period, the scheduled minute):
    the scheduler's scan fires each only once, however often it runs."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(max_length=40)
    key = models.CharField(max_length=60)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "object_id", "key"], name="automation_fire_once")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}:{self.object_id}:{self.key}"
