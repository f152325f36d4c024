"""Sales plans: create, set the company figures, allocate top-down, roll up bottom-up, close (ADR 0014).

Every write goes through `records.record_update` on the plan with a `children` hook: the rights on the plan,
its row lock and version check come first, then the target rows are written and recorded in the plan's one
audit entry. A closed plan refuses every change; an allocation whose parts do not add up to the parent is
refused before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core import records
from kehu.core.models import Department, Team, User
from kehu.products.models import ProductCategory

from ..models import PlanLevel, PlanStatus, PlanTarget, SalesPlan
from ..models.plans import ZERO, previous_period

CENT = Decimal("0.01")
MILLI = Decimal("0.001")


class AllocationMethod:
    MANUAL = "manual"
    EVEN = "even"
    PROPORTIONAL = "proportional"
    CHOICES = (MANUAL, EVEN, PROPORTIONAL)


@dataclass(frozen=True)
class Node:
    level: str
    obj: object | None = None  # Department, Team or User; None for the company

    @property
    def pk(self) -> int | None:
        return getattr(self.obj, "pk", None)


def node_key(level: str, pk: int | None, product_line_id: int | None) -> str:
    node = "company" if level == PlanLevel.COMPANY else f"{level}:{pk}"
    return f"{node}|{product_line_id or '*'}"


def _refuse_closed(plan: SalesPlan) -> None:
    if plan.status == PlanStatus.CLOSED:
        raise ValidationError(
            _("The plan of %(period)s is closed: it cannot be changed.") % {"period": plan.period_label}
        )


def plan_create(*, data: dict, by) -> SalesPlan:
    """A new plan (draft) through the record service; one plan per period (unique)."""
    return records.record_create(model=SalesPlan, data=data, by=by)


def plan_update(*, plan: SalesPlan, data: dict, by, expected_version: int | None) -> SalesPlan:
    """Edit a plan's own fields; refused once the plan is closed. The period cannot move once targets exist."""

    def guard(locked: SalesPlan) -> dict:
        _refuse_closed(locked)
        moved = any(
            k in data and data[k] != getattr(locked, k) for k in ("period_kind", "year", "period_number")
        )
        if moved and locked.targets.exists():
            raise ValidationError(_("The period of a plan with targets cannot change."))
        return {}

    return records.record_update(
        instance=plan, data=data, by=by, expected_version=expected_version, children=guard
    )


def plan_set_status(*, plan: SalesPlan, status: str, by, expected_version: int | None) -> SalesPlan:
    """Activate or close a plan (a closed plan is final: it cannot be reopened or edited)."""
    if status not in PlanStatus.values:
        raise ValidationError(_("Unknown status."))

    def change(locked: SalesPlan) -> dict:
        _refuse_closed(locked)
        locked.status = status
        return {}

    return records.record_update(
        instance=plan, data={}, by=by, expected_version=expected_version, children=change
    )


def _check_figure(value, quantum: Decimal, label: str) -> Decimal:
    try:
        figure = Decimal(str(value if value not in (None, "") else "0"))
    except Exception:
        raise ValidationError(_("%(label)s: not a number.") % {"label": label}) from None
    if not figure.is_finite() or figure < 0:
        raise ValidationError(_("%(label)s: a target cannot be negative.") % {"label": label})
    if figure != figure.quantize(quantum) or figure >= Decimal("1e13"):
        raise ValidationError(_("%(label)s: too many decimals or too large.") % {"label": label})
    return figure


def plan_company_set(
    *, plan: SalesPlan, product_line: ProductCategory | None, amount, units, by, expected_version: int | None
) -> PlanTarget:
    """Set the company figure of one product line (None = all products). Refused when the plan is closed,
    and when the figure is already allocated further and would change (re-allocate first)."""
    amount = _check_figure(amount, CENT, _("Amount"))
    units = _check_figure(units, MILLI, _("Units"))
    result: dict = {}

    def write(locked: SalesPlan) -> dict:
        _refuse_closed(locked)
        key = node_key(PlanLevel.COMPANY, None, getattr(product_line, "pk", None))
        target = PlanTarget.objects.filter(plan=locked, key=key).first()
        if target is None:
            target = PlanTarget(plan=locked, level=PlanLevel.COMPANY, product_line=product_line, key=key)
            before = None
        else:
            if (target.amount, target.units) != (amount, units) and target.children.exists():
                raise ValidationError(
                    _("This figure is already allocated: change the allocation below it instead.")
                )
            before = [str(target.amount), str(target.units)]
            target.version += 1
        target.amount, target.units = amount, units
        target.full_clean(validate_unique=False, validate_constraints=False)
        target.save()
        result["target"] = target
        after = [str(amount), str(units)]
        return {} if before == after else {f"target {target}": [before, after]}

    records.record_update(instance=plan, data={}, by=by, expected_version=expected_version, children=write)
    return result["target"]


