"""Call centre: IVR menu definitions (a tree of prompts leading to queues), call logs written by the
telephony adapter, and outbound call lists (surveys, callbacks)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import VersionedModel


class IvrMenu(VersionedModel):
    name = models.CharField(_("name"), max_length=120)
    phone_number = models.CharField(_("dialled number"), max_length=20, blank=True)
    greeting = models.TextField(_("greeting"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("IVR menu")
        verbose_name_plural = _("IVR menus")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IvrAction(models.TextChoices):
    SUBMENU = "submenu", _("Play a sub-menu")
    QUEUE = "queue", _("Transfer to a queue")
    VOICEMAIL = "voicemail", _("Leave a voicemail (callback)")
    HANGUP = "hangup", _("Play the prompt and hang up")


IVR_DIGITS = "0123456789*#"


class IvrNode(models.Model):
    """One choice of a menu: the caller presses `digit` under `parent` (the root has neither)."""

    menu = models.ForeignKey(IvrMenu, verbose_name=_("menu"), on_delete=models.CASCADE, related_name="nodes")
    parent = models.ForeignKey(
        "self",
        verbose_name=_("under"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
    )
    digit = models.CharField(_("key"), max_length=1, blank=True)
    prompt = models.TextField(_("prompt"))
    action = models.CharField(_("then"), max_length=10, choices=IvrAction.choices, default=IvrAction.SUBMENU)
    queue = models.ForeignKey(
        "service.Queue",
        verbose_name=_("queue"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("IVR choice")
        verbose_name_plural = _("IVR choices")
        ordering = ["menu", "parent_id", "position", "digit"]
        constraints = [
            models.UniqueConstraint(fields=["menu", "parent", "digit"], name="uniq_ivr_digit"),
            models.UniqueConstraint(
                fields=["menu"], condition=models.Q(parent__isnull=True), name="uniq_ivr_root"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.menu} {self.digit or '·'}"

    def clean(self) -> None:
        errors = {}
        if self.parent_id is None and self.digit:
            errors["digit"] = _("The menu's first prompt has no key.")
        if self.parent_id is not None:
            if len(self.digit) != 1 or self.digit not in IVR_DIGITS:
                errors["digit"] = _("Use one key: 0–9, * or #.")
            if self.parent.menu_id != self.menu_id:
                errors["parent"] = _("The parent choice belongs to another menu.")
            if self.parent.action != IvrAction.SUBMENU:
                errors["parent"] = _("Only a sub-menu has choices under it.")
            node, seen = self.parent, set()
            while node is not None and node.pk not in seen:
                if self.pk and node.pk == self.pk:
                    errors["parent"] = _("A choice cannot be placed under itself.")
                    break
                seen.add(node.pk)
                node = node.parent
        if self.action == IvrAction.QUEUE and not self.queue_id:
            errors["queue"] = _("Choose the queue the call goes to.")
        if self.action != IvrAction.QUEUE and self.queue_id:
            errors["queue"] = _("Only a transfer goes to a queue.")
        if errors:
            raise ValidationError(errors)


class CallDirection(models.TextChoices):
    INBOUND = "in", _("Inbound")
    OUTBOUND = "out", _("Outbound")


class CallStatus(models.TextChoices):
    RINGING = "ringing", _("Ringing")
    QUEUED = "queued", _("Waiting in queue")
    ANSWERED = "answered", _("Answered")
    MISSED = "missed", _("Missed")
    VOICEMAIL = "voicemail", _("Voicemail")
    ENDED = "ended", _("Ended")


class CallLog(VersionedModel):
    """A call as the telephony adapter reports it (events keyed by the switch's call id)."""

    external_id = models.CharField(_("call id"), max_length=120, unique=True)
    direction = models.CharField(_("direction"), max_length=3, choices=CallDirection.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=CallStatus.choices, default=CallStatus.RINGING
    )
    caller_number = models.CharField(_("caller"), max_length=32, blank=True)
    called_number = models.CharField(_("called"), max_length=32, blank=True)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calls",
    )
    queue = models.ForeignKey(
        "service.Queue",
        verbose_name=_("queue"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ivr_path = models.CharField(_("IVR keys pressed"), max_length=40, blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"), null=True, blank=True)
    recording_ref = models.CharField(_("recording"), max_length=300, blank=True)
    ticket = models.ForeignKey(
        "service.Ticket",
        verbose_name=_("ticket"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calls",
    )

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-started_at"], name="ix_call_customer"),
            models.Index(fields=["agent", "-started_at"], name="ix_call_agent"),
            models.Index(fields=["caller_number"], name="ix_call_caller"),
        ]

    def __str__(self) -> str:
        return f"{self.caller_number} → {self.called_number}"

    def clean(self) -> None:
        if self.answered_at and self.answered_at < self.started_at:
            raise ValidationError({"answered_at": _("A call is answered after it starts.")})
        if self.ended_at and self.ended_at < self.started_at:
            raise ValidationError({"ended_at": _("A call ends after it starts.")})


class CallListPurpose(models.TextChoices):
    SURVEY = "survey", _("Satisfaction survey")
    CALLBACK = "callback", _("Callback")
    CARE = "care", _("Customer care")
    CAMPAIGN = "campaign", _("Campaign")


class CallList(VersionedModel):
    name = models.CharField(_("name"), max_length=120)
    purpose = models.CharField(_("purpose"), max_length=10, choices=CallListPurpose.choices)
    queue = models.ForeignKey(
        "service.Queue",
        verbose_name=_("queue"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    survey = models.ForeignKey(
        "service.Survey",
        verbose_name=_("survey"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    due_by = models.DateField(_("call by"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("call list")
        verbose_name_plural = _("call lists")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.purpose == CallListPurpose.SURVEY and not self.survey_id:
            raise ValidationError({"survey": _("A survey call list names its survey.")})


class CallListEntryStatus(models.TextChoices):
    PENDING = "pending", _("To call")
    DONE = "done", _("Done")
    NO_ANSWER = "no_answer", _("No answer")
    SKIPPED = "skipped", _("Skipped")


class CallListEntry(VersionedModel):
    call_list = models.ForeignKey(
        CallList, verbose_name=_("call list"), on_delete=models.CASCADE, related_name="entries"
    )
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    phone = models.CharField(_("phone"), max_length=20)
    status = models.CharField(
        _("status"), max_length=10, choices=CallListEntryStatus.choices, default=CallListEntryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ticket = models.ForeignKey(
        "service.Ticket",
        verbose_name=_("ticket"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    result = models.CharField(_("result"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("call list entry")
        verbose_name_plural = _("call list entries")
        ordering = ["call_list", "next_attempt_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["call_list", "customer"], name="uniq_call_list_customer")
        ]
        indexes = [models.Index(fields=["call_list", "status", "next_attempt_at"], name="ix_calllist_todo")]

    def __str__(self) -> str:
        return f"{self.call_list}: {self.phone}"

    def clean(self) -> None:
        from kehu.customers.normalize import normalize_phone

        try:
            self.phone = normalize_phone(self.phone)
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages}) from None
