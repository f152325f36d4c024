"""Actuals of a period, live from the sales app: won opportunities (closed in the period), paid orders (order
date in the period) or payments received on contracts (received in the period, those that count towards targets),
per owner and product category, in one aggregate query per source (ADR 0014).
The figures are aggregates: no record reaches the page, so nobody sees a deal through a plan."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from kehu.products.models import ProductCategory
from kehu.sales.models import Opportunity, OpportunityLine, OrderLine, Payment

from ..models import ActualsSource, PlanLevel
from ..models.plans import ZERO, period_bounds


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


@dataclass
class Actuals:
    #: (owner id, category id or None) -> [amount, units]
    by_owner_line: dict[tuple[int, int | None], list[Decimal]] = field(default_factory=dict)
    #: owner id -> [amount, units] over all products
    totals: dict[int, list[Decimal]] = field(default_factory=dict)
    _subtrees: dict[int, set[int]] = field(default_factory=dict)
    _owners: dict[tuple[str, int | None], set[int] | None] = field(default_factory=dict)

    def _lines(self, line_id: int) -> set[int]:
        if line_id not in self._subtrees:
            rows = list(ProductCategory.objects.values_list("id", "parent_id"))
            ids, frontier = {line_id}, {line_id}
            while frontier:
                frontier = {pk for pk, parent in rows if parent in frontier and pk not in ids}
                ids |= frontier
            self._subtrees[line_id] = ids
        return self._subtrees[line_id]

    def owner(self, owner_id: int, line_id: int | None) -> tuple[Decimal, Decimal]:
        if line_id is None:
            a, u = self.totals.get(owner_id, (ZERO, ZERO))
            return a, u
        amount = units = ZERO
        for cat in self._lines(line_id):
            a, u = self.by_owner_line.get((owner_id, cat), (ZERO, ZERO))
            amount, units = amount + a, units + u
        return amount, units

    def node(self, level: str, pk: int | None, line_id: int | None) -> tuple[Decimal, Decimal]:
        from .plans import node_owner_ids

        key = (level, pk)
        if key not in self._owners:
            self._owners[key] = node_owner_ids(level, pk)
        owners = self._owners[key]
        if owners is None:
            owners = set(self.totals) | {o for o, _c in self.by_owner_line}
        amount = units = ZERO
        for owner_id in owners:
            a, u = self.owner(owner_id, line_id)
            amount, units = amount + a, units + u
        return amount, units


def plan_actuals(
    *, period_kind: str, year: int, number: int, source: str, currency: str, owners: set[int] | None = None
) -> Actuals:
    """`owners` (None = everyone) narrows the aggregate to a node's users: a team's drill-down reads its
    members' orders through the owner indexes instead of the whole period."""
    start, end = period_bounds(period_kind, year, number)
    result = Actuals()

    def add(owner_id, cat_id, amount, units) -> None:
        if owner_id is None:
            return
        row = result.by_owner_line.setdefault((owner_id, cat_id), [ZERO, ZERO])
        row[0] += amount or ZERO
        row[1] += units or ZERO

    if source == ActualsSource.PAID:
        rows = (
            OrderLine.objects.filter(
                order__status="paid",
                counted=True,
                order_date__gte=start,
                order_date__lt=end,
                currency=currency,
                # a node's users only (a team's drill-down, the performance page): not the whole period
                **({"order__owner_id__in": sorted(owners)} if owners is not None else {}),
            )
            .values_list("order__owner_id", "product__category_id")
            .annotate(a=Sum("amount"), u=Sum("quantity"))
            .order_by()
        )
        for owner_id, cat_id, amount, units in rows:
            add(owner_id, cat_id, amount, units)
            total = result.totals.setdefault(owner_id, [ZERO, ZERO])
            total[0] += amount or ZERO
            total[1] += units or ZERO
        return result
    if source == ActualsSource.PAYMENTS:
        payments = Payment.objects.filter(
            counts_as_actual=True, received_on__gte=start, received_on__lt=end, currency=currency
        )
        if owners is not None:
            payments = payments.filter(contract__owner_id__in=sorted(owners))
        for owner_id, amount in (
            payments.values_list("contract__owner_id").annotate(a=Sum("amount")).order_by()
        ):
            if owner_id is not None:
                result.totals.setdefault(owner_id, [ZERO, ZERO])[0] += amount or ZERO
        return result
    won = Opportunity.objects.filter(
        status="won", closed_at__gte=_aware(start), closed_at__lt=_aware(end), currency=currency
    )
    if owners is not None:
        won = won.filter(owner_id__in=sorted(owners))
    for owner_id, amount in won.values_list("owner_id").annotate(a=Sum("amount")).order_by():
        result.totals.setdefault(owner_id, [ZERO, ZERO])[0] += amount or ZERO
    lines = (
        OpportunityLine.objects.filter(opportunity__in=won)
        .values_list("opportunity__owner_id", "product__category_id")
        .annotate(a=Sum("amount"), u=Sum("quantity"))
        .order_by()
    )
    for owner_id, cat_id, amount, units in lines:
        add(owner_id, cat_id, amount, units)
        result.totals.setdefault(owner_id, [ZERO, ZERO])[1] += units or ZERO
    return result