# ----------------------------------------------------------------------------------------------- hierarchy


def child_candidates(target: PlanTarget) -> list[Node]:
    """Who a target may be allocated to: the company to departments, a department to its sub-departments and
    teams, a team to its members. Reps are leaves."""
    if target.level == PlanLevel.COMPANY:
        return [Node(PlanLevel.DEPARTMENT, d) for d in Department.objects.order_by("name")]
    if target.level == PlanLevel.DEPARTMENT:
        subs = [
            Node(PlanLevel.DEPARTMENT, d) for d in Department.objects.filter(parent_id=target.department_id)
        ]
        teams = [
            Node(PlanLevel.TEAM, t) for t in Team.objects.filter(department_id=target.department_id or 0)
        ]
        return subs + teams
    if target.level == PlanLevel.TEAM:
        members = User.objects.filter(teams=target.team_id, is_active=True).order_by("username")
        return [Node(PlanLevel.REP, u) for u in members]
    return []


def department_subtree(department_id: int) -> set[int]:
    rows = list(Department.objects.values_list("id", "parent_id"))
    ids, frontier = {department_id}, {department_id}
    while frontier:
        frontier = {pk for pk, parent in rows if parent in frontier and pk not in ids}
        ids |= frontier
    return ids


def node_owner_ids(level: str, pk: int | None) -> set[int] | None:
    """The users whose results count for a node (None = everyone: the company)."""
    if level == PlanLevel.COMPANY or pk is None:
        return None
    if level == PlanLevel.REP:
        return {pk}
    if level == PlanLevel.TEAM:
        return set(User.objects.filter(teams=pk).values_list("id", flat=True))
    return set(User.objects.filter(department_id__in=department_subtree(pk)).values_list("id", flat=True))


# ----------------------------------------------------------------------------------------------- allocation


def _split_even(total: Decimal, n: int, quantum: Decimal) -> list[Decimal]:
    base = (total / n).quantize(quantum, rounding=ROUND_DOWN)
    parts = [base] * n
    left = int(((total - base * n) / quantum).to_integral_value())
    for i in range(left):
        parts[i] += quantum
    return parts


def _split_weighted(total: Decimal, weights: list[Decimal], quantum: Decimal) -> list[Decimal]:
    """Largest-remainder split: the parts are multiples of `quantum` and add up exactly to `total`."""
    weight_sum = sum(weights, ZERO)
    raw = [total * w / weight_sum for w in weights]
    parts = [r.quantize(quantum, rounding=ROUND_DOWN) for r in raw]
    left = int(((total - sum(parts, ZERO)) / quantum).to_integral_value())
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += quantum
    return parts


def _units_quantum(units: Decimal) -> Decimal:
    return Decimal("1") if units == units.to_integral_value() else MILLI


