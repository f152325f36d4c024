"""Pieces the ticket services share: locking with version checks, saving with audit, the customer timeline."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.utils import timezone, translation

from kehu.core import audit, records
from kehu.core.exceptions import BusinessRuleError, StaleRecordError
from kehu.core.models import AuditAction
from kehu.customers.models import Customer

from ..models import Ticket


class TicketTaken(BusinessRuleError):
    """Another agent holds the ticket."""

    def __init__(self, message: str, owner) -> None:
        self.owner = owner
        super().__init__(message)


def ensure_customer_visible(customer: Customer | None, by) -> None:
    if customer is None:
        return
    from kehu.customers.selectors import customer_list

    if not customer_list(user=by).filter(pk=customer.pk).exists():
        raise Http404


def lock(ticket: Ticket, by, *, expected_version: int | None = None, action: str = "change") -> Ticket:
    """The ticket locked for writing by `by` (404 outside the read scope, 403 outside the write scope), and
    refused with StaleRecordError when the caller edited an older version."""
    locked, _access = records.lock_for_write(ticket, by, action)
    if expected_version is not None and locked.version != expected_version:
        raise StaleRecordError(
            locked, expected_version, audit.changes_since("service.ticket", locked.pk, expected_version)
        )
    return locked


def save(ticket: Ticket, *, by, before: dict, note: str = "") -> None:
    """Save a locked ticket with a new version and one audit entry of what changed."""
    ticket.version += 1
    ticket.updated_at = timezone.now()
    ticket.save()
    changes = audit.diff(before, audit.snapshot(ticket))
    audit.log(actor=by, action=AuditAction.UPDATE, instance=ticket, changes=changes, note=note)


def sync(instance: Ticket, locked: Ticket) -> Ticket:
    """Keep the caller's object in step with the saved one."""
    instance.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return locked


def timeline(
    ticket: Ticket,
    key: str,
    template,
    params: dict | None = None,
    *,
    body: str = "",
    model: str = "service.ticket",
) -> None:
    """Put a ticket event on its customer's timeline, once per key. `template` is a lazy translation formatted
    with `params` in the organisation's language (the timeline stores text)."""
    customer = ticket.customer if ticket.customer_id else None
    if customer is None:
        return
    from kehu.interactions.services import timeline_event_record

    with translation.override(settings.LANGUAGE_CODE):
        text = str(template) % {"ref": f"#{ticket.pk}", "subject": ticket.subject, **(params or {})}
    timeline_event_record(
        customer=customer,
        subject=text,
        related_model=model,
        related_id=key,
        url=ticket.get_absolute_url(),
        body=body[:2000],
    )
