"""Ticket use cases: open, edit, take/assign/release, status workflow, merge, split, watchers, transfer.

Every function checks rights through the record service pieces (object right, record scope, field rights),
locks the ticket row, writes one audit entry, and puts customer-relevant events on the timeline. Status
workflow: new → open → pending customer → resolved → closed; a customer reply reopens a resolved ticket
(conversation.py); closed is final (a later reply opens a follow-up ticket).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import audit, records
from kehu.core.access import Access
from kehu.core.exceptions import BusinessRuleError
from kehu.core.models import Action, AuditAction, User
from kehu.core.services import notify
from kehu.customers.models import Customer

from ..models import (
    ACTIVE_STATUSES,
    MessageKind,
    ServiceContract,
    ServiceContractStatus,
    Ticket,
    TicketAttachment,
    TicketMessage,
    TicketStatus,
)
from . import routing, sla
from .attachments import IncomingFile
from .common import TicketTaken, ensure_customer_visible, lock, save, sync, timeline

#: the fields of a ticket people edit (forms, API); the rest is kept by the services
EDITABLE = [
    "subject",
    "kind",
    "priority",
    "channel",
    "category",
    "customer",
    "contact",
    "installed_product",
    "service_contract",
    "queue",
    "language",
    "requester_name",
    "requester_email",
]
SLA_INPUTS = {"priority", "category", "customer", "kind", "service_contract"}

TRANSITIONS: dict[str, set[str]] = {
    TicketStatus.NEW: {TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.RESOLVED},
    TicketStatus.OPEN: {TicketStatus.PENDING, TicketStatus.RESOLVED},
    TicketStatus.PENDING: {TicketStatus.OPEN, TicketStatus.RESOLVED},
    TicketStatus.RESOLVED: {TicketStatus.OPEN, TicketStatus.CLOSED},
    TicketStatus.CLOSED: set(),
}

EVENT_OPENED = gettext_lazy("Ticket %(ref)s opened: %(subject)s")
EVENT_STATUS = gettext_lazy("Ticket %(ref)s %(status)s: %(subject)s")
EVENT_ASSIGNED = gettext_lazy("Ticket %(ref)s assigned to %(agent)s")
EVENT_MERGED = gettext_lazy("Ticket %(ref)s merged into %(target)s")
EVENT_SPLIT = gettext_lazy("Ticket %(ref)s split from %(source)s: %(subject)s")
EVENT_LINKED = gettext_lazy("Ticket %(ref)s linked to this customer: %(subject)s")


def _normalise_parties(data: dict) -> None:
    """A contact person chosen as the customer: the ticket is the account's, raised by that contact."""
    customer, contact = data.get("customer"), data.get("contact")
    if isinstance(customer, Customer) and customer.is_contact and contact is None:
        data["contact"], data["customer"] = customer, customer.account
    elif customer is None and isinstance(contact, Customer):
        data["customer"] = contact.account or contact


def _defaults_from_parties(ticket: Ticket) -> None:
    person = ticket.contact or ticket.customer
    if person is not None:
        if not ticket.requester_email:
            ticket.requester_email = person.email
        if not ticket.requester_name:
            ticket.requester_name = person.name
        if not ticket.language and person.preferred_language:
            ticket.language = person.preferred_language


def _warranty_and_contract(ticket: Ticket) -> None:
    today = timezone.localdate()
    unit = ticket.installed_product if ticket.installed_product_id else None
    ticket.out_of_warranty = bool(unit is not None and not (unit.warranty_end and unit.warranty_end >= today))
    customer = ticket.customer if ticket.customer_id else None
    if ticket.service_contract_id or customer is None:
        return
    contracts = ServiceContract.objects.filter(
        customer_id__in={customer.pk, customer.account_id} - {None},
        status=ServiceContractStatus.ACTIVE,
        start_date__lte=today,
        end_date__gte=today,
    )
    if unit is not None:
        contracts = contracts.filter(Q(units=unit) | Q(units__isnull=True))
    ticket.service_contract = contracts.order_by("end_date").first()