def allocate(
    *,
    parent: PlanTarget,
    method: str,
    children: list[Node],
    by,
    expected_version: int | None,
    manual: dict[Node, tuple] | None = None,
) -> list[PlanTarget]:
    """Allocate a target to `children` (a subset of `child_candidates(parent)`), replacing its previous
    allocation. `manual` gives (amount, units) per child; `even` splits equally; `proportional` in proportion to
    each child's actuals of the previous period (refused when they are all zero). The parts always add up to
    the parent exactly (cents, and whole units when the parent's units are whole); a manual allocation that
    does not is refused. A previous child that was allocated further and would change or disappear is refused
    too (re-allocate below it first), so a saved allocation always adds up at every level."""
    if method not in AllocationMethod.CHOICES:
        raise ValidationError(_("Unknown allocation method."))
    if not children:
        raise ValidationError(_("Choose at least one department, team or rep to allocate to."))
    allowed = {(n.level, n.pk) for n in child_candidates(parent)}
    for node in children:
        if (node.level, node.pk) not in allowed:
            raise ValidationError(
                _("%(node)s is not below %(parent)s.") % {"node": node.obj, "parent": parent.node_label}
            )
    if len({(n.level, n.pk) for n in children}) != len(children):
        raise ValidationError(_("Each department, team or rep may appear only once."))
    plan = parent.plan
    if method == AllocationMethod.MANUAL:
        manual = manual or {}
        amounts = [_check_figure(manual.get(n, (0, 0))[0], CENT, str(n.obj)) for n in children]
        units = [_check_figure(manual.get(n, (0, 0))[1], MILLI, str(n.obj)) for n in children]
        if sum(amounts, ZERO) != parent.amount or sum(units, ZERO) != parent.units:
            raise ValidationError(
                _(
                    "The allocation does not add up: amounts %(amounts)s of %(target)s, units %(units)s of "
                    "%(target_units)s. Nothing was saved."
                )
                % {
                    "amounts": sum(amounts, ZERO),
                    "target": parent.amount,
                    "units": sum(units, ZERO),
                    "target_units": parent.units,
                }
            )
    elif method == AllocationMethod.EVEN:
        amounts = _split_even(parent.amount, len(children), CENT)
        units = _split_even(parent.units, len(children), _units_quantum(parent.units))
    else:
        from .actuals import plan_actuals

        year, number = previous_period(plan.period_kind, plan.year, plan.period_number)
        previous = plan_actuals(
            period_kind=plan.period_kind,
            year=year,
            number=number,
            source=plan.actuals_source,
            currency=plan.currency,
        )
        weights = [previous.node(n.level, n.pk, parent.product_line_id) for n in children]
        amount_weights = [w[0] if w[0] > 0 else ZERO for w in weights]
        if sum(amount_weights, ZERO) <= 0:
            raise ValidationError(
                _(
                    "There are no actuals in the previous period to allocate in proportion to: allocate evenly or by hand."
                )
            )
        amounts = _split_weighted(parent.amount, amount_weights, CENT)
        unit_weights = [w[1] if w[1] > 0 else ZERO for w in weights]
        if sum(unit_weights, ZERO) > 0:
            units = _split_weighted(parent.units, unit_weights, _units_quantum(parent.units))
        else:
            units = _split_weighted(parent.units, amount_weights, _units_quantum(parent.units))
    result: list[PlanTarget] = []

    def write(locked: SalesPlan) -> dict:
        _refuse_closed(locked)
        current = PlanTarget.objects.select_for_update().get(pk=parent.pk, plan=locked)
        if (current.amount, current.units) != (parent.amount, parent.units):
            raise ValidationError(_("The figure being allocated changed meanwhile: reload and try again."))
        line = current.product_line_id
        wanted = {
            node_key(n.level, n.pk, line): (n, a, u) for n, a, u in zip(children, amounts, units, strict=True)
        }
        existing = {t.key: t for t in PlanTarget.objects.filter(parent=current).select_for_update()}
        changes: dict = {}
        for key, old in existing.items():
            new = wanted.get(key)
            changed = new is None or (old.amount, old.units) != (new[1], new[2])
            if changed and old.children.exists():
                raise ValidationError(
                    _("%(node)s is already allocated further: change or clear that allocation first.")
                    % {"node": old.node_label}
                )
        for key, old in existing.items():
            if key not in wanted:
                changes[f"target {old}"] = [[str(old.amount), str(old.units)], None]
                old.delete()
        for key, (node, amount, unit) in wanted.items():
            target = existing.get(key)
            if target is None and PlanTarget.objects.filter(plan=locked, key=key).exists():
                raise ValidationError(
                    _("%(node)s already has a target in this plan under another parent.") % {"node": node.obj}
                )
            if target is None:
                target = PlanTarget(
                    plan=locked,
                    parent=current,
                    level=node.level,
                    product_line_id=line,
                    key=key,
                    **{
                        {
                            str(PlanLevel.DEPARTMENT): "department",
                            str(PlanLevel.TEAM): "team",
                            str(PlanLevel.REP): "rep",
                        }[node.level]: node.obj
                    },
                )
                before = None
            else:
                before = [str(target.amount), str(target.units)]
                target.version += 1
            target.amount, target.units = amount, unit
            target.full_clean(validate_unique=False, validate_constraints=False)
            target.save()
            result.append(target)
            after = [str(amount), str(unit)]
            if before != after:
                changes[f"target {target}"] = [before, after]
        if not changes:
            changes["allocation"] = [None, method]  # re-applying the same figures still records who did it
        return changes

    records.record_update(
        instance=plan,
        data={},
        by=by,
        expected_version=expected_version,
        children=write,
        note=f"allocate:{method}",
    )
    return result


