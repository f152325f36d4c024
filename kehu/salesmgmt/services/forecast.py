"""Forecast (ADR 0014, "Forecast and dashboards"): figures per rep and period, the rep's category per deal, the
manager's adjustment beside the rep's figure, weekly snapshots and their comparison with what happened.

Figures (one definition, `forecast_totals`, shared by the page, the API, the dashboard and the snapshots):
pipeline = open, non-omitted deals expected to close in the period; weighted = Σ amount × probability;
best case = best case + commit (open); commit = commit (open); won = deals won in the period. A deal without a
category counts as *pipeline*. The page and the API add the won amount to commit and best case ("closed +
commit"), as forecasts are read against a target.

Writes go through the record service: a category is the deal's `ForecastEntry` (the deal's write scope), an
adjustment a `ForecastAdjustment` owned by the rep and written by a manager (its change right and write scope);
both are audited. A closed period (its plan closed, or the period over) refuses adjustments."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import records
from kehu.core.access import Access
from kehu.core.models import User
from kehu.sales.models import Opportunity

from ..models import (
    ForecastAdjustment,
    ForecastCategory,
    ForecastEntry,
    ForecastSnapshot,
    PeriodKind,
    PlanStatus,
    PlanTarget,
    SalesPlan,
)
from ..models.plans import period_bounds

ZERO = Decimal("0")
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1e13")


# ----------------------------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    kind: str
    year: int
    number: int = 0

    @property
    def bounds(self) -> tuple[dt.date, dt.date]:
        return period_bounds(self.kind, self.year, self.number)

    @property
    def token(self) -> str:
        if self.kind == PeriodKind.YEAR:
            return str(self.year)
        if self.kind == PeriodKind.QUARTER:
            return f"{self.year}-Q{self.number}"
        return f"{self.year}-{self.number:02d}"

    label = token

    @classmethod
    def current(cls, kind: str = PeriodKind.QUARTER, today: dt.date | None = None) -> Period:
        today = today or timezone.localdate()
        if kind == PeriodKind.YEAR:
            return cls(kind, today.year, 0)
        if kind == PeriodKind.MONTH:
            return cls(kind, today.year, today.month)
        return cls(PeriodKind.QUARTER, today.year, (today.month - 1) // 3 + 1)

    @classmethod
    def parse(cls, token: str | None, default: Period | None = None) -> Period:
        """ "2026", "2026-Q2" or "2026-05"; anything else is refused (field `period`)."""
        if not token:
            return default or cls.current()
        token = token.strip().upper()
        for pattern, kind in ((r"(\d{4})", PeriodKind.YEAR), (r"(\d{4})-Q([1-4])", PeriodKind.QUARTER),
                              (r"(\d{4})-(0[1-9]|1[0-2])", PeriodKind.MONTH)):  # fmt: skip
            m = re.fullmatch(pattern, token)
            if m and 2000 <= int(m.group(1)) <= 2100:
                return cls(kind, int(m.group(1)), int(m.group(2)) if m.lastindex == 2 else 0)
        raise ValidationError({"period": _("Give a period as 2026, 2026-Q2 or 2026-05.")})

    def shifted(self, step: int) -> Period:
        if self.kind == PeriodKind.YEAR:
            return Period(self.kind, self.year + step, 0)
        per_year = 4 if self.kind == PeriodKind.QUARTER else 12
        index = self.year * per_year + self.number - 1 + step
        return Period(self.kind, index // per_year, index % per_year + 1)


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


def period_plans(period: Period) -> tuple[SalesPlan | None, SalesPlan | None]:
    """The plan of the period and the plan of its year, in one query."""
    return periods_plans([period])[period]


def periods_plans(periods) -> dict[Period, tuple[SalesPlan | None, SalesPlan | None]]:
    """`period_plans` of several periods, in one query."""
    cond = Q(pk__in=[])
    for period in periods:
        cond |= Q(year=period.year) & (
            Q(period_kind=period.kind, period_number=period.number) | Q(period_kind=PeriodKind.YEAR)
        )
    found = {(p.year, p.period_kind, p.period_number): p for p in SalesPlan.objects.filter(cond)}
    return {
        period: (
            found.get((period.year, period.kind, period.number)),
            found.get((period.year, PeriodKind.YEAR, 0)),
        )
        for period in periods
    }


def period_plan(period: Period) -> SalesPlan | None:
    return period_plans(period)[0]


def period_is_closed(period: Period, today: dt.date | None = None, plan=False) -> bool:
    """A period is closed when it is over or when its plan is closed (`plan`: the period's plan if known)."""
    today = today or timezone.localdate()
    if period.bounds[1] <= today:
        return True
    if plan is False:
        plan = period_plan(period)
    return plan is not None and plan.status == PlanStatus.CLOSED


# ----------------------------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class ForecastRow:
    amount: Decimal
    probability: int
    category: str
    won: bool = False
    open: bool = True


@dataclass
class ForecastTotals:
    pipeline: Decimal = ZERO
    weighted: Decimal = ZERO
    best_case: Decimal = ZERO
    commit: Decimal = ZERO
    won: Decimal = ZERO

    def add(self, other: ForecastTotals) -> None:
        for name in ("pipeline", "weighted", "best_case", "commit", "won"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def validate_category(value) -> str:
    if value not in ForecastCategory.values:
        raise ValidationError({"category": _("Unknown forecast category.")})
    return value


def forecast_totals(rows) -> ForecastTotals:
    """Pure: rows in, sums out (the definition the SQL aggregate below must agree with; tested against it)."""
    t = ForecastTotals()
    weighted = ZERO
    for row in rows:
        if row.won:
            t.won += row.amount
            continue
        if not row.open or row.category == ForecastCategory.OMITTED:
            continue
        t.pipeline += row.amount
        weighted += row.amount * Decimal(row.probability) / 100
        if row.category in (ForecastCategory.BEST_CASE, ForecastCategory.COMMIT):
            t.best_case += row.amount
        if row.category == ForecastCategory.COMMIT:
            t.commit += row.amount
    t.weighted = weighted.quantize(CENT)
    return t


def _in_period(period: Period) -> Q:
    start, end = period.bounds
    return Q(status="open", expected_close_date__gte=start, expected_close_date__lt=end) | Q(
        status="won", closed_at__gte=_aware(start), closed_at__lt=_aware(end)
    )


def period_deals(qs, period: Period):
    """Deals of a period: open ones expected to close in it, won ones closed in it."""
    return qs.filter(_in_period(period))


def totals_by_owner(qs, period: Period) -> dict[int, ForecastTotals]:
    """One grouped query over the (already scoped) deals of a period: owner → figures."""
    return totals_by_owner_periods(qs, [period])[period]


def totals_by_owner_periods(qs, periods) -> dict[Period, dict[int, ForecastTotals]]:
    """`totals_by_owner` of several periods (a month and its quarter on the dashboard) in one grouped query.

    The query only groups the (already scoped) deals of any of the periods by owner, status, category and
    month (of the expected close for open deals, of the closing in the default time zone for won ones) and
    sums amount and amount × probability; the figures are then added up here with the rules of
    `forecast_totals`. Periods are whole months, so a deal's month says which periods it belongs to. (The
    earlier form — a CASE per figure and period — spent ~12 ms of Python building and compiling the SQL.)"""
    periods = list(dict.fromkeys(periods))
    out: dict[Period, dict[int, ForecastTotals]] = {period: {} for period in periods}
    if not periods:
        return out
    tz = timezone.get_default_timezone()
    money: DecimalField = DecimalField(max_digits=24, decimal_places=4)
    any_period = Q(pk__in=[])
    for period in periods:
        any_period |= _in_period(period)
    rows = (
        qs.filter(any_period)
        .annotate(
            cat=Coalesce("forecast_entry__category", Value(ForecastCategory.PIPELINE)),
            open_month=TruncMonth("expected_close_date"),
            won_month=TruncMonth("closed_at", tzinfo=tz),
        )
        .values_list("owner_id", "status", "cat", "open_month", "won_month")
        .annotate(total=Sum("amount"), weighted=Sum(F("amount") * F("probability"), output_field=money))
        .order_by()
    )
    bounds = [(period, *period.bounds) for period in periods]
    weighted: dict[tuple[Period, int], Decimal] = {}
    for owner_id, status, cat, open_month, won_month, total, weight in rows:
        if owner_id is None:
            continue
        if status == "won":
            month = timezone.localtime(won_month, tz).date() if won_month is not None else None
        else:
            month = open_month.date() if isinstance(open_month, dt.datetime) else open_month
        if month is None:
            continue
        total = Decimal(total or 0)
        for period, start, end in bounds:
            if not start <= month < end:
                continue
            t = out[period].setdefault(owner_id, ForecastTotals())
            if status == "won":
                t.won += total
                continue
            if cat == ForecastCategory.OMITTED:
                continue
            t.pipeline += total
            weighted[(period, owner_id)] = weighted.get((period, owner_id), ZERO) + Decimal(weight or 0) / 100
            if cat in (ForecastCategory.BEST_CASE, ForecastCategory.COMMIT):
                t.best_case += total
            if cat == ForecastCategory.COMMIT:
                t.commit += total
    for period, owners in out.items():
        for owner_id, t in owners.items():
            t.weighted = weighted.get((period, owner_id), ZERO)
            for name in ("pipeline", "weighted", "best_case", "commit", "won"):
                setattr(t, name, getattr(t, name).quantize(CENT))
    return out


def rep_targets(period: Period, rep_ids, plans=None) -> tuple[dict[int, Decimal], bool]:
    """Each rep's all-products target for the period from the plan of that period; without one, the share of
    the year plan (a quarter ¼, a month 1⁄12), flagged as prorated."""
    return reps_targets({period: plans or period_plans(period)}, rep_ids)[period]


def reps_targets(plans_of: dict, rep_ids) -> dict[Period, tuple[dict[int, Decimal], bool]]:
    """`rep_targets` of several periods (period → its `period_plans`), the targets read in one query."""
    keys = {f"rep:{pk}|*": pk for pk in rep_ids}
    chosen: dict[Period, tuple[SalesPlan, Decimal, bool]] = {}
    for period, (plan, year_plan) in plans_of.items():
        factor, prorated = Decimal(1), False
        if plan is None and period.kind != PeriodKind.YEAR:
            plan = year_plan
            factor = Decimal(1) / (4 if period.kind == PeriodKind.QUARTER else 12)
            prorated = plan is not None
        if plan is not None:
            chosen[period] = (plan, factor, prorated)
    amounts: dict[int, dict[str, Decimal]] = {}
    if chosen:
        rows = (
            PlanTarget.objects.filter(
                plan_id__in=sorted({plan.pk for plan, _f, _p in chosen.values()}), key__in=list(keys)
            )
            .values_list("plan_id", "key", "amount")
            .order_by()
        )  # the model's ordering would join the plans
        for plan_id, key, amount in rows:
            amounts.setdefault(plan_id, {})[key] = amount
    out: dict[Period, tuple[dict[int, Decimal], bool]] = {}
    for period in plans_of:
        if period not in chosen:
            out[period] = ({}, False)
            continue
        plan, factor, prorated = chosen[period]
        found = amounts.get(plan.pk, {})
        out[period] = ({keys[k]: (a * factor).quantize(CENT) for k, a in found.items()}, prorated)
    return out


@dataclass
class RepForecast:
    rep: User
    totals: ForecastTotals
    target: Decimal | None = None
    adjustment: ForecastAdjustment | None = None

    @property
    def forecast(self) -> Decimal:
        """The figure the rep stands behind: won + commit."""
        return self.totals.won + self.totals.commit

    @property
    def manager_forecast(self) -> Decimal | None:
        return self.adjustment.amount if self.adjustment else None

    @property
    def final(self) -> Decimal:
        """The manager's figure where there is one, else the rep's."""
        return self.adjustment.amount if self.adjustment is not None else self.forecast

    @property
    def attainment(self) -> Decimal | None:
        return (self.final * 100 / self.target).quantize(Decimal("0.1")) if self.target else None


@dataclass
class Forecast:
    period: Period
    rows: list[RepForecast]
    total: ForecastTotals = field(default_factory=ForecastTotals)
    target: Decimal | None = None
    final: Decimal = ZERO
    forecast: Decimal = ZERO
    prorated: bool = False
    closed: bool = False
    amount_hidden: bool = False
    note_hidden: bool = False
    can_adjust: bool = False
    #: the team rows (forecast_teams.attach): a manager's team figure beside the sum of its reps'
    teams: list = field(default_factory=list)
    team_note_hidden: bool = True


def amount_hidden(user) -> bool:
    return "amount" in Access.of(user).hidden_fields("sales.opportunity")


def forecast_for(*, user, period: Period, rep_ids: set[int] | None = None) -> Forecast:
    """The forecast of the reps whose deals `user` may see (a rep: their own; a manager: the team or department
    per their scope), optionally narrowed to `rep_ids`. Deals come through the scope selector."""
    return forecasts_for(user=user, periods=[period], rep_ids=rep_ids)[0]


def forecasts_for(*, user, periods, rep_ids: set[int] | None = None) -> list[Forecast]:
    """`forecast_for` of several periods (the dashboard's month and quarter) with the statements shared: one
    grouped aggregate over the deals, one read of the plans, of the targets, of the adjustments, of the reps."""
    from kehu.sales import selectors as sales_selectors

    periods = list(periods)
    deals = sales_selectors.opportunity_list(user=user).select_related(None)
    if rep_ids is not None:
        deals = deals.filter(owner_id__in=sorted(rep_ids))
    by_period = totals_by_owner_periods(deals, periods)
    access = Access.of(user)
    scope_owners = access.owner_ids(access.grant("sales.opportunity").read_scope)
    if not access.can("view", "sales.opportunity"):
        scope_owners = set()
    # reps with a target but no deal yet are shown too (within the reader's scope)
    candidates = _rep_candidates(scope_owners, rep_ids)
    plans_of = periods_plans(periods)
    targets_of = reps_targets(plans_of, candidates)
    which = Q(pk__in=[])
    for period in dict.fromkeys(periods):
        which |= Q(period_kind=period.kind, year=period.year, period_number=period.number)
    adjustments_of: dict[tuple[str, int, int], dict[int, ForecastAdjustment]] = {}
    for a in access.filter(ForecastAdjustment.objects.all()).filter(which):
        adjustments_of.setdefault((a.period_kind, a.year, a.period_number), {})[a.rep_id] = a
    ids_of: dict[Period, set[int]] = {}
    for period in periods:
        adjustments = adjustments_of.get((period.kind, period.year, period.number), {})
        ids = set(by_period[period]) | set(targets_of[period][0]) | (set(adjustments) & candidates)
        if rep_ids is not None:
            ids &= rep_ids
        ids_of[period] = ids
    all_ids = set().union(*ids_of.values()) if ids_of else set()
    users = {u.pk: u for u in User.objects.filter(pk__in=sorted(all_ids))}
    hidden_amount = amount_hidden(user)
    note_hidden = "note" in access.hidden_fields(ForecastAdjustment)
    may_adjust = access.can("change", ForecastAdjustment)
    results = []
    for period in periods:
        by_owner = by_period[period]
        targets, prorated = targets_of[period]
        adjustments = adjustments_of.get((period.kind, period.year, period.number), {})
        rows = [
            RepForecast(users[pk], by_owner.get(pk, ForecastTotals()), targets.get(pk), adjustments.get(pk))
            for pk in ids_of[period]
            if pk in users
        ]
        rows.sort(key=lambda r: (r.rep.get_full_name() or r.rep.username).lower())
        result = Forecast(period=period, rows=rows, prorated=prorated)
        for r in rows:
            result.total.add(r.totals)
            result.final += r.final
            result.forecast += r.forecast
        result.target = sum((r.target for r in rows if r.target is not None), ZERO) if targets else None
        result.closed = period_is_closed(period, plan=plans_of[period][0])
        result.amount_hidden = hidden_amount
        result.note_hidden = note_hidden
        result.can_adjust = may_adjust and not result.closed
        results.append(result)
    from .forecast_teams import attach

    attach(user=user, forecasts=results, periods=periods)
    return results


def _rep_candidates(scope_owners: set[int] | None, rep_ids: set[int] | None) -> set[int]:
    if rep_ids is not None:
        return rep_ids if scope_owners is None else rep_ids & scope_owners
    if scope_owners is not None:
        return scope_owners
    return set(User.objects.filter(is_active=True).values_list("pk", flat=True))


# ----------------------------------------------------------------------------------------------- writes


def category_set(
    *, opportunity: Opportunity, category, by, expected_version: int | None = None
) -> ForecastEntry:
    """The rep's forecast category of one deal, through the record service (the deal's write scope, audited).
    Closed deals keep their category; an unknown category is refused with nothing written."""
    validate_category(category)
    if opportunity.status != "open":
        raise ValidationError({"category": _("A closed deal is no longer forecast.")})
    entry = ForecastEntry.objects.filter(opportunity=opportunity).first()
    if entry is None:
        return records.record_create(
            model=ForecastEntry, data={"opportunity": opportunity, "category": category}, by=by
        )
    return records.record_update(
        instance=entry, data={"category": category}, by=by, expected_version=expected_version
    )


def categories_set(*, changes: dict[int, str], by) -> int:
    """Several deals at once (the forecast grid): all or nothing. `changes` maps deal ids to categories;
    every deal must be visible and writable for `by`, every category known."""
    from kehu.sales import selectors as sales_selectors

    errors = {}
    for pk, value in changes.items():
        if value not in ForecastCategory.values:
            errors[f"category-{pk}"] = _("Unknown forecast category.")
    if errors:
        raise ValidationError(errors)
    n = 0
    with transaction.atomic():
        deals = {o.pk: o for o in sales_selectors.opportunity_list(user=by).filter(pk__in=list(changes))}
        for pk, value in changes.items():
            deal = deals.get(pk)
            if deal is None:
                raise PermissionDenied(_("You may not change this deal."))
            current = getattr(getattr(deal, "forecast_entry", None), "category", ForecastCategory.PIPELINE)
            if current == value:
                continue
            try:
                category_set(opportunity=deal, category=value, by=by)
            except ValidationError as exc:
                raise ValidationError({f"category-{pk}": exc.messages}) from None
            n += 1
    return n


def parse_amount(value, field_name: str = "amount") -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise ValidationError({field_name: _("Enter a number.")}) from None
    if not amount.is_finite():
        raise ValidationError({field_name: _("Enter a number.")})
    if amount < 0:
        raise ValidationError({field_name: _("A forecast cannot be negative.")})
    if amount != amount.quantize(CENT) or amount >= MAX_AMOUNT:
        raise ValidationError({field_name: _("Too many decimals or too large.")})
    return amount


def adjustment_set(
    *, rep: User, period: Period, amount, note: str | None = None, by, expected_version: int | None = None
) -> ForecastAdjustment:
    """A manager's figure for a rep's period, beside the rep's own (which it never changes). Refused for a
    closed period, a negative or malformed amount, and a rep outside the manager's write scope. `note=None`
    keeps the note as it is (a manager from whom the note is hidden neither sees nor writes it)."""
    amount = parse_amount(amount)
    if note is not None:
        note = note.strip()
        if len(note) > 500:
            raise ValidationError({"note": _("At most 500 characters.")})
    if note is not None and "note" in Access.of(by).hidden_fields(ForecastAdjustment):
        note = None
    notes = {} if note is None else {"note": note}
    if period_is_closed(period):
        raise ValidationError({"amount": _("The period %(period)s is closed.") % {"period": period.label}})
    access = Access.of(by)
    if not access.can("change", ForecastAdjustment) or not access.can("add", ForecastAdjustment):
        raise PermissionDenied(_("You may not adjust forecasts."))
    owners = access.owner_ids(access.grant(ForecastAdjustment).write_scope)
    if owners is not None and rep.pk not in owners and not by.is_superuser:
        raise PermissionDenied(_("This rep is outside your team."))
    existing = ForecastAdjustment.objects.filter(
        rep=rep, period_kind=period.kind, year=period.year, period_number=period.number
    ).first()
    if existing is None:
        data = {"rep": rep, "period_kind": period.kind, "year": period.year, "period_number": period.number,
                "amount": amount, **notes}  # fmt: skip
        return records.record_create(model=ForecastAdjustment, data=data, by=by)

    def sign(locked: ForecastAdjustment) -> dict:
        if locked.adjusted_by_id != by.pk:
            before = str(locked.adjusted_by) if locked.adjusted_by_id else None
            locked.adjusted_by = by
            return {"adjusted_by": [before, str(by)]}
        return {}

    return records.record_update(
        instance=existing, data={"amount": amount, **notes}, by=by, expected_version=expected_version,
        children=sign,
    )  # fmt: skip


# ----------------------------------------------------------------------------------------------- snapshots


def week_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def snapshot_take(*, today: dt.date | None = None, kinds=(PeriodKind.QUARTER, PeriodKind.MONTH)) -> int:
    """The weekly job: the figures of every rep for the current quarter and month, once per ISO week (a second
    run in the same week writes nothing: the first snapshot of the week stands). System-wide, not scoped."""
    today = today or timezone.localdate()
    week = week_of(today)
    now = timezone.now()
    made = 0
    for kind in kinds:
        period = Period.current(kind, today)
        done = ForecastSnapshot.objects.filter(
            week=week, period_kind=period.kind, year=period.year, period_number=period.number
        )
        if done.exists():
            continue
        by_owner = totals_by_owner(Opportunity.objects.all(), period)
        targets, _prorated = rep_targets(period, set(by_owner) | _planned_reps(period))
        adjusted = dict(
            ForecastAdjustment.objects.filter(
                period_kind=period.kind, year=period.year, period_number=period.number
            ).values_list("rep_id", "amount")
        )
        rows = [
            ForecastSnapshot(
                week=week,
                rep_id=pk,
                taken_at=now,
                period_kind=period.kind,
                year=period.year,
                period_number=period.number,
                pipeline=t.pipeline,
                weighted=t.weighted,
                best_case=t.best_case,
                commit=t.commit,
                won=t.won,
                adjusted=adjusted.get(pk),
                target=targets.get(pk),
            )  # fmt: skip
            for pk in sorted(set(by_owner) | set(targets) | set(adjusted))
            for t in [by_owner.get(pk, ForecastTotals())]
        ]
        made += len(ForecastSnapshot.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000))
    return made


def _planned_reps(period: Period) -> set[int]:
    exact, year_plan = period_plans(period)
    plan = exact or year_plan
    if plan is None:
        return set()
    return set(PlanTarget.objects.filter(plan=plan, rep__isnull=False).values_list("rep_id", flat=True))


def snapshot_comparison(
    *, user, period: Period, rep_ids: set[int] | None = None, current: Forecast | None = None
) -> dict:
    """Each week's snapshot of a period (summed over the reps `user` may see) beside what happened: the amount
    won in the period by now (the final figure once the period is over). `current`: the caller's
    `forecast_for(user=user, period=period, rep_ids=rep_ids)` when it has it already (the forecast page)."""
    qs = (
        Access.of(user)
        .filter(ForecastSnapshot.objects.all())
        .filter(period_kind=period.kind, year=period.year, period_number=period.number)
    )
    if rep_ids is not None:
        qs = qs.filter(rep_id__in=sorted(rep_ids))
    names = ("pipeline", "weighted", "best_case", "commit", "won")
    weeks = [
        {"week": r["week"], **{n: r[f"s_{n}"] for n in names}, "adjusted": r["s_adjusted"]}
        for r in qs.values("week")
        .annotate(
            **{f"s_{n}": Sum(n) for n in names},
            s_adjusted=Sum(Coalesce("adjusted", F("won") + F("commit"))),
        )
        .order_by("week")
    ]
    if current is None or current.period != period:
        current = forecast_for(user=user, period=period, rep_ids=rep_ids)
    actual = current.total.won
    for w in weeks:
        w["forecast"] = w["won"] + w["commit"]
        w["error"] = actual - w["adjusted"]
        w["accuracy"] = (actual * 100 / w["adjusted"]).quantize(Decimal("0.1")) if w["adjusted"] else None
    return {
        "period": period,
        "weeks": weeks,
        "actual": actual,
        "over": period.bounds[1] <= timezone.localdate(),
        "amount_hidden": current.amount_hidden,
    }