def ticket_create(
    *,
    data: dict,
    by: User,
    message: str = "",
    attachments: Sequence[IncomingFile] = (),
    message_kind: str = MessageKind.CUSTOMER,
    from_email: str = "",
    inbound=None,
    strict_attachments: bool = True,
) -> Ticket:
    """Open a ticket as `by` (an agent entering a call, or the system for email and the API).

    Needs the add right on tickets and sight of the chosen customer/contact. The assignee (`owner`) stays
    empty unless given (someone other than `by` needs the transfer right); routing puts the ticket in a queue
    and, for automatic queues, gives it to an available agent. The SLA policy is chosen and its clocks start.
    `message` is the customer's request (a customer message logged by `by`), with its attachments; without
    `strict_attachments` (email) a file over the limits is left out with a note instead of refusing all."""
    access = records.ensure(by, Action.ADD, Ticket)
    data = {k: v for k, v in data.items() if k in EDITABLE or k in {"owner", "watchers"}}
    _normalise_parties(data)
    for party in ("customer", "contact"):
        ensure_customer_visible(data.get(party), by)
    owner = data.pop("owner", None)
    watchers = data.pop("watchers", None)
    changed = [k for k, v in data.items() if v not in (None, "", [])]
    if owner is not None and owner.pk != by.pk:
        changed.append("owner")
    records._check_fields(access, Ticket, changed)
    now = timezone.now()
    with transaction.atomic():
        ticket = Ticket(**data, owner=owner)
        ticket.created_at = ticket.updated_at = ticket.last_activity_at = now
        _defaults_from_parties(ticket)
        _warranty_and_contract(ticket)
        rule = routing.apply_route(ticket)
        if owner is not None:
            ticket.status, ticket.taken_at = TicketStatus.OPEN, now
        ticket.full_clean(validate_unique=False, validate_constraints=False)
        ticket.save()
        if watchers:
            ticket.watchers.set(watchers)
        sla.clock_start(ticket)
        ticket.save(update_fields=_SLA_FIELDS + ["sla_policy"])
        audit.log(
            actor=by,
            action=AuditAction.CREATE,
            instance=ticket,
            changes={
                k: [None, v]
                for k, v in audit.snapshot(ticket).items()
                if v not in (None, "", [], {}, False, 0)
            },
        )
        timeline(ticket, f"{ticket.pk}.opened", EVENT_OPENED)
        if message.strip() or attachments:
            from .conversation import message_add

            message_add(
                ticket=ticket,
                kind=message_kind,
                body=message,
                by=by,
                attachments=attachments,
                from_email=from_email or ticket.requester_email,
                from_name=ticket.requester_name,
                inbound=inbound,
                count_activity=False,
                strict_attachments=strict_attachments,
            )
        if ticket.owner_id is None:
            routing.assign_next_agent(ticket, rule=rule)
        if ticket.owner_id and ticket.owner_id != by.pk:
            transaction.on_commit(partial(_notify_assignee, ticket.pk))
    return ticket


_SLA_FIELDS = [
    "first_response_due",
    "resolution_due",
    "first_responded_at",
    "resolved_at",
    "sla_paused_at",
    "sla_paused_minutes",
    "first_response_warned",
    "first_response_breached",
    "resolution_warned",
    "resolution_breached",
    "sla_next_due",
    "sla_check_at",
]


def _notify_assignee(ticket_id: int) -> None:
    ticket = Ticket.objects.select_related("owner").filter(pk=ticket_id).first()
    if ticket is None or ticket.owner is None:
        return
    notify(
        user=ticket.owner,
        title=_("Ticket #%(pk)s assigned to you: %(subject)s") % {"pk": ticket.pk, "subject": ticket.subject},
        url=ticket.get_absolute_url(),
        dedup_key=f"ticket-assigned:{ticket.pk}:{ticket.owner_id}:{ticket.taken_at and ticket.taken_at.isoformat()}",
    )