def allocation_clear(*, parent: PlanTarget, by, expected_version: int | None) -> None:
    """Remove the allocation below a target (and everything below it)."""

    def write(locked: SalesPlan) -> dict:
        _refuse_closed(locked)
        gone = list(PlanTarget.objects.filter(parent_id=parent.pk))
        changes = {f"target {t}": [[str(t.amount), str(t.units)], None] for t in gone}
        PlanTarget.objects.filter(parent_id=parent.pk).delete()
        return changes

    records.record_update(
        instance=parent.plan, data={}, by=by, expected_version=expected_version, children=write
    )


def plan_rollup(*, plan: SalesPlan, by, expected_version: int | None) -> int:
    """Bottom-up planning: every target that has children takes the sum of its children's figures, deepest
    first (so reps' numbers entered by hand flow up to the company). Returns the number of targets changed."""
    counter = {"n": 0}

    def write(locked: SalesPlan) -> dict:
        _refuse_closed(locked)
        targets = {t.pk: t for t in PlanTarget.objects.filter(plan=locked).select_for_update()}
        kids: dict[int, list[PlanTarget]] = {}
        for t in targets.values():
            if t.parent_id:
                kids.setdefault(t.parent_id, []).append(t)
        depth: dict[str, int] = {
            PlanLevel.COMPANY: 0,
            PlanLevel.DEPARTMENT: 1,
            PlanLevel.TEAM: 2,
            PlanLevel.REP: 3,
        }

        def level_depth(t: PlanTarget) -> int:
            d, node = 0, t
            while node.parent_id:
                d, node = d + 1, targets[node.parent_id]
            return d * 10 + depth[t.level]

        changes: dict = {}
        for t in sorted(targets.values(), key=level_depth, reverse=True):
            if t.pk not in kids:
                continue
            amount = sum((k.amount for k in kids[t.pk]), ZERO)
            units = sum((k.units for k in kids[t.pk]), ZERO)
            if (amount, units) != (t.amount, t.units):
                changes[f"target {t}"] = [[str(t.amount), str(t.units)], [str(amount), str(units)]]
                t.amount, t.units, t.version = amount, units, t.version + 1
                t.save(update_fields=["amount", "units", "version"])
        counter["n"] = len(changes)
        return changes

    with transaction.atomic():
        records.record_update(
            instance=plan, data={}, by=by, expected_version=expected_version, children=write, note="rollup"
        )
    return counter["n"]


def rep_target_set(*, target: PlanTarget, amount, units, by, expected_version: int | None) -> PlanTarget:
    """Bottom-up entry: change one leaf figure (a rep's, or a node not allocated further). The parents no
    longer add up until the plan is rolled up (`plan_rollup`), which the page offers next to the figure."""
    amount = _check_figure(amount, CENT, _("Amount"))
    units = _check_figure(units, MILLI, _("Units"))

    def write(locked: SalesPlan) -> dict:
        _refuse_closed(locked)
        current = PlanTarget.objects.select_for_update().get(pk=target.pk, plan=locked)
        if current.children.exists():
            raise ValidationError(
                _("This figure is allocated further: change the allocation below it instead.")
            )
        before = [str(current.amount), str(current.units)]
        current.amount, current.units, current.version = amount, units, current.version + 1
        current.save(update_fields=["amount", "units", "version"])
        target.amount, target.units = amount, units
        return {f"target {current}": [before, [str(amount), str(units)]]}

    records.record_update(
        instance=target.plan, data={}, by=by, expected_version=expected_version, children=write
    )
    return target
