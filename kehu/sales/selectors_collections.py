"""Scoped reads of collections: contracts, instalments, outstanding and overdue receivables per customer, rep
and team (the contract's scope decides what a user sees)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from kehu.core.selectors import scoped

from .models import UNPAID_STATUSES, Contract, ContractAttachment, Instalment


def contract_list(*, user) -> QuerySet[Contract]:
    return scoped(Contract, user=user).select_related("customer", "owner")


def _team_contracts(*, user, owner_ids: list[int] | None) -> QuerySet[Contract]:
    """The contracts the user may see, of `owner_ids` when given (ix_contract_owner_status /
    ix_contract_receivable)."""
    return scoped(Contract, user=user, owners=owner_ids)  # one owner list: the team's within the scope


def unpaid_instalments(
    *, user, owner_ids: list[int] | None = None, due_before: dt.date | None = None
) -> QuerySet[Instalment]:
    """Unpaid instalments of the contracts the user may see (ix_instalment_unpaid). The owners' filter goes
    into the contracts' subquery, so a team's receivables start from the team's contracts whatever the
    user's scope; a user who sees every contract gets no subquery at all (it made PostgreSQL read every
    contract: 100–200 ms per statement with 60,000 of them). `due_before`: only instalments due before that
    day, and only from contracts whose first unpaid due date (`receivable_due_from`) is before it."""
    visible = _team_contracts(user=user, owner_ids=owner_ids)
    qs = Instalment.objects.filter(status__in=UNPAID_STATUSES)
    if due_before is not None:
        qs = qs.filter(due_date__lt=due_before)
        visible = visible.filter(receivable_due_from__lt=due_before)
    elif owner_ids is None and not visible.query.where:
        return qs  # every contract is visible
    return qs.filter(contract__in=visible.values("pk"))


@dataclass
class Receivable:
    key: int | None
    label: str
    currency: str
    outstanding: Decimal
    overdue: Decimal


def receivables_by(*, user, by: str, owner_ids: list[int] | None = None) -> list[Receivable]:
    """Outstanding and overdue amounts grouped by `customer` or `owner` (rep) and currency, largest
    outstanding first (200 rows).

    Outstanding sums the contracts' maintained `receivable_outstanding` (an index-only scan of
    ix_contract_receivable over the team's contracts with something outstanding); overdue sums the unpaid
    instalments due before today of the listed customers' or reps' contracts that have one
    (`receivable_due_from` before today). Before, one aggregate probed every unpaid instalment of the team
    (8,200 index probes for a team of 33 reps, twice per page); the names are looked up for the listed rows
    only."""
    from kehu.core.models import User
    from kehu.customers.models import Customer

    today = timezone.localdate()
    field = {"customer": "customer_id", "owner": "owner_id"}[by]
    contracts = _team_contracts(user=user, owner_ids=owner_ids)
    rows = list(
        contracts.filter(receivable_outstanding__gt=0)
        .values(field, "currency")
        .annotate(outstanding=Sum("receivable_outstanding"))
        .order_by("-outstanding", field, "currency")[:200]
    )
    keys = {r[field] for r in rows if r[field] is not None}
    listed = Q(**{f"{field}__in": keys})
    if any(r[field] is None for r in rows):
        listed |= Q(**{f"{field}__isnull": True})
    # per contract, a correlated sum over its unpaid instalments due before today (index-only scans of
    # ix_instalment_unpaid), summed per key: no join back from the instalments to their contracts
    overdue_of_contract = (
        Instalment.objects.filter(contract=OuterRef("pk"), status__in=UNPAID_STATUSES, due_date__lt=today)
        .order_by()  # the model's ordering (by contract) would join the contracts
        .values("contract")
        .annotate(s=Sum(F("amount") - F("paid_amount")))
        .values("s")[:1]
    )
    overdue = {
        (key, currency): total
        for key, currency, total in contracts.filter(
            listed, receivable_outstanding__gt=0, receivable_due_from__lt=today
        )
        .values_list(field, "currency")
        .annotate(total=Sum(Subquery(overdue_of_contract, output_field=DecimalField())))
        .order_by()
    }
    if by == "customer":
        labels = dict(Customer.objects.filter(pk__in=keys).values_list("pk", "name"))
    else:
        labels = dict(User.objects.filter(pk__in=keys).values_list("pk", "display_name"))
    return [
        Receivable(
            key=r[field],
            label=labels.get(r[field]) or "—",
            currency=r["currency"],
            outstanding=r["outstanding"],
            overdue=overdue.get((r[field], r["currency"])) or Decimal(0),
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
    from kehu.core.models import User

    today = timezone.localdate()
    rows = list(
        unpaid_instalments(user=user, owner_ids=owner_ids, due_before=today)
        .select_related("contract", "contract__customer", "contract__owner")
        # what the page shows: not the customers' and contracts' whole rows (search columns, terms, JSON)
        .only(
            "id",
            "contract_id",
            "sequence",
            "due_date",
            "amount",
            "paid_amount",
            "currency",
            "status",
            "contract__id",
            "contract__number",
            "contract__customer_id",
            "contract__owner_id",
            "contract__customer__id",
            "contract__customer__name",
            "contract__owner__id",
            *(f"contract__owner__{f}" for f in User.choice_label_fields),
        )  # fmt: skip
        .order_by("due_date", "pk")[:limit]
    )
    for row in rows:
        row.days_overdue = (today - row.due_date).days  # type: ignore[attr-defined]  # for the page
    return rows
