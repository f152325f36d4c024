"""SLA clocks of tickets: which policy applies, due times in business time, pauses, warnings, breaches and
escalation.

Clock model (ADR 0008): both targets count business minutes of the policy's calendar from the ticket's
creation. The resolution clock stands still while the ticket waits for the customer (pending) or is
resolved; the business minutes it stood still are added to its target, so the due time is always
`add(created_at, target + paused minutes)` and can be recomputed at any time (priority change, new policy).
The first-response clock never pauses. Functions named `clock_*` change a ticket the caller has locked and
saves; `sla_scan` is the scheduler's job (`manage.py service_scheduler`).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.models import AuditAction, User
from kehu.core.services import notify

from .. import businesstime as bt
from ..models import (
    ACTIVE_STATUSES,
    BusinessCalendar,
    DayKind,
    SlaClock,
    SlaEvent,
    SlaEventKind,
    SlaPolicy,
    SlaTarget,
    Ticket,
    TicketStatus,
)

log = logging.getLogger(__name__)


def calendar_spec(calendar: BusinessCalendar | None) -> bt.CalendarSpec:
    """The business-time description of a calendar (two queries); none runs around the clock."""
    if calendar is None:
        return bt.CalendarSpec.around_the_clock()
    hours = [(h.weekday, *h.minutes()) for h in calendar.hours.all()]
    days = list(calendar.days.all())
    return bt.CalendarSpec.build(
        time_zone=calendar.time_zone,
        hours=hours,
        holidays=[d.date for d in days if d.kind == DayKind.HOLIDAY],
        workdays={d.date: d.hours_like for d in days if d.kind == DayKind.WORKDAY},
    )


class _Specs:
    """Calendar specs loaded once per operation (the scheduler handles many tickets of few calendars)."""

    def __init__(self) -> None:
        self._cache: dict[int | None, bt.CalendarSpec] = {}

    def of(self, policy: SlaPolicy | None) -> bt.CalendarSpec:
        key = policy.calendar_id if policy is not None else None
        if key not in self._cache:
            self._cache[key] = calendar_spec(policy.calendar if policy is not None else None)
        return self._cache[key]


def _matches(policy: SlaPolicy, ticket: Ticket, tag_ids: set[int]) -> bool:
    customer = ticket.customer
    if policy.customer_types and (customer is None or customer.customer_type not in policy.customer_types):
        return False
    wanted_tags = {t.pk for t in policy.customer_tags.all()}
    if wanted_tags and not wanted_tags & tag_ids:
        return False
    categories = {c.pk for c in policy.categories.all()}
    if categories and ticket.category_id not in categories:
        return False
    return not (policy.kinds and ticket.kind not in policy.kinds)


#: functions customer -> SlaPolicy | None asked after the service contract and before the matching rules;
#: other apps append to it at start-up (analytics: the SLA policy of the customer's value strategy)
POLICY_SOURCES: list = []


def policy_for(ticket: Ticket) -> tuple[SlaPolicy | None, SlaTarget | None]:
    """The policy and target of a ticket: its service contract's policy while the contract covers it, else a
    policy from POLICY_SOURCES (the customer's value strategy) that has a target for the priority, else the
    first active policy (by position) whose conditions match and that has a target for the priority."""
    contract = ticket.service_contract if ticket.service_contract_id else None
    if contract is not None and contract.sla_policy_id and contract.covers_on(timezone.localdate()):
        target = SlaTarget.objects.filter(policy_id=contract.sla_policy_id, priority=ticket.priority).first()
        if target is not None:
            return contract.sla_policy, target
    customer = ticket.customer if ticket.customer_id else None
    for source in POLICY_SOURCES:  # e.g. the service level of the customer's value strategy (analytics)
        policy = source(customer) if customer is not None else None
        if policy is not None and policy.active:
            target = SlaTarget.objects.filter(policy_id=policy.pk, priority=ticket.priority).first()
            if target is not None:
                return policy, target
    tag_ids = set(customer.tags.values_list("pk", flat=True)) if customer is not None else set()
    policies = SlaPolicy.objects.filter(active=True).prefetch_related(
        "customer_tags", "categories", "targets"
    )
    for policy in policies.order_by("position", "id"):
        if not _matches(policy, ticket, tag_ids):
            continue
        target = next((t for t in policy.targets.all() if t.priority == ticket.priority), None)
        if target is not None:
            return policy, target
    return None, None


def _target(ticket: Ticket) -> SlaTarget | None:
    if ticket.sla_policy_id is None:
        return None
    return SlaTarget.objects.filter(policy_id=ticket.sla_policy_id, priority=ticket.priority).first()


def _warn_at(spec, ticket: Ticket, minutes: int, paused: int) -> dt.datetime:
    policy = ticket.sla_policy if ticket.sla_policy_id else None
    warn = policy.warn_before_minutes if policy is not None else 0
    return bt.add_minutes(spec, ticket.created_at, max(minutes + paused - warn, 0))


def _refresh(ticket: Ticket, spec: bt.CalendarSpec, target: SlaTarget | None) -> None:
    """Due times, the queue's sort key (sla_next_due) and the scheduler's next look (sla_check_at)."""
    if target is None:
        ticket.first_response_due = ticket.resolution_due = None
        ticket.sla_next_due = ticket.sla_check_at = None
        return
    ticket.first_response_due = bt.add_minutes(spec, ticket.created_at, target.first_response_minutes)
    ticket.resolution_due = bt.add_minutes(
        spec, ticket.created_at, target.resolution_minutes + ticket.sla_paused_minutes
    )
    running, checks = [], []
    if ticket.status in ACTIVE_STATUSES and ticket.merged_into_id is None:
        if ticket.first_responded_at is None:
            running.append(ticket.first_response_due)
            if not ticket.first_response_warned:
                checks.append(_warn_at(spec, ticket, target.first_response_minutes, 0))
            if not ticket.first_response_breached:
                checks.append(ticket.first_response_due)
        if ticket.sla_paused_at is None and ticket.resolved_at is None:
            running.append(ticket.resolution_due)
            if not ticket.resolution_warned:
                checks.append(_warn_at(spec, ticket, target.resolution_minutes, ticket.sla_paused_minutes))
            if not ticket.resolution_breached:
                checks.append(ticket.resolution_due)
    ticket.sla_next_due = min(running) if running else None
    ticket.sla_check_at = min(checks) if checks else None


def clock_start(ticket: Ticket) -> None:
    """Choose the policy of a new (or re-categorised, re-prioritised) ticket and compute its due times."""
    policy, target = policy_for(ticket)
    ticket.sla_policy = policy
    _refresh(ticket, _Specs().of(policy), target)


def clock_refresh(ticket: Ticket, *, specs: _Specs | None = None) -> None:
    _refresh(ticket, (specs or _Specs()).of(ticket.sla_policy), _target(ticket))


def _event(ticket: Ticket, clock: str, kind: str, due_at, details: dict | None = None, at=None) -> bool:
    """Record an SLA event once (the unique index decides between concurrent workers)."""
    try:
        with transaction.atomic():
            SlaEvent.objects.create(
                ticket=ticket,
                clock=clock,
                kind=kind,
                due_at=due_at,
                details=details or {},
                at=at or timezone.now(),
            )
        return True
    except IntegrityError:
        return False


def clock_pause(ticket: Ticket, *, at: dt.datetime) -> None:
    """The resolution clock stops (pending customer, resolved)."""
    if ticket.sla_paused_at is not None:
        return
    ticket.sla_paused_at = at
    if ticket.sla_policy_id:
        SlaEvent.objects.create(ticket=ticket, clock=SlaClock.RESOLUTION, kind=SlaEventKind.PAUSED, at=at)
    clock_refresh(ticket)


def clock_resume(ticket: Ticket, *, at: dt.datetime) -> None:
    """The resolution clock runs again; the business minutes it stood still extend its target."""
    if ticket.sla_paused_at is None:
        return
    specs = _Specs()
    stood = int(bt.minutes_between(specs.of(ticket.sla_policy), ticket.sla_paused_at, at))
    ticket.sla_paused_minutes += stood
    ticket.sla_paused_at = None
    if ticket.sla_policy_id:
        SlaEvent.objects.create(
            ticket=ticket,
            clock=SlaClock.RESOLUTION,
            kind=SlaEventKind.RESUMED,
            at=at,
            details={"minutes": stood},
        )
    clock_refresh(ticket, specs=specs)


def clock_first_response(ticket: Ticket, *, at: dt.datetime) -> None:
    if ticket.first_responded_at is not None:
        return
    ticket.first_responded_at = at
    if ticket.first_response_due and at > ticket.first_response_due and not ticket.first_response_breached:
        ticket.first_response_breached = True
        _event(
            ticket, SlaClock.FIRST_RESPONSE, SlaEventKind.BREACH, ticket.first_response_due, {"late": True}
        )
    clock_refresh(ticket)


def clock_resolved(ticket: Ticket, *, at: dt.datetime) -> None:
    if ticket.resolution_due and ticket.sla_paused_at is None and at > ticket.resolution_due:
        if not ticket.resolution_breached:
            ticket.resolution_breached = True
            _event(ticket, SlaClock.RESOLUTION, SlaEventKind.BREACH, ticket.resolution_due, {"late": True})
    ticket.resolved_at = at
    clock_pause(ticket, at=at)


def clock_reopened(ticket: Ticket, *, at: dt.datetime) -> None:
    ticket.resolved_at = None
    clock_resume(ticket, at=at)


# ---------------------------------------------------------------------------------------------- scheduler
SCAN_BATCH = 200


def sla_scan(*, now: dt.datetime | None = None, limit: int = SCAN_BATCH) -> dict[str, int]:
    """Record due warnings and breaches and escalate breaches. Safe with several workers: each ticket is
    handled under its row lock (others skip locked rows on PostgreSQL) and each event is recorded once."""
    now = now or timezone.now()
    counts = {"warnings": 0, "breaches": 0, "escalations": 0}
    ids = list(
        Ticket.objects.filter(sla_check_at__lte=now)
        .order_by("sla_check_at")
        .values_list("pk", flat=True)[:limit]
    )
    specs = _Specs()
    for pk in ids:
        with transaction.atomic():
            ticket = (
                Ticket.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("sla_policy", "queue", "owner")
                .filter(pk=pk, sla_check_at__lte=now)
                .first()
            )
            if ticket is None:
                continue
            for key, value in _check(ticket, now, specs).items():
                counts[key] += value
    return counts


def _check(ticket: Ticket, now: dt.datetime, specs: _Specs) -> dict[str, int]:
    counts = {"warnings": 0, "breaches": 0, "escalations": 0}
    target = _target(ticket)
    spec = specs.of(ticket.sla_policy)
    if target is None:
        ticket.sla_check_at = None
        Ticket.objects.filter(pk=ticket.pk).update(sla_check_at=None)
        return counts
    clocks = []
    if ticket.first_responded_at is None:
        clocks.append((SlaClock.FIRST_RESPONSE, target.first_response_minutes, 0, ticket.first_response_due))
    if ticket.resolved_at is None and ticket.sla_paused_at is None:
        clocks.append(
            (SlaClock.RESOLUTION, target.resolution_minutes, ticket.sla_paused_minutes, ticket.resolution_due)
        )
    breached = []
    for clock, minutes, paused, due in clocks:
        warned_field = f"{clock}_warned"
        breached_field = f"{clock}_breached"
        if not getattr(ticket, breached_field) and due is not None and due <= now:
            setattr(ticket, breached_field, True)
            setattr(ticket, warned_field, True)
            if _event(ticket, clock, SlaEventKind.BREACH, due, at=now):
                counts["breaches"] += 1
                breached.append((clock, due))
        elif not getattr(ticket, warned_field) and _warn_at(spec, ticket, minutes, paused) <= now:
            setattr(ticket, warned_field, True)
            if _event(ticket, clock, SlaEventKind.WARNING, due, at=now):
                counts["warnings"] += 1
                _notify_warning(ticket, clock, due)
    changed_owner = False
    for clock, due in breached:
        changed_owner |= _escalate(ticket, clock, due, now)
        counts["escalations"] += 1
    _refresh(ticket, spec, target)
    fields = [
        "first_response_warned",
        "first_response_breached",
        "resolution_warned",
        "resolution_breached",
        "sla_next_due",
        "sla_check_at",
        "escalated_at",
    ]
    if changed_owner:
        ticket.version += 1
        ticket.updated_at = now
        fields += ["owner", "taken_at", "version", "updated_at"]
    ticket.save(update_fields=fields)
    return counts


def _clock_label(clock: str) -> str:
    return str(SlaClock(clock).label)


def _notify_warning(ticket: Ticket, clock: str, due) -> None:
    owner = ticket.owner if ticket.owner_id else None
    recipients = [owner] if owner is not None else _queue_agents(ticket)
    for user in recipients:
        notify(
            user=user,
            title=_("SLA warning: %(clock)s of ticket #%(pk)s is due %(due)s")
            % {
                "clock": _clock_label(clock),
                "pk": ticket.pk,
                "due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M"),
            },
            body=ticket.subject,
            url=ticket.get_absolute_url(),
            dedup_key=f"sla-warning:{ticket.pk}:{clock}:{due.isoformat()}",
        )


def _queue_agents(ticket: Ticket) -> list[User]:
    if not ticket.queue_id:
        return []
    return list(User.objects.filter(agent_profile__queues=ticket.queue_id, is_active=True)[:50])


def _escalate(ticket: Ticket, clock: str, due, now: dt.datetime) -> bool:
    """On breach: notify the queue's manager (or the assignee's department manager) and, when the policy
    says so, put the ticket back in its queue and route it to another agent. Returns whether the assignee
    changed."""
    policy = ticket.sla_policy
    notified = []
    if policy is None or policy.escalate_notify_manager:
        queue = ticket.queue if ticket.queue_id else None
        owner = ticket.owner if ticket.owner_id else None
        manager = queue.manager if queue is not None and queue.manager_id else None
        department = owner.department if owner is not None and owner.department_id else None
        if manager is None and department is not None:
            manager = department.manager
        if manager is not None:
            notify(
                user=manager,
                title=_("SLA breached: %(clock)s of ticket #%(pk)s")
                % {"clock": _clock_label(clock), "pk": ticket.pk},
                body=ticket.subject,
                url=ticket.get_absolute_url(),
                dedup_key=f"sla-breach:{ticket.pk}:{clock}:{due.isoformat()}",
            )
            notified.append(manager.pk)
    reassigned_from: User | None = None
    if policy is not None and policy.escalate_reassign and ticket.owner is not None:
        from .routing import assign_next_agent

        reassigned_from = ticket.owner
        ticket.owner, ticket.taken_at = None, None
        assign_next_agent(ticket, exclude={reassigned_from.pk}, save=False)
        audit.log(
            actor=None,
            action=AuditAction.UPDATE,
            instance=ticket,
            version=ticket.version + 1,
            changes={"owner": [str(reassigned_from), str(ticket.owner) if ticket.owner_id else None]},
            note=_("SLA breached: reassigned"),
        )
    ticket.escalated_at = now
    _event(
        ticket,
        clock,
        SlaEventKind.ESCALATION,
        due,
        {
            "notified": notified,
            "reassigned_from": reassigned_from.pk if reassigned_from is not None else None,
        },
        at=now,
    )
    return reassigned_from is not None


def breach_filter() -> Q:
    return Q(first_response_breached=True) | Q(resolution_breached=True)


__all__ = [
    "TicketStatus",
    "breach_filter",
    "calendar_spec",
    "clock_first_response",
    "clock_pause",
    "clock_refresh",
    "clock_reopened",
    "clock_resolved",
    "clock_resume",
    "clock_start",
    "policy_for",
    "sla_scan",
]