def ticket_update(*, ticket: Ticket, data: dict, by: User, expected_version: int | None) -> Ticket:
    """Edit a ticket's fields (not its status, assignee or conversation: those have their own use cases).
    A new priority, category, customer, type or contract re-applies the SLA policy; a new unit re-checks the
    warranty. Stale versions are refused (StaleRecordError)."""
    data = {k: v for k, v in data.items() if k in EDITABLE}
    _normalise_parties(data)
    for party in ("customer", "contact"):
        if data.get(party) is not None and getattr(data[party], "pk", None) != getattr(ticket, f"{party}_id"):
            ensure_customer_visible(data[party], by)
    with transaction.atomic():
        locked = lock(ticket, by, expected_version=expected_version)
        access = Access.of(by)
        before = audit.snapshot(locked)
        changed = []
        for key, value in data.items():
            field = Ticket._meta.get_field(key)
            current = getattr(locked, getattr(field, "attname", key))
            new = value.pk if hasattr(value, "pk") else value
            if current != new:
                changed.append(key)
                setattr(locked, key, value)
        if not changed:
            return sync(ticket, locked)
        records._check_fields(access, Ticket, changed)
        customer_was = before.get("customer")
        if {"installed_product", "customer"} & set(changed):
            if "service_contract" not in changed:
                locked.service_contract = None
            _warranty_and_contract(locked)
        locked.full_clean(validate_unique=False, validate_constraints=False)
        if SLA_INPUTS & set(changed):
            sla.clock_start(locked)
        save(locked, by=by, before=before)
        if (
            "customer" in changed
            and locked.customer_id
            and customer_was != audit.snapshot(locked).get("customer")
        ):
            timeline(locked, f"{locked.pk}.linked.{locked.customer_id}", EVENT_LINKED)
    return sync(ticket, locked)


def ticket_take(*, ticket: Ticket, by: User) -> Ticket:
    """`by` takes the ticket. Under the ticket's row lock: if another agent holds it, TicketTaken names them
    (the first of two agents taking at once wins; the second waits for the lock, then is told who took it)."""
    with transaction.atomic():
        locked = lock(ticket, by)
        if locked.owner_id == by.pk:
            return sync(ticket, locked)
        if locked.owner_id is not None:
            owner = User.objects.get(pk=locked.owner_id)
            when = timezone.localtime(locked.taken_at).strftime("%H:%M") if locked.taken_at else ""
            raise TicketTaken(
                _("%(agent)s already took this ticket at %(when)s.") % {"agent": owner, "when": when}, owner
            )
        if not locked.is_active:
            raise BusinessRuleError(_("Only open tickets can be taken."))
        before = audit.snapshot(locked)
        locked.owner, locked.taken_at = by, timezone.now()
        if locked.status == TicketStatus.NEW:
            locked.status = TicketStatus.OPEN
        save(locked, by=by, before=before)
        timeline(locked, f"{locked.pk}.v{locked.version}", EVENT_ASSIGNED, {"agent": str(by)})
    return sync(ticket, locked)


def ticket_assign(
    *, ticket: Ticket, to: User | None, by: User, expected_version: int | None = None
) -> Ticket:
    """Give the ticket to another agent (or back to its queue with `to=None`). Changing someone else's
    assignment needs the transfer right on tickets (the owner field is read-only without it)."""
    if to is not None and to.pk == by.pk:
        return ticket_take(ticket=ticket, by=by)
    with transaction.atomic():
        locked = lock(ticket, by, expected_version=expected_version)
        if locked.owner_id == (to.pk if to else None):
            return sync(ticket, locked)
        releasing_own = to is None and locked.owner_id == by.pk
        if not releasing_own:
            records._check_fields(Access.of(by), Ticket, ["owner"])
        if to is not None and not to.is_active:
            raise BusinessRuleError(_("%(user)s is not an active user.") % {"user": to}, field="owner")
        if not locked.is_active:
            raise BusinessRuleError(_("Only open tickets can be assigned."))
        before = audit.snapshot(locked)
        locked.owner, locked.taken_at = to, (timezone.now() if to else None)
        if to is not None and locked.status == TicketStatus.NEW:
            locked.status = TicketStatus.OPEN
        save(locked, by=by, before=before)
        if to is not None:
            timeline(locked, f"{locked.pk}.v{locked.version}", EVENT_ASSIGNED, {"agent": str(to)})
            transaction.on_commit(partial(_notify_assignee, locked.pk))
    return sync(ticket, locked)


