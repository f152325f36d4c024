"""Demo forecast (called by seed_demo after kehu.salesmgmt.demo): every rep's open deals get a forecast category
(the likeliest commit, the middle best case, a few omitted) through the record service, the manager adjusts
rep1's quarter with a note, and this quarter gets weekly snapshots: this week's taken by the job, the earlier
weeks of the quarter as they could have stood (figures growing towards today's), so the comparison with what
happened has something to show."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from kehu.sales.models import Opportunity

from .models import ForecastSnapshot
from .services import forecast as fc


def _team_adjustment(manager, rep1, quarter) -> None:
    """The manager's figure for rep1's team this quarter (a little under the sum of the reps' figures)."""
    from django.core.exceptions import PermissionDenied

    from .services import forecast_teams

    team = rep1.teams.order_by("name").first()
    if team is None:
        return
    f = fc.forecast_for(user=manager, period=quarter)
    row = next((t for t in f.teams if t.team.pk == team.pk), None)
    figure = (row.reps_final * Decimal("0.95")).quantize(fc.CENT) if row else Decimal("200000")
    try:
        forecast_teams.team_adjustment_set(team=team, period=quarter, amount=figure, by=manager,
                                           note="团队整体保守估计 A cautious figure for the team")  # fmt: skip
    except (ValidationError, PermissionDenied):
        pass  # last day of the quarter, or a team reaching outside the manager's scope


def seed(ctx) -> str:
    users = ctx["org"].users
    today = timezone.localdate()
    n = 0
    for username in ("rep1", "rep2", "rep3", "rep4"):
        rep = users.get(username)
        if rep is None:
            continue
        changes = {}
        for i, (pk, probability) in enumerate(
            Opportunity.objects.filter(owner=rep, status="open")
            .order_by("id")
            .values_list("pk", "probability")
        ):
            if i % 9 == 8:
                changes[pk] = "omitted"
            elif probability >= 70:
                changes[pk] = "commit"
            elif probability >= 40:
                changes[pk] = "best_case"
        n += fc.categories_set(changes=changes, by=rep)
    quarter = fc.Period.current("quarter", today)
    manager, rep1 = users.get("manager"), users.get("rep1")
    if manager is not None and rep1 is not None:
        own = fc.forecast_for(user=rep1, period=quarter).rows
        figure = (own[0].forecast * Decimal("0.9")).quantize(fc.CENT) if own else Decimal("100000")
        try:
            fc.adjustment_set(rep=rep1, period=quarter, amount=figure, by=manager,
                              note="两笔大单客户预算待批 Two large deals wait for the customer's budget")  # fmt: skip
        except ValidationError:
            pass  # the last day of a quarter: nothing to adjust
        _team_adjustment(manager, rep1, quarter)
    fc.snapshot_take(today=today)
    week = fc.week_of(today)
    base = list(ForecastSnapshot.objects.filter(week=week))
    earlier = []
    start = quarter.bounds[0]
    k = 1
    while week - dt.timedelta(weeks=k) >= fc.week_of(start) and k <= 12:
        factor = Decimal(1) - Decimal("0.06") * k
        for s in base:
            if s.period_kind != "quarter":
                continue
            earlier.append(
                ForecastSnapshot(
                    week=week - dt.timedelta(weeks=k), rep_id=s.rep_id, taken_at=s.taken_at - dt.timedelta(weeks=k),
                    period_kind=s.period_kind, year=s.year, period_number=s.period_number,
                    pipeline=(s.pipeline * (2 - factor)).quantize(fc.CENT), weighted=(s.weighted * factor).quantize(fc.CENT),
                    best_case=(s.best_case * (2 - factor)).quantize(fc.CENT), commit=(s.commit * factor).quantize(fc.CENT),
                    won=(s.won * factor).quantize(fc.CENT), adjusted=None, target=s.target,
                )
            )  # fmt: skip
        k += 1
    ForecastSnapshot.objects.bulk_create(earlier, ignore_conflicts=True)
    return f"{n} forecast categories, {len(base) + len(earlier)} forecast snapshots"
