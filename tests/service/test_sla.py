"""SLA policies and clocks on tickets: matching, business-calendar due times, pausing while pending,
warnings, breaches and escalation by the scheduler (idempotent), breach history."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from kehu.core.models import Notification, Tag
from kehu.service.models import (
    CalendarDay,
    DayKind,
    SlaEvent,
    SlaEventKind,
    SlaPolicy,
    SlaTarget,
    Ticket,
    TicketCategory,
)
from kehu.service.services import conversation, sla, tickets

from .conftest import make_agent

SH = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(frozen_clock, *args):
    frozen_clock.move_to(dt.datetime(*args, tzinfo=SH), tick=False)


@pytest.mark.django_db
def test_policy_by_customer_tag_category_and_priority(agent, customer, policy):
    vip = Tag.objects.create(name="VIP")
    hardware = TicketCategory.objects.create(name="硬件")
    fast = SlaPolicy.objects.create(name="VIP hardware", position=1)
    fast.customer_tags.add(vip)
    fast.categories.add(hardware)
    SlaTarget.objects.create(policy=fast, priority="normal", first_response_minutes=10, resolution_minutes=60)
    plain = tickets.ticket_create(data={"subject": "a", "customer": customer, "category": hardware}, by=agent)
    assert plain.sla_policy == policy  # not VIP
    customer.tags.add(vip)
    vip_ticket = tickets.ticket_create(
        data={"subject": "b", "customer": customer, "category": hardware}, by=agent
    )
    assert vip_ticket.sla_policy == fast
    assert vip_ticket.first_response_due == vip_ticket.created_at + dt.timedelta(minutes=10)
    low = tickets.ticket_create(data={"subject": "c", "customer": customer, "priority": "low"}, by=agent)
    assert low.sla_policy == policy  # the VIP policy has no target for "low" and needs the category anyway
    # a new priority re-applies the targets
    tickets.ticket_update(
        ticket=vip_ticket, data={"priority": "urgent"}, by=agent, expected_version=vip_ticket.version
    )
    vip_ticket.refresh_from_db()
    assert vip_ticket.sla_policy == policy
    assert vip_ticket.first_response_due == vip_ticket.created_at + dt.timedelta(minutes=15)


@pytest.mark.django_db
def test_due_times_follow_the_business_calendar_with_holidays_and_adjusted_days(
    frozen_clock, agent, customer, policy, calendar
):
    policy.calendar = calendar
    policy.save()
    CalendarDay.objects.create(
        calendar=calendar, date=dt.date(2026, 10, 1), kind=DayKind.HOLIDAY, name="国庆节"
    )
    CalendarDay.objects.create(
        calendar=calendar, date=dt.date(2026, 10, 2), kind=DayKind.HOLIDAY, name="国庆节"
    )
    CalendarDay.objects.create(
        calendar=calendar, date=dt.date(2026, 10, 10), kind=DayKind.WORKDAY, name="调休"
    )
    at(frozen_clock, 2026, 9, 30, 17, 30)  # Wednesday evening before National Day
    ticket = tickets.ticket_create(data={"subject": "国庆前报修", "customer": customer}, by=agent)
    # 30 minutes on Wednesday, then 1 and 2 October are holidays, 3–4 a weekend: Monday 09:30
    assert ticket.first_response_due == dt.datetime(2026, 10, 5, 9, 30, tzinfo=SH)
    # resolution 480 min: 30 Wed + 450 Mon → Monday 16:30
    assert ticket.resolution_due == dt.datetime(2026, 10, 5, 16, 30, tzinfo=SH)
    at(frozen_clock, 2026, 10, 9, 17, 0)  # Friday 17:00; Saturday 10 October is an adjusted working day
    friday = tickets.ticket_create(data={"subject": "周五报修", "customer": customer}, by=agent)
    assert friday.first_response_due == dt.datetime(2026, 10, 9, 18, 0, tzinfo=SH)
    # 60 min on Friday, the rest on the adjusted Saturday: 420 min from 09:00
    assert friday.resolution_due == dt.datetime(2026, 10, 10, 16, 0, tzinfo=SH)


@pytest.mark.django_db
def test_pending_customer_pauses_the_resolution_clock(frozen_clock, agent, customer, policy, calendar):
    policy.calendar = calendar
    policy.save()
    at(frozen_clock, 2026, 5, 20, 10, 0)  # Wednesday
    ticket = tickets.ticket_create(data={"subject": "等待客户", "customer": customer}, by=agent)
    assert ticket.resolution_due == dt.datetime(2026, 5, 20, 18, 0, tzinfo=SH)  # 8 h of 09–18
    at(frozen_clock, 2026, 5, 20, 11, 0)
    conversation.ticket_reply(ticket=ticket, body="请提供照片", by=agent, then_status="pending")
    ticket.refresh_from_db()
    assert ticket.sla_next_due is None and ticket.sla_paused_at is not None  # nothing runs while pending
    at(frozen_clock, 2026, 5, 21, 15, 0)  # the customer answers the next afternoon
    conversation.customer_message_receive(ticket=ticket, body="照片见附件", from_email=customer.email)
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.sla_paused_minutes == 7 * 60 + 6 * 60  # 11–18 and 09–15
    # 1 h used before the pause, 7 h left from Thursday 15:00: 3 h on Thursday, 4 h Friday → Friday 13:00
    assert ticket.resolution_due == dt.datetime(2026, 5, 22, 13, 0, tzinfo=SH)
    kinds = list(SlaEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert kinds == [SlaEventKind.PAUSED, SlaEventKind.RESUMED]


@pytest.mark.django_db
def test_scheduler_warns_breaches_and_escalates_once(frozen_clock, queue, customer, policy, admin_user):
    queue.manager = admin_user
    queue.save()
    policy.escalate_reassign = True
    policy.save()
    first = make_agent("first", queues=[queue], display_name="一号")
    second = make_agent("second", queues=[queue], display_name="二号")
    queue.method = "least_loaded"
    queue.save()
    at(frozen_clock, 2026, 5, 20, 10, 0)
    ticket = tickets.ticket_create(
        data={"subject": "无人回复", "customer": customer, "owner": first}, by=first
    )
    at(frozen_clock, 2026, 5, 20, 10, 50)  # 15 minutes before the first response is due: a warning
    assert sla.sla_scan() == {"warnings": 1, "breaches": 0, "escalations": 0}
    assert sla.sla_scan() == {"warnings": 0, "breaches": 0, "escalations": 0}
    assert Notification.objects.filter(user=first, title__contains="SLA").count() == 1
    at(frozen_clock, 2026, 5, 20, 11, 1)
    call_command("service_scheduler", "--now")
    ticket.refresh_from_db()
    assert ticket.first_response_breached and ticket.escalated_at is not None
    assert ticket.owner == second  # the policy puts breached tickets back for another agent
    assert Notification.objects.filter(user=admin_user, title__contains="breached").count() == 1
    assert sla.sla_scan() == {"warnings": 0, "breaches": 0, "escalations": 0}
    history = list(SlaEvent.objects.filter(ticket=ticket).values_list("clock", "kind"))
    assert ("first_response", "warning") in history and ("first_response", "breach") in history
    assert ("first_response", "escalation") in history
    # a late first response keeps the breach on record; the resolution clock still runs
    conversation.ticket_reply(ticket=ticket, body="抱歉久等", by=second)
    ticket.refresh_from_db()
    assert ticket.first_response_breached and ticket.sla_next_due == ticket.resolution_due


@pytest.mark.django_db
def test_resolving_late_records_the_breach(frozen_clock, agent, customer, policy):
    at(frozen_clock, 2026, 5, 20, 10, 0)
    ticket = tickets.ticket_create(
        data={"subject": "慢", "customer": customer, "priority": "urgent"}, by=agent
    )
    at(frozen_clock, 2026, 5, 20, 12, 30)  # resolution target 120 min
    tickets.ticket_set_status(ticket=ticket, status="resolved", by=agent)
    ticket.refresh_from_db()
    assert ticket.resolution_breached
    assert SlaEvent.objects.filter(ticket=ticket, clock="resolution", kind="breach").count() == 1
    assert ticket.sla_check_at is None and ticket.sla_next_due is None


@pytest.mark.django_db
def test_autoclose_after_the_resolved_days(frozen_clock, agent, customer, settings):
    ticket = tickets.ticket_create(data={"subject": "已解决", "customer": customer}, by=agent)
    tickets.ticket_set_status(ticket=ticket, status="resolved", by=agent)
    frozen_clock.shift(dt.timedelta(days=settings.KEHU_TICKET_AUTOCLOSE_DAYS, minutes=1))
    assert tickets.tickets_autoclose(days=settings.KEHU_TICKET_AUTOCLOSE_DAYS) == 1
    assert Ticket.objects.get(pk=ticket.pk).status == "closed"


@pytest.mark.django_db
def test_calendar_and_policy_invariants(calendar):
    from django.core.exceptions import ValidationError

    from kehu.service.models import BusinessCalendar, WorkingHours

    with pytest.raises(ValidationError):
        WorkingHours(
            calendar=calendar, weekday=0, start=dt.time(17), end=dt.time(19)
        ).full_clean()  # overlaps
    WorkingHours(
        calendar=calendar, weekday=5, start=dt.time(22), end=dt.time(0)
    ).full_clean()  # until midnight
    with pytest.raises(ValidationError):
        WorkingHours(calendar=calendar, weekday=5, start=dt.time(10), end=dt.time(9)).full_clean()
    with pytest.raises(ValidationError):
        BusinessCalendar(name="x", time_zone="Mars/Base").full_clean()
    with pytest.raises(ValidationError):  # Sunday has no hours to copy
        CalendarDay(
            calendar=calendar, date=dt.date(2027, 2, 20), kind=DayKind.WORKDAY, hours_like=6
        ).full_clean()
    policy = SlaPolicy(name="p", customer_types=["alien"])
    with pytest.raises(ValidationError):
        policy.full_clean()
    with pytest.raises(ValidationError):
        SlaTarget(
            policy=SlaPolicy.objects.create(name="q"),
            priority="low",
            first_response_minutes=60,
            resolution_minutes=30,
        ).full_clean()


@pytest.mark.django_db
def test_ticket_timestamps_are_timezone_aware(agent, customer):
    ticket = tickets.ticket_create(data={"subject": "tz", "customer": customer}, by=agent)
    assert timezone.is_aware(ticket.created_at) and ticket.first_response_due is None  # no policy: no clock