def ticket_set_status(
    *, ticket: Ticket, status: str, by: User, expected_version: int | None = None
) -> Ticket:
    """Move a ticket along new → open → pending customer → resolved → closed (resolved may be reopened).
    The SLA resolution clock pauses while pending or resolved and runs again when reopened."""
    if status not in TicketStatus.values:
        raise BusinessRuleError(_("Unknown status."), field="status")
    with transaction.atomic():
        locked = lock(ticket, by, expected_version=expected_version)
        if locked.status == status:
            return sync(ticket, locked)
        if locked.merged_into_id:
            raise BusinessRuleError(_("This ticket was merged into #%(pk)s.") % {"pk": locked.merged_into_id})
        if status not in TRANSITIONS[TicketStatus(locked.status)]:
            raise BusinessRuleError(
                _("A %(from)s ticket cannot become %(to)s.")
                % {
                    "from": TicketStatus(locked.status).label.lower(),
                    "to": TicketStatus(status).label.lower(),
                },
                field="status",
            )
        before = audit.snapshot(locked)
        apply_status(locked, status, at=timezone.now())
        if locked.owner_id is None and status in (TicketStatus.OPEN, TicketStatus.PENDING):
            locked.owner, locked.taken_at = by, timezone.now()
        save(locked, by=by, before=before)
        timeline(
            locked,
            f"{locked.pk}.v{locked.version}",
            EVENT_STATUS,
            {"status": TicketStatus(status).label.lower()},
        )
    return sync(ticket, locked)


def apply_status(ticket: Ticket, status: str, *, at) -> None:
    """Set the status of a locked ticket and keep the SLA clocks and timestamps in step (no save)."""
    previous = ticket.status
    ticket.status = status
    if status == TicketStatus.PENDING:
        sla.clock_pause(ticket, at=at)
    elif status == TicketStatus.OPEN:
        if previous in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            ticket.reopened_count += 1
            sla.clock_reopened(ticket, at=at)
        else:
            sla.clock_resume(ticket, at=at)
    elif status == TicketStatus.RESOLVED:
        sla.clock_resolved(ticket, at=at)
    elif status == TicketStatus.CLOSED:
        ticket.closed_at = at
        if ticket.resolved_at is None:
            sla.clock_resolved(ticket, at=at)
        sla.clock_refresh(ticket)


def ticket_merge(*, source: Ticket, target: Ticket, by: User) -> Ticket:
    """Merge `source` into `target`: its messages and attachments move to the target (so replies to them
    thread there), its watchers join, and it is closed as merged. Both tickets must be writable by `by` and
    belong to the same customer (or the source to none). Locks are taken in id order."""
    if source.pk == target.pk:
        raise BusinessRuleError(_("A ticket cannot be merged into itself."))
    with transaction.atomic():
        first, second = sorted([source, target], key=lambda t: t.pk)
        locked = {t.pk: lock(t, by) for t in (first, second)}
        src, dst = locked[source.pk], locked[target.pk]
        if src.merged_into_id or dst.merged_into_id:
            raise BusinessRuleError(_("A merged ticket cannot be merged again."))
        if src.customer_id and dst.customer_id != src.customer_id:
            raise BusinessRuleError(_("Only tickets of the same customer can be merged."))
        moved = TicketMessage.objects.filter(ticket=src).update(ticket=dst)
        TicketAttachment.objects.filter(ticket=src).update(ticket=dst)
        dst.watchers.add(*src.watchers.all())
        before_src, before_dst = audit.snapshot(src), audit.snapshot(dst)
        note = _("Merged ticket #%(src)s into #%(dst)s (%(n)d messages).") % {
            "src": src.pk,
            "dst": dst.pk,
            "n": moved,
        }
        from .conversation import system_note

        system_note(dst, note, by=by)
        src.merged_into = dst
        src.message_count = 0
        if src.is_active:
            apply_status(src, TicketStatus.RESOLVED, at=timezone.now())
        apply_status(src, TicketStatus.CLOSED, at=timezone.now())
        dst.message_count += moved
        save(src, by=by, before=before_src, note=note)
        save(dst, by=by, before=before_dst, note=note)
        timeline(src, f"{src.pk}.merged", EVENT_MERGED, {"target": f"#{dst.pk}"})
    sync(target, dst)
    return dst