def attainment(*, plan, target) -> dict:
    """Plan against actual for a target and the targets allocated from it (the drill-down one level at a
    time: company → departments → teams → reps). Percentages are None where the plan is zero."""
    from ..models import PlanTarget
    from .plans import node_owner_ids

    head_pk = {
        PlanLevel.COMPANY: None,
        PlanLevel.DEPARTMENT: target.department_id,
        PlanLevel.TEAM: target.team_id,
    }
    owners = node_owner_ids(target.level, head_pk.get(target.level, target.rep_id))
    if owners is not None:  # the parts may count users outside the node (a rep in another department's team)
        for child in PlanTarget.objects.filter(parent=target).values_list(
            "level", "department_id", "team_id", "rep_id"
        ):
            more = node_owner_ids(child[0], child[1] or child[2] or child[3])
            owners = None if more is None else owners | more
            if owners is None:
                break
    actuals = plan_actuals(
        period_kind=plan.period_kind,
        year=plan.year,
        number=plan.period_number,
        source=plan.actuals_source,
        currency=plan.currency,
        owners=owners,
    )

    def row(t) -> dict:
        node_pk = {
            PlanLevel.COMPANY: None,
            PlanLevel.DEPARTMENT: t.department_id,
            PlanLevel.TEAM: t.team_id,
        }.get(t.level, t.rep_id)
        amount, units = actuals.node(t.level, node_pk, t.product_line_id)
        return {
            "id": t.pk,
            "label": t.node_label,
            "level": t.level,
            "product_line": t.line_label,
            "plan_amount": t.amount,
            "plan_units": t.units,
            "actual_amount": amount,
            "actual_units": units,
            "attainment": (amount * 100 / t.amount).quantize(Decimal("0.1")) if t.amount else None,
            "attainment_units": (units * 100 / t.units).quantize(Decimal("0.1")) if t.units else None,
            "has_children": bool(getattr(t, "n_children", 0)),
        }

    from django.db.models import Count

    children = list(
        PlanTarget.objects.filter(parent=target)
        .select_related("department", "team", "rep", "product_line")
        .annotate(n_children=Count("children"))
        .order_by("id")
    )
    rows = [row(c) for c in children]
    rows.sort(key=lambda r: (r["attainment"] is None, -(r["attainment"] or 0)))
    head = row(target)
    head["children_plan_amount"] = sum((c.amount for c in children), ZERO)
    head["children_plan_units"] = sum((c.units for c in children), ZERO)
    path = []
    node = target
    while node is not None:
        path.append({"id": node.pk, "label": node.node_label})
        node = node.parent
    return {"target": head, "rows": rows, "path": list(reversed(path)), "currency": plan.currency}
