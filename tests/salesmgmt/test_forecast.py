"""Forecast: figures (pure and SQL agree), categories through the record service (scope, bad input, all or
nothing), the manager's adjustment beside the rep's figure (audited, closed period refused, negative refused),
weekly snapshots (idempotent) and their comparison with what happened, scope and hidden amounts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from kehu.core.models import AuditEntry, FieldGrant
from kehu.sales.models import Opportunity
from kehu.salesmgmt.models import ForecastAdjustment, ForecastEntry, ForecastSnapshot
from kehu.salesmgmt.services import forecast as fc
from kehu.salesmgmt.services import plans


@pytest.fixture
def deal(pipeline, stages, account):
    counter = iter(range(1, 10**6))

    def make(owner, amount, probability=50, category=None, close=None, status="open", closed_at=None):
        stage = stages[probability] if status == "open" else pipeline.stages.get(kind=status)
        opp = Opportunity.objects.create(
            name=f"deal #{next(counter)}", customer=account, pipeline=pipeline, stage=stage, owner=owner,
            status=status, amount=Decimal(amount), probability=probability if status == "open" else 100,
            expected_close_date=close or timezone.localdate(), closed_at=closed_at,
        )  # fmt: skip
        if category:
            ForecastEntry.objects.create(opportunity=opp, category=category)
        return opp

    return make


@pytest.fixture
def period():
    return fc.Period.current("quarter")


def _probabilities(stages):
    return sorted(k for k in stages if isinstance(k, int))


def test_pure_totals_by_category():
    rows = [
        fc.ForecastRow(Decimal("1000"), 50, "pipeline"),
        fc.ForecastRow(Decimal("2000"), 70, "best_case"),
        fc.ForecastRow(Decimal("3000"), 90, "commit"),
        fc.ForecastRow(Decimal("4000"), 90, "omitted"),
        fc.ForecastRow(Decimal("500"), 100, "commit", won=True, open=False),
        fc.ForecastRow(Decimal("700"), 0, "commit", open=False),
    ]
    t = fc.forecast_totals(rows)
    assert (t.pipeline, t.weighted, t.best_case, t.commit, t.won) == (
        Decimal("6000"), Decimal("4600.00"), Decimal("5000"), Decimal("3000"), Decimal("500"),
    )  # fmt: skip


def test_sql_figures_agree_with_the_pure_definition(org, deal, stages, period):
    p = _probabilities(stages)
    deal(org.rep1, "1000", p[0])
    deal(org.rep1, "2000", p[1], "best_case")
    deal(org.rep1, "3000", p[-1], "commit")
    deal(org.rep1, "4000", p[-1], "omitted")
    deal(org.rep1, "9999", p[0], close=period.bounds[1] + dt.timedelta(days=3))  # next period: not counted
    deal(org.rep1, "500", status="won", closed_at=timezone.now())
    t = fc.totals_by_owner(Opportunity.objects.all(), period)[org.rep1.pk]
    pure = fc.forecast_totals(
        [fc.ForecastRow(Decimal("1000"), p[0], "pipeline"), fc.ForecastRow(Decimal("2000"), p[1], "best_case"),
         fc.ForecastRow(Decimal("3000"), p[-1], "commit"), fc.ForecastRow(Decimal("4000"), p[-1], "omitted"),
         fc.ForecastRow(Decimal("500"), 100, "", won=True, open=False)]
    )  # fmt: skip
    assert (t.pipeline, t.weighted, t.best_case, t.commit, t.won) == (
        pure.pipeline, pure.weighted, pure.best_case, pure.commit, pure.won,
    )  # fmt: skip
    assert t.pipeline == Decimal("6000.00") and t.won == Decimal("500.00")


def test_scope_a_rep_sees_own_a_manager_the_department(org, deal, period):
    deal(org.rep1, "1000", category="commit")
    deal(org.rep2, "2000", category="commit")
    deal(org.rep3, "4000", category="commit")  # another department
    mine = fc.forecast_for(user=org.rep1, period=period)
    assert [r.rep for r in mine.rows] == [org.rep1] and mine.total.commit == Decimal("1000")
    team = fc.forecast_for(user=org.manager, period=period)
    assert {r.rep for r in team.rows} == {org.rep1, org.rep2}
    assert team.total.commit == Decimal("3000") and team.can_adjust
    assert not mine.can_adjust


def test_target_from_the_year_plan_prorated(org, deal, period):
    from kehu.salesmgmt.models import PlanTarget

    plan = plans.plan_create(data={"name": "plan", "year": period.year}, by=org.manager)
    PlanTarget.objects.create(plan=plan, level="rep", rep=org.rep1, amount=Decimal("400000"),
                              key=f"rep:{org.rep1.pk}|*")  # fmt: skip
    targets, prorated = fc.rep_targets(period, {org.rep1.pk, org.rep2.pk})
    assert targets == {org.rep1.pk: Decimal("100000.00")} and prorated
    deal(org.rep1, "30000", category="commit")
    row = fc.forecast_for(user=org.rep1, period=period).rows[0]
    assert row.target == Decimal("100000.00") and row.attainment == Decimal("30.0")
    year_targets, year_prorated = fc.rep_targets(fc.Period("year", period.year), {org.rep1.pk})
    assert year_targets[org.rep1.pk] == Decimal("400000.00") and not year_prorated


def test_category_set_through_the_record_service(org, deal):
    opp = deal(org.rep1, "1000")
    entry = fc.category_set(opportunity=opp, category="commit", by=org.rep1)
    assert entry.category == "commit"
    fc.category_set(opportunity=opp, category="best_case", by=org.rep1, expected_version=entry.version)
    assert ForecastEntry.objects.get(opportunity=opp).category == "best_case"
    assert AuditEntry.objects.filter(model="salesmgmt.forecastentry", object_id=str(entry.pk)).count() == 2
    with pytest.raises(ValidationError) as exc:
        fc.category_set(opportunity=opp, category="maybe", by=org.rep1)
    assert "category" in exc.value.message_dict
    other = deal(org.rep2, "500")
    with pytest.raises((PermissionDenied, Exception)):
        fc.category_set(opportunity=other, category="commit", by=org.rep1)
    assert not ForecastEntry.objects.filter(opportunity=other).exists()


def test_grid_is_all_or_nothing(org, deal):
    a, b = deal(org.rep1, "100"), deal(org.rep1, "200")
    with pytest.raises(ValidationError) as exc:
        fc.categories_set(changes={a.pk: "commit", b.pk: "certain"}, by=org.rep1)
    assert f"category-{b.pk}" in exc.value.message_dict
    assert not ForecastEntry.objects.exists()
    other = deal(org.rep2, "300")
    with pytest.raises(PermissionDenied):
        fc.categories_set(changes={a.pk: "commit", other.pk: "commit"}, by=org.rep1)
    assert not ForecastEntry.objects.exists()
    assert fc.categories_set(changes={a.pk: "commit", b.pk: "omitted"}, by=org.rep1) == 2
    assert dict(ForecastEntry.objects.values_list("opportunity_id", "category")) == {
        a.pk: "commit",
        b.pk: "omitted",
    }


def test_closed_deal_category_refused(org, deal):
    opp = deal(org.rep1, "100", status="won", closed_at=timezone.now())
    with pytest.raises(ValidationError):
        fc.category_set(opportunity=opp, category="commit", by=org.rep1)
    assert not ForecastEntry.objects.exists()


def test_manager_adjustment_beside_the_rep_figure(org, deal, period):
    deal(org.rep1, "1000", category="commit")
    adj = fc.adjustment_set(rep=org.rep1, period=period, amount="800", note="客户预算推迟", by=org.manager)
    assert adj.adjusted_by == org.manager and adj.rep == org.rep1
    f = fc.forecast_for(user=org.manager, period=period)
    row = next(r for r in f.rows if r.rep == org.rep1)
    assert (
        row.forecast == Decimal("1000")
        and row.manager_forecast == Decimal("800")
        and row.final == Decimal("800")
    )
    fc.adjustment_set(rep=org.rep1, period=period, amount="900.50", note="", by=org.manager,
                      expected_version=adj.version)  # fmt: skip
    adj.refresh_from_db()
    assert adj.amount == Decimal("900.50") and adj.version == 2
    assert AuditEntry.objects.filter(model="salesmgmt.forecastadjustment", object_id=str(adj.pk)).count() == 2
    # the rep sees the manager's figure beside their own, and cannot adjust
    rep_view = fc.forecast_for(user=org.rep1, period=period)
    assert rep_view.rows[0].manager_forecast == Decimal("900.50") and rep_view.rows[0].forecast == Decimal(
        "1000"
    )
    with pytest.raises(PermissionDenied):
        fc.adjustment_set(rep=org.rep1, period=period, amount="5", by=org.rep1)
    with pytest.raises(PermissionDenied):  # outside the manager's department
        fc.adjustment_set(rep=org.rep3, period=period, amount="5", by=org.manager)


@pytest.mark.parametrize("amount", ["-1", "abc", "NaN", "1.001", "1e20", ""])
def test_bad_adjustment_amounts_refused(org, period, amount):
    with pytest.raises(ValidationError) as exc:
        fc.adjustment_set(rep=org.rep1, period=period, amount=amount, by=org.manager)
    assert "amount" in exc.value.message_dict
    assert not ForecastAdjustment.objects.exists()


def test_adjustment_on_a_closed_period_refused(org, period):
    past = period.shifted(-1)
    with pytest.raises(ValidationError) as exc:
        fc.adjustment_set(rep=org.rep1, period=past, amount="10", by=org.manager)
    assert "amount" in exc.value.message_dict
    plan = plans.plan_create(
        data={"name": "q", "period_kind": "quarter", "year": period.year, "period_number": period.number},
        by=org.manager,
    )
    plans.plan_set_status(plan=plan, status="closed", by=org.manager, expected_version=plan.version)
    with pytest.raises(ValidationError):
        fc.adjustment_set(rep=org.rep1, period=period, amount="10", by=org.manager)
    assert not ForecastAdjustment.objects.exists()


def test_period_parsing():
    assert fc.Period.parse("2026-q2") == fc.Period("quarter", 2026, 2)
    assert fc.Period.parse("2026-05") == fc.Period("month", 2026, 5)
    assert fc.Period.parse("2026") == fc.Period("year", 2026, 0)
    assert fc.Period("quarter", 2026, 1).shifted(-1) == fc.Period("quarter", 2025, 4)
    assert fc.Period("month", 2026, 12).shifted(1) == fc.Period("month", 2027, 1)
    for bad in ("2026-Q5", "2026-13", "soon", "1999"):
        with pytest.raises(ValidationError):
            fc.Period.parse(bad)


def test_weekly_snapshot_is_idempotent_and_compared_with_what_happened(org, deal, period, frozen_clock):
    opp = deal(org.rep1, "1000", category="commit")
    deal(org.rep2, "300", category="best_case")
    assert fc.snapshot_take() == 4  # two reps × quarter and month
    assert fc.snapshot_take() == 0  # the same week again: nothing new
    snap = ForecastSnapshot.objects.get(rep=org.rep1, period_kind="quarter")
    assert snap.commit == Decimal("1000.00") and snap.week == fc.week_of(timezone.localdate())
    # the deal is won for 1 200 later on: the snapshot's commit stands beside the amount won
    won_stage = opp.pipeline.stages.get(kind="won")
    Opportunity.objects.filter(pk=opp.pk).update(status="won", stage=won_stage, amount=Decimal("1200"),
                                                 closed_at=timezone.now())  # fmt: skip
    cmp = fc.snapshot_comparison(user=org.manager, period=period)
    assert len(cmp["weeks"]) == 1
    week = cmp["weeks"][0]
    assert week["commit"] == Decimal("1000.00") and cmp["actual"] == Decimal("1200.00")
    assert week["accuracy"] == Decimal("120.0")
    mine = fc.snapshot_comparison(user=org.rep2, period=period)  # the rep's own snapshots only
    assert mine["weeks"][0]["commit"] == Decimal("0.00") and mine["weeks"][0]["best_case"] == Decimal(
        "300.00"
    )


def test_hidden_amount_hides_the_figures(org, deal, period):
    from tests.sales.conftest import demo_role

    deal(org.rep1, "1000", category="commit")
    FieldGrant.objects.create(role=demo_role("sales_rep"), model="sales.opportunity", field="amount",
                              access="hidden")  # fmt: skip
    from kehu.core.access import Access

    Access.forget(org.rep1)
    f = fc.forecast_for(user=org.rep1, period=period)
    assert f.amount_hidden
    from kehu.core.access import Access

    assert {"pipeline", "commit", "won"} <= Access.of(org.rep1).hidden_fields("salesmgmt.forecastsnapshot")
    assert "amount" in Access.of(org.rep1).hidden_fields("salesmgmt.forecastadjustment")


def _figures(f: fc.Forecast):
    return (
        [(r.rep.pk, r.totals, r.target, r.manager_forecast, r.attainment) for r in f.rows],
        f.total, f.target, f.final, f.forecast, f.prorated, f.closed, f.can_adjust,
    )  # fmt: skip


def test_month_and_quarter_in_one_pass_equal_two_forecasts(org, deal, stages, django_assert_num_queries):
    """The dashboard's `forecasts_for` (one aggregate for both periods) gives what two `forecast_for` give: a
    deal of the quarter outside the month counts for the quarter only, a rep whose only deal is outside the
    month is no month row, targets (month plan exact, quarter prorated from the year) and adjustments per period."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from kehu.salesmgmt.models import PlanTarget

    today = timezone.localdate()
    quarter, month = fc.Period.current("quarter", today), fc.Period.current("month", today)
    q_start, q_end = quarter.bounds
    m_start, m_end = month.bounds
    outside_month = q_start if m_start != q_start else q_end - dt.timedelta(days=1)
    p = _probabilities(stages)
    deal(org.rep1, "1000", p[0], "commit", close=m_start)
    deal(org.rep1, "2000", p[1], "best_case", close=outside_month)
    deal(org.rep1, "700", status="won", closed_at=timezone.now())
    deal(org.rep2, "4000", p[-1], "commit", close=outside_month)  # the quarter only
    deal(org.rep2, "9999", p[0], close=q_end + dt.timedelta(days=3))  # neither
    year = plans.plan_create(data={"name": "year", "year": quarter.year}, by=org.manager)
    PlanTarget.objects.create(plan=year, level="rep", rep=org.rep1, amount=Decimal("400000"), key=f"rep:{org.rep1.pk}|*")  # fmt: skip
    month_plan = plans.plan_create(
        data={"name": "month", "year": month.year, "period_kind": "month", "period_number": month.number},
        by=org.manager,
    )
    PlanTarget.objects.create(plan=month_plan, level="rep", rep=org.rep1, amount=Decimal("50000"), key=f"rep:{org.rep1.pk}|*")  # fmt: skip
    fc.adjustment_set(rep=org.rep1, period=month, amount="1500", by=org.manager)
    fc.adjustment_set(rep=org.rep2, period=quarter, amount="6000", by=org.manager)
    for user, rep_ids in ((org.manager, None), (org.rep1, {org.rep1.pk}), (org.manager, {org.rep2.pk})):
        with CaptureQueriesContext(connection) as one:
            both = fc.forecasts_for(user=user, periods=[quarter, month], rep_ids=rep_ids)
        with CaptureQueriesContext(connection) as two:
            apart = [fc.forecast_for(user=user, period=quarter, rep_ids=rep_ids),
                     fc.forecast_for(user=user, period=month, rep_ids=rep_ids)]  # fmt: skip
        assert [_figures(f) for f in both] == [_figures(f) for f in apart]
        assert len(one.captured_queries) < len(two.captured_queries)
    mgr_quarter, mgr_month = fc.forecasts_for(user=org.manager, periods=[quarter, month])
    assert {r.rep for r in mgr_quarter.rows} == {org.rep1, org.rep2}
    assert [r.rep for r in mgr_month.rows] == [org.rep1]  # rep2 has no deal, target or adjustment this month
    month_row = mgr_month.rows[0]
    assert month_row.totals.commit == Decimal("1000.00") and month_row.totals.best_case == Decimal("1000.00")
    assert month_row.target == Decimal("50000.00") and month_row.manager_forecast == Decimal("1500.00")
    assert not mgr_month.prorated and mgr_quarter.prorated
    rep1_quarter = next(r for r in mgr_quarter.rows if r.rep == org.rep1)
    assert rep1_quarter.totals.best_case == Decimal("3000.00") and rep1_quarter.target == Decimal("100000.00")
    assert rep1_quarter.totals.won == Decimal("700.00") and month_row.totals.won == Decimal("700.00")