def ticket_split(*, ticket: Ticket, message_ids: Sequence[int], subject: str, by: User) -> Ticket:
    """Move some customer messages of a ticket into a new ticket of the same customer (a second problem
    raised in one email). The new ticket is routed and gets its own SLA clocks."""
    with transaction.atomic():
        locked = lock(ticket, by)
        messages = list(TicketMessage.objects.filter(ticket=locked, pk__in=list(message_ids)))
        if not messages or len(messages) != len(set(message_ids)):
            raise BusinessRuleError(_("Choose messages of this ticket to split off."))
        if TicketMessage.objects.filter(ticket=locked).exclude(pk__in=[m.pk for m in messages]).count() == 0:
            raise BusinessRuleError(_("Leave at least one message on the original ticket."))
        data = {
            "subject": subject or locked.subject,
            **{k: getattr(locked, k) for k in ("kind", "priority", "channel", "category", "language")},
            **{k: getattr(locked, k) for k in ("customer", "contact", "installed_product", "queue")},
            "requester_name": locked.requester_name,
            "requester_email": locked.requester_email,
        }
        new = ticket_create(data=data, by=by)
        Ticket.objects.filter(pk=new.pk).update(split_from=locked, message_count=len(messages))
        TicketMessage.objects.filter(pk__in=[m.pk for m in messages]).update(ticket=new)
        TicketAttachment.objects.filter(message__in=messages).update(ticket=new)
        before = audit.snapshot(locked)
        locked.message_count = max(locked.message_count - len(messages), 0)
        from .conversation import system_note

        system_note(
            locked, _("Split %(n)d messages into ticket #%(pk)s.") % {"n": len(messages), "pk": new.pk}, by=by
        )
        save(locked, by=by, before=before)
        new.refresh_from_db()
        timeline(new, f"{new.pk}.split", EVENT_SPLIT, {"source": f"#{locked.pk}"})
    sync(ticket, locked)
    return new


def ticket_watch(*, ticket: Ticket, user: User, by: User, watch: bool = True) -> Ticket:
    """Add (or remove) a watcher: anyone who may see the ticket may watch it themselves; adding someone else
    needs the change right on the ticket."""
    from kehu.core.selectors import get_visible

    visible = get_visible(Ticket, user=by, pk=ticket.pk)
    with transaction.atomic():
        if user.pk != by.pk:
            visible = lock(visible, by)
        present = visible.watchers.filter(pk=user.pk).exists()
        if present == watch:
            return visible
        (visible.watchers.add if watch else visible.watchers.remove)(user)
        audit.log(
            actor=by,
            action=AuditAction.UPDATE,
            instance=visible,
            changes={"watchers": [None, str(user)] if watch else [str(user), None]},
        )
    return visible


def tickets_transfer(*, from_user: User, to_user: User, by: User) -> dict[str, int]:
    """Transfer hook: a departing agent's active tickets go to the receiver; resolved and closed ones stay
    as history."""
    active = Ticket.objects.filter(owner=from_user, status__in=ACTIVE_STATUSES)
    if not active.exists():
        return {}
    if not Access.of(by).can(Action.TRANSFER, Ticket):
        raise PermissionDenied(_("You do not have the transfer right on tickets."))
    rows = list(active.values_list("pk", "subject"))
    Ticket.objects.filter(pk__in=[pk for pk, _s in rows]).update(
        owner=to_user, taken_at=timezone.now(), version=F("version") + 1, updated_at=timezone.now()
    )
    audit.log_many(
        actor=by,
        action=AuditAction.TRANSFER,
        model="service.ticket",
        rows=[(pk, subject, {"owner": [str(from_user), str(to_user)]}) for pk, subject in rows],
    )
    return {"service.ticket": len(rows)}


def tickets_autoclose(*, days: int, now=None, limit: int = 500) -> int:
    """Close tickets resolved more than `days` ago (the customer did not come back)."""
    now = now or timezone.now()
    ids = list(
        Ticket.objects.filter(status=TicketStatus.RESOLVED, resolved_at__lte=now - dt.timedelta(days=days))
        .order_by("resolved_at")
        .values_list("pk", flat=True)[:limit]
    )
    closed = 0
    for pk in ids:
        with transaction.atomic():
            ticket = Ticket.objects.select_for_update().filter(pk=pk, status=TicketStatus.RESOLVED).first()
            if ticket is None:
                continue
            before = audit.snapshot(ticket)
            apply_status(ticket, TicketStatus.CLOSED, at=now)
            save(
                ticket,
                by=None,
                before=before,
                note=_("Closed automatically after %(n)d days resolved") % {"n": days},
            )
            timeline(
                ticket,
                f"{ticket.pk}.v{ticket.version}",
                EVENT_STATUS,
                {"status": TicketStatus.CLOSED.label.lower()},
            )
            closed += 1
    return closed
