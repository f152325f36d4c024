"""Scoped reads of collections: contracts, instalments, outstanding and overdue receivables per customer, rep
and team (the contract's scope decides what a user sees)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from kehu.core.selectors import scoped

from .models import UNPAID_STATUSES, Contract, ContractAttachment, Instalment


def contract_list(*, user) -> QuerySet[Contract]:
    return scoped(Contract, user=user).select_related("customer", "owner")


def unpaid_instalments(*, user, owner_ids: list[int] | None = None) -> QuerySet[Instalment]:
    """Unpaid instalments of the contracts the user may see (ix_instalment_unpaid)."""
    qs = Instalment.objects.filter(
        status__in=UNPAID_STATUSES, contract__in=contract_list(user=user).values("pk")
    )
    if owner_ids is not None:
        qs = qs.filter(contract__owner_id__in=owner_ids)
    return qs


@dataclass
class Receivable:
    key: int | None
    label: str
    currency: str
    outstanding: Decimal
    overdue: Decimal


def receivables_by(*, user, by: str, owner_ids: list[int] | None = None) -> list[Receivable]:
    """Outstanding and overdue amounts grouped by `customer` or `owner` (rep) and currency, largest first."""
    today = timezone.localdate()
    field = {"customer": "contract__customer", "owner": "contract__owner"}[by]
    label = {"customer": "contract__customer__name", "owner": "contract__owner__display_name"}[by]
    base = unpaid_instalments(user=user, owner_ids=owner_ids)
    rows = (
        base.values(field, label, "currency")
        .annotate(outstanding=Sum(F("amount") - F("paid_amount")))
        .order_by("-outstanding")[:200]
    )
    overdue = {
        (r[field], r["currency"]): r["overdue"]
        for r in base.filter(due_date__lt=today)
        .values(field, "currency")
        .annotate(overdue=Sum(F("amount") - F("paid_amount")))
        .order_by()
    }
    return [
        Receivable(
            key=r[field],
            label=r[label] or "—",
            currency=r["currency"],
            outstanding=r["outstanding"],
            overdue=overdue.get((r[field], r["currency"]), Decimal(0)),
        )
        for r in rows
    ]


def contract_attachments(*, user, contract: Contract) -> QuerySet[ContractAttachment]:
    """The attachments of a contract, for who may see the contract (the attachment inherits its scope)."""
    return scoped(ContractAttachment, user=user).filter(contract=contract).select_related("uploaded_by")


def contract_attachment_visible(*, user, pk: int) -> ContractAttachment:
    """One attachment, 404 when its contract is outside the user's scope."""
    from kehu.core.selectors import get_visible

    return get_visible(scoped(ContractAttachment, user=user).select_related("contract"), user=user, pk=pk)


def overdue_instalments(*, user, owner_ids: list[int] | None = None, limit: int = 100) -> list[Instalment]:
    """Unpaid instalments due before today of the contracts the user may see, oldest first (the receivables
    page's overdue list; ix_instalment_due / ix_instalment_unpaid)."""
    today = timezone.localdate()
    rows = list(
        unpaid_instalments(user=user, owner_ids=owner_ids)
        .filter(due_date__lt=today)
        .select_related("contract", "contract__customer", "contract__owner")
        .order_by("due_date", "pk")[:limit]
    )
    for row in rows:
        row.days_overdue = (today - row.due_date).days  # type: ignore[attr-defined]  # for the page
    return rows
