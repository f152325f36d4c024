"""Performance per rep and team (ADR 0016): quota (the plan of the period, item 2), results (the plan's actuals
source: won deals or paid orders), win rate, conversion per stage (from the stage history), average deal size
and sales cycle, activities (logged interactions and visits done), approved expenses, ranked.

Who is shown follows the reader's read scope on opportunities (a rep: themself; a manager: the team or the
department; an executive: everyone) — a rep outside it is a 404. Every figure is an aggregate over the chosen
reps, a fixed number of grouped queries whatever the number of deals (no per-rep or per-deal query); the
expenses are summed within the reader's expense scope."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Max, Min, Q, Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.access import Access, Scope
from kehu.core.models import ModelGrant, Team, User
from kehu.core.selectors import scoped
from kehu.interactions.models import Interaction
from kehu.sales.models import Opportunity, Stage, StageChange

from .models import (
    ActualsSource,
    Expense,
    ExpenseStatus,
    PeriodKind,
    PlanTarget,
    SalesPlan,
    Visit,
    VisitStatus,
)
from .models.plans import period_bounds
from .services.actuals import plan_actuals

ZERO = Decimal("0")
#: interactions that are not a rep's own activity (timeline events of other apps, web forms, planned visits)
NOT_ACTIVITY = ("event", "web_form", "visit")


@dataclass(frozen=True)
class Period:
    kind: str
    year: int
    number: int

    @property
    def bounds(self) -> tuple[dt.date, dt.date]:
        return period_bounds(self.kind, self.year, self.number)

    @property
    def label(self) -> str:
        if self.kind == PeriodKind.YEAR:
            return str(self.year)
        if self.kind == PeriodKind.QUARTER:
            return f"{self.year}-Q{self.number}"
        return f"{self.year}-{self.number:02d}"

    def aware(self) -> tuple[dt.datetime, dt.datetime]:
        tz = timezone.get_current_timezone()
        start, end = self.bounds
        return dt.datetime.combine(start, dt.time.min, tzinfo=tz), dt.datetime.combine(
            end, dt.time.min, tzinfo=tz
        )


def period_parse(raw: str | None) -> Period:
    """`2026`, `2026-Q3` or `2026-07`; anything else (or nothing): this year."""
    today = timezone.localdate()
    raw = (raw or "").strip().upper()
    try:
        if len(raw) == 4:
            return Period(PeriodKind.YEAR, int(raw), 0)
        if len(raw) == 7 and raw[4:6] == "-Q" and raw[6] in "1234":
            return Period(PeriodKind.QUARTER, int(raw[:4]), int(raw[6]))
        if len(raw) == 7 and raw[4] == "-" and 1 <= int(raw[5:]) <= 12:
            return Period(PeriodKind.MONTH, int(raw[:4]), int(raw[5:]))
    except ValueError:
        pass
    return Period(PeriodKind.YEAR, today.year, 0)


@dataclass
class RepRow:
    user: User
    quota: Decimal | None = None
    actual: Decimal | None = ZERO  # None: hidden (the amount field of the results' source is hidden)
    won_count: int = 0
    won_amount: Decimal | None = ZERO
    lost_count: int = 0
    cycle_days: Decimal | None = None
    interactions: int = 0
    visits: int = 0
    expenses: Decimal | None = ZERO
    expenses_other: dict[str, Decimal] = field(default_factory=dict)
    rank: int = 0

    @property
    def attainment(self) -> Decimal | None:
        if self.actual is None or not self.quota:
            return None
        return (self.actual * 100 / self.quota).quantize(Decimal("0.1"))

    @property
    def avg_deal(self) -> Decimal | None:
        if self.won_amount is None or not self.won_count:
            return None
        return (self.won_amount / self.won_count).quantize(Decimal("0.01"))

    @property
    def win_rate(self) -> Decimal | None:
        closed = self.won_count + self.lost_count
        return (Decimal(self.won_count * 100) / closed).quantize(Decimal("0.1")) if closed else None


@dataclass
class Performance:
    period: Period
    currency: str
    source: str
    plan: SalesPlan | None
    rows: list[RepRow]
    total: RepRow
    funnel: list[dict]
    teams: list[Team]
    team: Team | None = None
    rep: User | None = None


def visible_owner_ids(user) -> set[int] | None:
    """Whose performance `user` may see: the owners of the opportunities in their read scope (None: all)."""
    access = Access.of(user)
    if not access.can("view", Opportunity):
        raise PermissionDenied(_("You do not have access to this page."))
    return access.owner_ids(Scope(access.grant(Opportunity).read_scope))


def _teams(owners: set[int] | None) -> list[Team]:
    qs = Team.objects.order_by("name")
    if owners is not None:
        qs = qs.filter(members__id__in=sorted(owners)).distinct()
    return list(qs)


def _select(
    user, owners: set[int] | None, *, team_id=None, rep_id=None
) -> tuple[list[User], Team | None, User | None]:
    users = User.objects.filter(is_active=True)
    if rep_id is not None:
        rep = users.filter(pk=rep_id).first()
        if rep is None or (owners is not None and rep.pk not in owners):
            raise Http404
        return [rep], None, rep
    if team_id is not None:
        team = Team.objects.filter(pk=team_id).first()
        if team is None:
            raise Http404
        members = users.filter(teams=team)
        if owners is not None:
            members = members.filter(pk__in=sorted(owners))
        chosen = list(members.order_by("username"))
        if not chosen:
            raise Http404
        return chosen, team, None
    if owners is None:  # everyone: the sales people (in a team, or holding a role that may add deals)
        sellers = Q(teams__isnull=False) | Q(
            roles__in=ModelGrant.objects.filter(model="sales.opportunity", can_add=True).values("role_id")
        )
        return list(users.filter(sellers).distinct().order_by("username")), None, None
    return list(users.filter(pk__in=sorted(owners)).order_by("username")), None, None


def _plan(user, period: Period) -> SalesPlan | None:
    return (
        scoped(SalesPlan, user=user)
        .filter(period_kind=period.kind, year=period.year, period_number=period.number)
        .first()
    )


def performance(
    *, user, period: Period, team_id: int | None = None, rep_id: int | None = None
) -> Performance:
    owners = visible_owner_ids(user)
    chosen, team, rep = _select(user, owners, team_id=team_id, rep_id=rep_id)
    ids = sorted(u.pk for u in chosen)
    plan = _plan(user, period)
    currency = plan.currency if plan else getattr(settings, "KEHU_DEFAULT_CURRENCY", "CNY")
    source = plan.actuals_source if plan else ActualsSource.WON
    rows = {u.pk: RepRow(user=u) for u in chosen}
    access = Access.of(user)
    deal_amount_hidden = "amount" in access.hidden_fields(Opportunity)
    expense_amount_hidden = "amount" in access.hidden_fields(Expense) or not access.can("view", Expense)
    start, end = period.aware()
    day0, day1 = period.bounds

    quotas: dict[str, Decimal] = {}
    if plan is not None:
        keys = [f"rep:{pk}|*" for pk in ids] + ([f"team:{team.pk}|*"] if team else [])
        quotas = dict(PlanTarget.objects.filter(plan=plan, key__in=keys).values_list("key", "amount"))
        for pk, row in rows.items():
            row.quota = quotas.get(f"rep:{pk}|*")

    actuals = plan_actuals(
        period_kind=period.kind, year=period.year, number=period.number, source=source, currency=currency,
        owners=set(ids),
    )  # fmt: skip
    # the results are sums of deal amounts (won), order-line amounts (paid) or payment amounts (payments): hidden
    # with them (ADR 0009), in the page, the API and the CSV/XLSX/PDF exports alike
    results_hidden = deal_amount_hidden if source == ActualsSource.WON else (
        "amount" in access.hidden_fields(
            "sales.payment" if source == ActualsSource.PAYMENTS else "sales.orderline"
        )
    )  # fmt: skip
    for pk, row in rows.items():
        row.actual = None if results_hidden else actuals.totals.get(pk, [ZERO, ZERO])[0]

    closed = Opportunity.objects.filter(owner_id__in=ids, closed_at__gte=start, closed_at__lt=end)
    for owner_id, status, n, amount, cycle in (
        closed.filter(Q(status="lost") | Q(status="won", currency=currency))
        .values_list("owner_id", "status")
        .annotate(n=Count("id"), a=Sum("amount"), c=Sum(F("closed_at") - F("created_at")))
        .order_by()
    ):
        row = rows[owner_id]
        if status == "won":
            row.won_count, row.won_amount = n, None if deal_amount_hidden else (amount or ZERO)
            seconds = cycle.total_seconds() if isinstance(cycle, dt.timedelta) else (cycle or 0) / 1e6
            row.cycle_days = (Decimal(seconds) / 86400 / n).quantize(Decimal("0.1")) if n else None
        else:
            row.lost_count = n

    for user_id, n in (
        Interaction.objects.filter(user_id__in=ids, occurred_at__gte=start, occurred_at__lt=end)
        .exclude(channel__in=NOT_ACTIVITY)
        .values_list("user_id")
        .annotate(n=Count("id"))
        .order_by()
    ):
        rows[user_id].interactions = n
    for owner_id, n in (
        Visit.objects.filter(
            owner_id__in=ids, status=VisitStatus.DONE, checkin_at__gte=start, checkin_at__lt=end
        )
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .order_by()
    ):
        rows[owner_id].visits = n
    # field rights hold in aggregates too (ADR 0009): a hidden deal amount hides the average deal size, a
    # hidden expense amount the expense sums
    for row in rows.values() if expense_amount_hidden else ():
        row.expenses = None
    spent = (
        Expense.objects.none()
        if expense_amount_hidden
        else scoped(Expense, user=user).filter(
            owner_id__in=ids, status=ExpenseStatus.APPROVED, spent_on__gte=day0, spent_on__lt=day1
        )
    )
    for owner_id, cur, amount in (
        spent.values_list("owner_id", "currency").annotate(a=Sum("amount")).order_by()
    ):
        if cur == currency:
            rows[owner_id].expenses = amount
        else:
            rows[owner_id].expenses_other[cur] = amount

    ranked = sorted(
        rows.values(),
        key=lambda r: (r.attainment is None, -(r.attainment or 0), -(r.actual or 0), r.user.username),
    )
    for i, row in enumerate(ranked, 1):
        row.rank = i
    total = RepRow(user=team or rep or user)  # type: ignore[arg-type]
    total.quota = quotas.get(f"team:{team.pk}|*") if team else (
        sum((r.quota for r in ranked if r.quota is not None), ZERO) if any(r.quota for r in ranked) else None
    )  # fmt: skip
    for r in ranked:
        total.actual = None if r.actual is None or total.actual is None else total.actual + r.actual
        total.won_count += r.won_count
        total.won_amount = (
            None if r.won_amount is None or total.won_amount is None else total.won_amount + r.won_amount
        )
        total.lost_count += r.lost_count
        total.interactions += r.interactions
        total.visits += r.visits
        total.expenses = None if r.expenses is None or total.expenses is None else total.expenses + r.expenses
    cycles = [(r.cycle_days, r.won_count) for r in ranked if r.cycle_days is not None]
    if cycles:
        total.cycle_days = (
            sum((c * n for c, n in cycles), Decimal(0)) / sum(n for _c, n in cycles)
        ).quantize(Decimal("0.1"))
    return Performance(
        period=period,
        currency=currency,
        source=source,
        plan=plan,
        rows=ranked,
        total=total,
        funnel=stage_funnel(owner_ids=ids, period=period),
        teams=_teams(owners),
        team=team,
        rep=rep,
    )


def stage_funnel(*, owner_ids: list[int], period: Period) -> list[dict]:
    """Conversion per stage of the opportunities created in the period by these owners: how many reached
    each open stage (entered it or a later one, by the stage history and the current stage), how many were
    won, and the share of those reaching a stage that went on to the next. Per pipeline, in stage order."""
    start, end = period.aware()
    cohort = Opportunity.objects.filter(owner_id__in=owner_ids, created_at__gte=start, created_at__lt=end)
    furthest: dict[int, int] = {}
    for opp_id, pos in (
        StageChange.objects.filter(opportunity__in=cohort.values("id"), to_stage__kind="open")
        .values_list("opportunity_id")
        .annotate(p=Max("to_stage__position"))
        .order_by()
    ):
        furthest[opp_id] = pos
    per_pipeline: dict[int, Counter] = defaultdict(Counter)
    won: Counter = Counter()
    for opp_id, pipeline_id, pos, kind, status in cohort.values_list(
        "id", "pipeline_id", "stage__position", "stage__kind", "status"
    ):
        reached = max(furthest.get(opp_id, -1), pos if kind == "open" else -1)
        if status == "won":
            won[pipeline_id] += 1
            reached = 10**9  # a won deal went through every open stage
        per_pipeline[pipeline_id][reached] += 1
    if not per_pipeline:
        return []
    stages = list(
        Stage.objects.filter(pipeline_id__in=list(per_pipeline), kind="open")
        .select_related("pipeline")
        .order_by("pipeline__name", "position", "id")
    )
    first_pos = dict(
        Stage.objects.filter(pipeline_id__in=list(per_pipeline), kind="open")
        .values_list("pipeline_id")
        .annotate(m=Min("position"))
        .order_by()
    )
    result: list[dict] = []
    for pipeline_id, counts in per_pipeline.items():
        steps = [s for s in stages if s.pipeline_id == pipeline_id]
        total = sum(counts.values())
        rows = []
        for s in steps:
            # a deal whose furthest known stage lies before the first (no history) counts at the first stage
            n = sum(
                c for p, c in counts.items() if p >= s.position or (s.position == first_pos.get(pipeline_id))
            )
            rows.append({"stage": s.name, "pipeline": s.pipeline.name, "reached": n})
        rows.append(
            {
                "stage": _("Won"),
                "pipeline": steps[0].pipeline.name if steps else "",
                "reached": won[pipeline_id],
                "won": True,
            }
        )
        for i, r in enumerate(rows):
            nxt = rows[i + 1]["reached"] if i + 1 < len(rows) else None
            r["to_next"] = (
                (Decimal(nxt * 100) / r["reached"]).quantize(Decimal("0.1"))
                if nxt is not None and r["reached"]
                else None
            )
            r["share"] = (Decimal(r["reached"] * 100) / total).quantize(Decimal("0.1")) if total else None
            r["bar"] = int(round(float(r["share"] or 0) / 10) * 10)
        result.extend(rows)
    return result
