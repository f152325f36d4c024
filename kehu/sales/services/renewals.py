"""Contract renewals (sales scheduler): remind the owner `renewal_notice_days` before a contract in force ends,
and move contracts past their end date to `expired`.

Both are safe with any number of workers: the reminder is claimed by a conditional UPDATE of
`renewal_reminded_at` (only the worker whose UPDATE changed the row notifies, once per contract), the expiry
re-reads the contract under its row lock and changes only a contract that is still active and past its end."""

from __future__ import annotations

import datetime as dt
from functools import partial

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.models import AuditAction

from ..models import Contract, ContractStatus
from .documents import tell, timeline, write_locked


def _renewal_title(values: dict) -> str:
    return _("Contract %(c)s with %(customer)s ends on %(day)s: time to renew") % values


def contracts_renewal_remind(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Notify the owner (in-app + email) of each contract in force whose end date is within its
    `renewal_notice_days` (0 = no reminder); once per contract. Returns the number of reminders sent."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    pending = Contract.objects.filter(
        status=ContractStatus.ACTIVE,
        renewal_reminded_at__isnull=True,
        renewal_notice_days__gt=0,
        end_date__gte=today,
    )
    longest = pending.aggregate(m=Max("renewal_notice_days"))["m"]
    if not longest:
        return 0
    # the (status, end_date) index narrows to the contracts ending within the longest notice period
    due = [
        c
        for c in pending.filter(end_date__lte=today + dt.timedelta(days=longest))
        .select_related("owner", "customer")
        .order_by("end_date", "pk")[:limit]
        if c.end_date is not None and c.end_date - dt.timedelta(days=c.renewal_notice_days) <= today
    ]
    sent = 0
    for contract in due:
        with transaction.atomic():
            if not Contract.objects.filter(pk=contract.pk, renewal_reminded_at__isnull=True).update(
                renewal_reminded_at=now
            ):
                continue  # another worker claimed it
            values = {
                "c": contract.number,
                "customer": contract.customer.name,
                "day": contract.end_date.isoformat() if contract.end_date else "",
            }
            tell(
                [contract.owner],
                partial(_renewal_title, values),
                contract.get_absolute_url(),
                dedup_key=f"contract-renewal:{contract.pk}",
            )
            audit.log(actor=None, action=AuditAction.UPDATE, instance=contract, note="renewal reminder")
            sent += 1
    return sent


def contracts_expire(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Contracts in force whose end date has passed become `expired` (audited, on the customer's timeline)."""
    today = timezone.localdate(now or timezone.now())
    ids = list(
        Contract.objects.filter(status=ContractStatus.ACTIVE, end_date__lt=today)
        .order_by("end_date", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for pk in ids:
        with transaction.atomic():
            locked = (
                Contract.objects.select_for_update()
                .filter(pk=pk, status=ContractStatus.ACTIVE, end_date__lt=today)
                .select_related("customer")
                .first()
            )
            if locked is None:
                continue  # changed meanwhile (terminated, or another worker)
            write_locked(locked, None, {"status": ContractStatus.EXPIRED}, note="ended")
            timeline(
                locked,
                "sales.contract.expired",
                _("Contract %(c)s expired on %(day)s")
                % {"c": locked.number, "day": locked.end_date.isoformat() if locked.end_date else ""},
            )
            expired += 1
    return expired


__all__ = ["contracts_expire", "contracts_renewal_remind"]
