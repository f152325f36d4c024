"""SLAs: business calendars (working hours, holidays, adjusted working days 调休), policies with targets per
priority, and the breach history. The clock arithmetic lives in kehu/service/businesstime.py."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import VersionedModel

from .tickets import TicketKind, TicketPriority


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class BusinessCalendar(VersionedModel):
    """Working time in one time zone: weekly hours, plus dated exceptions (public holidays, and the
    weekend days China declares working days to bridge a holiday)."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default=settings.TIME_ZONE)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError({"time_zone": _("Unknown time zone, e.g. Asia/Shanghai.")}) from None


class WorkingHours(models.Model):
    """One working period of a weekday in the calendar's time zone; a day may have several (lunch break).
    An end of 00:00 means midnight at the end of the day."""

    calendar = models.ForeignKey(
        BusinessCalendar, verbose_name=_("calendar"), on_delete=models.CASCADE, related_name="hours"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"))

    class Meta:
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        ordering = ["weekday", "start"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"

    def minutes(self) -> tuple[int, int]:
        """(start, end) in minutes after midnight; an end of 00:00 is 1440."""
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        return start, end or 1440

    def clean(self) -> None:
        if self.start.second or self.end.second:
            raise ValidationError({"start": _("Working hours are whole minutes.")})
        start, end = self.minutes()
        if end <= start:
            raise ValidationError({"end": _("The end must be after the start (00:00 means midnight).")})
        if self.calendar_id:
            for other in WorkingHours.objects.filter(
                calendar_id=self.calendar_id, weekday=self.weekday
            ).exclude(pk=self.pk):
                o_start, o_end = other.minutes()
                if start < o_end and o_start < end:
                    raise ValidationError({"start": _("These hours overlap %(other)s.") % {"other": other}})


class DayKind(models.TextChoices):
    HOLIDAY = "holiday", _("Holiday (closed)")
    WORKDAY = "workday", _("Adjusted working day (调休)")


class CalendarDay(models.Model):
    """A dated exception: a holiday, or an adjusted working day worked with a normal weekday's hours."""

    calendar = models.ForeignKey(
        BusinessCalendar, verbose_name=_("calendar"), on_delete=models.CASCADE, related_name="days"
    )
    date = models.DateField(_("date"))
    kind = models.CharField(_("type"), max_length=8, choices=DayKind.choices)
    name = models.CharField(_("name"), max_length=120, blank=True)
    hours_like = models.PositiveSmallIntegerField(
        _("worked with the hours of"),
        choices=Weekday.choices,
        default=Weekday.MONDAY,
        help_text=_("For an adjusted working day: whose weekday's hours apply."),
    )

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("holidays and adjusted working days")
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="uniq_calendar_day")]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()} {self.name}".strip()

    def clean(self) -> None:
        if self.kind == DayKind.WORKDAY and self.calendar_id:
            if not WorkingHours.objects.filter(
                calendar_id=self.calendar_id, weekday=self.hours_like
            ).exists():
                raise ValidationError(
                    {"hours_like": _("That weekday has no working hours in this calendar.")}
                )


class SlaPolicy(VersionedModel):
    """Targets for the tickets it matches. Policies are tried by position; the first whose conditions all
    hold applies (an empty condition matches everything). Targets are per priority (SlaTarget)."""

    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("position"), default=100)
    active = models.BooleanField(_("active"), default=True)
    customer_types = models.JSONField(
        _("customer types"), default=list, blank=True, help_text=_("Empty: every customer class.")
    )
    customer_tags = models.ManyToManyField(
        "core.Tag",
        verbose_name=_("customer tags (value segment)"),
        blank=True,
        related_name="+",
        help_text=_("The customer has one of these tags (e.g. VIP, key account); empty: any."),
    )
    categories = models.ManyToManyField(
        "service.TicketCategory", verbose_name=_("categories"), blank=True, related_name="+"
    )
    kinds = models.JSONField(_("ticket types"), default=list, blank=True)
    calendar = models.ForeignKey(
        BusinessCalendar,
        verbose_name=_("business calendar"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="policies",
        help_text=_("Empty: the clock runs around the clock."),
    )
    warn_before_minutes = models.PositiveIntegerField(
        _("warn before breach (business minutes)"), default=60, validators=[MaxValueValidator(100_000)]
    )
    escalate_notify_manager = models.BooleanField(_("on breach, notify the queue manager"), default=True)
    escalate_reassign = models.BooleanField(
        _("on breach, put the ticket back in its queue for another agent"), default=False
    )
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from kehu.customers.models import CustomerType

        errors = {}
        if not isinstance(self.customer_types, list) or not set(self.customer_types) <= set(
            CustomerType.values
        ):
            errors["customer_types"] = _("Choose customer types from the list.")
        if not isinstance(self.kinds, list) or not set(self.kinds) <= set(TicketKind.values):
            errors["kinds"] = _("Choose ticket types from the list.")
        if errors:
            raise ValidationError(errors)


class SlaTarget(models.Model):
    policy = models.ForeignKey(
        SlaPolicy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="targets"
    )
    priority = models.CharField(_("priority"), max_length=8, choices=TicketPriority.choices)
    first_response_minutes = models.PositiveIntegerField(
        _("first response within (business minutes)"), validators=[MaxValueValidator(525_600)]
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution within (business minutes)"), validators=[MaxValueValidator(525_600)]
    )

    class Meta:
        verbose_name = _("SLA target")
        verbose_name_plural = _("SLA targets")
        ordering = ["policy", "priority"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "priority"], name="uniq_sla_target_priority")
        ]

    def __str__(self) -> str:
        return f"{self.policy} · {self.get_priority_display()}"

    def clean(self) -> None:
        if self.first_response_minutes < 1 or self.resolution_minutes < 1:
            raise ValidationError({"first_response_minutes": _("Targets are at least one minute.")})
        if self.resolution_minutes < self.first_response_minutes:
            raise ValidationError(
                {"resolution_minutes": _("The resolution target cannot be shorter than the first response.")}
            )


class SlaClock(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    RESOLUTION = "resolution", _("Resolution")


class SlaEventKind(models.TextChoices):
    WARNING = "warning", _("Breach warning")
    BREACH = "breach", _("Breached")
    ESCALATION = "escalation", _("Escalated")
    PAUSED = "paused", _("Clock paused")
    RESUMED = "resumed", _("Clock resumed")


class SlaEvent(models.Model):
    """The SLA history of a ticket: warnings, breaches, escalations, pauses. One row per (ticket, clock,
    kind, due time): the scheduler may run on several workers and never records an event twice."""

    ticket = models.ForeignKey(
        "service.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="sla_events"
    )
    clock = models.CharField(_("target"), max_length=16, choices=SlaClock.choices)
    kind = models.CharField(_("event"), max_length=10, choices=SlaEventKind.choices)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    at = models.DateTimeField(_("when"), default=timezone.now)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("SLA event")
        verbose_name_plural = _("SLA history")
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["ticket", "at"], name="ix_slaevent_ticket"),
            models.Index(fields=["kind", "at"], name="ix_slaevent_kind_at"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "clock", "kind", "due_at"],
                condition=models.Q(kind__in=["warning", "breach", "escalation"]),
                name="uniq_sla_event",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.get_clock_display()} {self.get_kind_display()}"
