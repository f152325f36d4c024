"""Value segments by CLV, relationship strategies, the practice loop and churn risk (issue #11 items 3 and 4)."""

from __future__ import annotations

import datetime as dt
import json
import math
import random

import numpy as np
import pytest
from django.utils import timezone

from kehu.analytics import churn, selectors_value, value
from kehu.analytics.models import (
    CustomerScore,
    CustomerValue,
    RelationshipStrategy,
    ValueCycle,
    ValueSettings,
    ValueSnapshot,
)
from kehu.analytics.services import scoring_run
from kehu.core.access import Access
from kehu.core.models import FieldGrant, ModelGrant, Scope
from kehu.service.models import SlaPolicy, SlaTarget, Ticket

from .conftest import buy

pytestmark = pytest.mark.django_db


def days_ago(n: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=n)


# ---- pure functions ----------------------------------------------------------------------------------------


def test_segments_take_the_top_share_by_clv_then_the_next_and_margin_below_zero_apart():
    clv = np.array([100.0, 90, 80, 70, 60, 50, 40, 30, 20, 10, 500])
    margin = np.array([1.0] * 10 + [-5.0])  # the highest CLV has a negative margin
    ids = np.arange(1, 12)
    segment, rank = value.segment_by_clv(clv, margin, ids, top_share=0.2, core_share=0.3)
    assert segment.tolist() == ["top"] * 2 + ["core"] * 3 + ["standard"] * 5 + ["below_zero"]
    assert rank.tolist() == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1]


def test_segments_of_one_customer_and_of_none_and_of_non_finite_values():
    segment, _rank = value.segment_by_clv(
        np.array([5.0]), np.array([0.0]), np.array([7]), top_share=0.2, core_share=0.3
    )
    assert segment.tolist() == ["top"]  # a share rounds up: the top 20 % of one customer is that customer
    assert (
        value.segment_by_clv(np.zeros(0), np.zeros(0), np.zeros(0), top_share=0.2, core_share=0.3)[0].size
        == 0
    )
    segment, _rank = value.segment_by_clv(
        np.array([np.nan, np.inf, 1.0]),
        np.array([0.0, 0.0, np.nan]),
        np.array([1, 2, 3]),
        top_share=0.34,
        core_share=0.3,
    )
    assert set(segment.tolist()) <= {"top", "core", "standard"}


def test_pareto_curve_reads_the_80_20_share_and_stays_finite():
    curve = value.pareto_curve([80, 5, 5, 5, 5] + [0] * 5)
    assert curve["top20"] == 85.0  # the top 2 of 10 customers hold 85 %
    assert curve["y"][0] == 0.0 and curve["y"][-1] == 100.0
    empty = value.pareto_curve([])
    assert empty["top20"] == 0.0 and all(math.isfinite(v) for v in empty["y"])
    negative = value.pareto_curve([-10, float("nan"), float("inf")])
    assert all(math.isfinite(v) for v in negative["y"])


# ---- a scoring run with history ----------------------------------------------------------------------------


@pytest.fixture
def history(org, make_customer):
    """60 customers over two years: half keep buying, half stopped more than 90 days ago (some complained)."""
    rng = random.Random(7)
    customers = {"stayed": [], "churned": []}
    for i in range(60):
        owner = org.rep1 if i % 4 in (0, 1) else org.rep3
        c = make_customer(f"客户{i:02d}有限公司", owner=owner)
        churned = i % 2 == 1
        last = rng.randint(120, 400) if churned else rng.randint(1, 40)
        gap = rng.randint(20, 60)
        n = rng.randint(2, 8)
        for k in range(n):
            buy(c, days_ago(last + k * gap), rng.randint(200, 5000) * (3 if i < 6 else 1))
        # the later churners were buying and complaining at the cut as well
        if churned and i % 4 == 1:
            Ticket.objects.create(
                subject="投诉",
                customer=c,
                kind="complaint",
                created_at=timezone.now() - dt.timedelta(days=100),
            )
        customers["churned" if churned else "stayed"].append(c)
    return customers


def test_a_scoring_run_segments_by_clv_and_trains_a_churn_model(history):
    run = scoring_run()
    assert CustomerValue.objects.count() == CustomerScore.objects.count() == 60
    counts = {
        s: CustomerValue.objects.filter(segment=s).count() for s in ("top", "core", "standard", "below_zero")
    }
    assert counts == {"top": 12, "core": 18, "standard": 30, "below_zero": 0}
    # the most valuable have the highest CLV
    top_min = min(
        CustomerScore.objects.filter(customer__analytics_value__segment="top").values_list("clv", flat=True)
    )
    core_max = max(
        CustomerScore.objects.filter(customer__analytics_value__segment="core").values_list("clv", flat=True)
    )
    assert top_min >= core_max
    cycle = ValueCycle.objects.get(run=run)
    assert cycle.cycle_start and cycle.churn["model"] == "logistic"
    assert cycle.churn["train"] >= 40 and cycle.churn["churned"] >= 8 and cycle.churn["stayed"] >= 8
    assert ValueSnapshot.objects.filter(cycle=cycle).count() == 60
    risks = dict(CustomerValue.objects.values_list("customer_id", "churn_risk"))
    assert all(0.0 <= r <= 1.0 and math.isfinite(r) for r in risks.values())
    churned = np.mean([risks[c.pk] for c in history["churned"]])
    stayed = np.mean([risks[c.pk] for c in history["stayed"]])
    assert churned > stayed + 0.3
    v = CustomerValue.objects.get(customer=history["churned"][0])
    assert v.churn_model == "logistic" and v.churn_reasons and v.churn_reasons[0][0] in churn.REASONS
    assert cycle.pareto["revenue"]["top20"] > 20.0


def test_tiny_data_falls_back_to_p_alive_with_a_clear_message(org, make_customer):
    for i in range(3):
        c = make_customer(f"小客户{i}", owner=org.rep1)
        buy(c, days_ago(10 + i), 100)
        buy(c, days_ago(200 + i), 100)
    run = scoring_run()
    cycle = ValueCycle.objects.get(run=run)
    assert cycle.churn["model"] == "p_alive"
    assert any("Churn model not trained" in m for m in run.messages)
    assert any("No service tickets yet" in m for m in cycle.messages)
    for v in CustomerValue.objects.all():
        score = CustomerScore.objects.get(customer_id=v.customer_id)
        assert v.churn_model == "p_alive"
        assert v.churn_risk == pytest.approx(1 - score.p_alive, abs=1e-5)


def test_one_class_only_falls_back(org, make_customer):
    for i in range(45):  # everyone bought before the cut and after it: nobody churned
        c = make_customer(f"忠诚客户{i}", owner=org.rep1)
        buy(c, days_ago(200 + i), 100 + i)
        buy(c, days_ago(5 + i % 30), 100)
    run = scoring_run()
    assert ValueCycle.objects.get(run=run).churn["model"] == "p_alive"
    assert any("each class needs" in m for m in run.messages)


def test_refunds_larger_than_purchases_make_a_below_zero_customer(org, make_customer):
    good = make_customer("好客户", owner=org.rep1)
    buy(good, days_ago(30), 1000)
    bad = make_customer("退货客户", owner=org.rep1)
    order = buy(bad, days_ago(60), 100)
    buy(bad, days_ago(50), 300, returns=order)
    scoring_run()
    assert CustomerValue.objects.get(customer=bad).segment == "below_zero"
    assert CustomerValue.objects.get(customer=good).segment == "top"


def test_cost_to_serve_moves_a_customer_below_zero(org, make_customer):
    ValueSettings.objects.create(pk=1, cost_per_ticket=500, margin_rate=0.5)
    c = make_customer("工单多的客户", owner=org.rep1)
    buy(c, days_ago(20), 1000)
    for _ in range(2):
        Ticket.objects.create(subject="报修", customer=c, kind="repair")
    scoring_run()
    v = CustomerValue.objects.get(customer=c)
    assert v.segment == "below_zero" and float(v.margin) == -500.0


# ---- strategies read by other apps -------------------------------------------------------------------------


def test_strategy_selectors_and_the_sla_policy_of_the_value_segment(org, make_customer):
    top = make_customer("顶级客户", owner=org.rep1)
    buy(top, days_ago(5), 90000)
    buy(top, days_ago(50), 90000)
    low = make_customer("负值客户", owner=org.rep1)
    o = buy(low, days_ago(70), 100)
    buy(low, days_ago(60), 200, returns=o)
    fresh = make_customer("新客户", owner=org.rep1)
    scoring_run()
    gold = SlaPolicy.objects.create(name="Gold", position=500)
    SlaTarget.objects.create(
        policy=gold, priority="normal", first_response_minutes=15, resolution_minutes=120
    )
    standard = SlaPolicy.objects.create(name="Standard", position=1)
    SlaTarget.objects.create(
        policy=standard, priority="normal", first_response_minutes=60, resolution_minutes=480
    )
    RelationshipStrategy.objects.create(
        segment="top", sla_policy=gold, contact_every_days=7, visit_every_days=30
    )
    RelationshipStrategy.objects.create(segment="below_zero", campaign_eligible=False)

    from kehu.customers.models import Customer
    from kehu.service.services.sla import policy_for

    top, low, fresh = (Customer.objects.get(pk=c.pk) for c in (top, low, fresh))
    assert selectors_value.strategy_for(top).sla_policy == gold
    assert selectors_value.coverage_for(top) == {"contact_every_days": 7, "visit_every_days": 30}
    assert selectors_value.strategy_for(fresh) is None
    assert selectors_value.campaign_eligible(top) and selectors_value.campaign_eligible(fresh)
    assert not selectors_value.campaign_eligible(low)
    eligible = selectors_value.campaign_eligible_filter(
        Customer.objects.filter(pk__in=[top.pk, low.pk, fresh.pk])
    )
    assert set(eligible.values_list("pk", flat=True)) == {top.pk, fresh.pk}
    # a ticket without a contract: the value strategy's policy before the matching rules
    assert policy_for(Ticket(subject="x", customer=top, priority="normal"))[0] == gold
    assert policy_for(Ticket(subject="x", customer=low, priority="normal"))[0] == standard
    # no target for the priority: the usual rules apply
    assert policy_for(Ticket(subject="x", customer=top, priority="urgent"))[0] is None


# ---- pages and API within scope ----------------------------------------------------------------------------


def test_value_page_shows_segments_strategies_and_the_pareto_chart_data(history, org, client_for):
    scoring_run()
    html = client_for(org.rep1).get("/analytics/value/").content.decode()
    assert 'data-testid="value-segments"' in html and 'id="pareto-data"' in html
    assert "<script>" not in html.replace('<script id="pareto-data" type="application/json">', "")
    data = json.loads(
        html.split('<script id="pareto-data" type="application/json">')[1].split("</script>")[0]
    )
    assert len(data["series"]) == 2 and data["series"][0]["data"][-1] == 100.0
    # a rep sees only their own customers' segments (30 of 60)
    rows = {r["segment"]: r["customers"] for r in selectors_value.value_segment_summary(user=org.rep1)}
    assert sum(rows.values()) == 30
    assert 'data-testid="edit-strategy-top"' not in html  # strategies are edited by administrators


def test_an_administrator_edits_a_strategy_and_stale_edits_are_refused(history, org, client_for, make_user):
    from kehu.core.models import AuditEntry

    admin = make_user(is_superuser=True, username="root")
    client = client_for(admin)
    assert client.get("/analytics/value/strategy/top/").status_code == 200
    response = client.post(
        "/analytics/value/strategy/top/",
        {
            "description": "专属客户经理",
            "contact_every_days": "14",
            "visit_every_days": "30",
            "campaign_eligible": "on",
        },
    )
    assert response.status_code == 302
    strategy = RelationshipStrategy.objects.get(segment="top")
    assert strategy.contact_every_days == 14 and strategy.version == 1
    assert AuditEntry.objects.filter(
        model="analytics.relationshipstrategy", object_id=str(strategy.pk)
    ).exists()
    client.post(
        "/analytics/value/strategy/top/", {"description": "v2", "contact_every_days": "10", "version": "1"}
    )
    stale = client.post("/analytics/value/strategy/top/", {"description": "v3", "version": "1"})
    assert stale.status_code == 200 and "Somebody else changed" in stale.content.decode()
    assert RelationshipStrategy.objects.get(segment="top").description == "v2"
    assert client_for(org.rep1).get("/analytics/value/strategy/top/").status_code == 403
    bad = client_for(admin).post(
        "/analytics/value/settings/",
        {
            "top_share": "0.8",
            "core_share": "0.5",
            "margin_rate": "1",
            "cost_per_ticket": "0",
            "churn_period_days": "90",
            "at_risk_threshold": "0.5",
        },
    )
    assert bad.status_code == 200 and "below 1" in bad.content.decode()


def test_at_risk_list_is_scoped_and_feeds_a_care_plan(history, org, client_for):
    from kehu.interactions.models import Task
    from kehu.service.models import CareAction, CarePlan

    scoring_run()
    mine = list(selectors_value.at_risk_customers(org.rep1))
    assert mine and all(c.owner_id == org.rep1.pk for c in mine)
    assert [c.analytics_value.churn_risk for c in mine] == sorted(
        (c.analytics_value.churn_risk for c in mine), reverse=True
    )
    everyone = selectors_value.at_risk_customers(org.exec)
    assert everyone.count() > len(mine)
    client = client_for(org.rep1)
    html = client.get("/analytics/churn/").content.decode()
    assert mine[0].name in html
    assert not any(c.name in html for c in everyone if c.owner_id != org.rep1.pk)
    plan = CarePlan.objects.create(
        name="挽回关怀", trigger="no_contact", no_contact_days=30, task_title="回访流失风险客户"
    )
    response = client.post("/analytics/churn/care/", {"plan": plan.pk, "customers": [mine[0].pk, mine[1].pk]})
    assert response.status_code == 302
    assert CareAction.objects.filter(plan=plan).count() == 2
    task = Task.objects.get(customer=mine[0])
    assert task.owner == org.rep1 and task.title == "回访流失风险客户"
    client.post("/analytics/churn/care/", {"plan": plan.pk, "customers": [mine[0].pk]})
    assert CareAction.objects.filter(plan=plan).count() == 2  # once per plan, customer and day
    # somebody else's customer cannot be slipped in
    theirs = next(c for c in everyone if c.owner_id != org.rep1.pk)
    client.post("/analytics/churn/care/", {"plan": plan.pk, "customers": [theirs.pk]})
    assert not CareAction.objects.filter(customer=theirs).exists()


def test_360_panel_shows_segment_strategy_churn_risk_and_reasons(history, org, client_for):
    scoring_run()
    customer = history["churned"][0]
    html = client_for(org.rep1).get(customer.get_absolute_url()).content.decode()
    assert 'data-testid="value-strategy-panel"' in html and 'data-testid="churn-risk"' in html
    assert 'data-testid="churn-reasons"' in html
    assert "nan" not in html.split('data-testid="value-strategy-panel"')[1].split("</section>")[0].lower()


def test_loop_page_shows_results_and_movements_after_a_period(
    history, org, client_for, make_user, frozen_clock
):
    first = scoring_run(as_of=days_ago(120))
    second = scoring_run()
    start = ValueCycle.objects.get(run=first)
    end = ValueCycle.objects.get(run=second)
    assert start.cycle_start and end.cycle_start
    result = selectors_value.loop_result(start=start, end=end, currency="CNY")
    rows = {r["segment"]: r for r in result["rows"]}
    assert sum(r["customers"] for r in rows.values()) == ValueSnapshot.objects.filter(cycle=start).count()
    assert sum(sum(r["moves"].values()) for r in rows.values()) == start.snapshot.count()
    assert all(0.0 <= r["retention"] <= 1.0 for r in rows.values())
    assert sum(r["revenue"] for r in rows.values()) > 0
    admin = make_user(is_superuser=True, username="root")
    html = client_for(admin).get(f"/analytics/value/loop/?start={start.pk}&end={end.pk}").content.decode()
    assert 'data-testid="loop-table"' in html and 'data-testid="loop-moves"' in html
    assert client_for(org.rep1).get("/analytics/value/loop/").status_code == 403


def test_snapshots_are_kept_for_cycle_starts_and_the_latest_run_only(history):
    a = scoring_run(as_of=days_ago(30))
    b = scoring_run(as_of=days_ago(20))
    c = scoring_run(as_of=days_ago(10))
    assert ValueCycle.objects.get(run=a).cycle_start
    assert not ValueCycle.objects.get(run=b).cycle_start
    assert (
        ValueSnapshot.objects.filter(cycle__run=a).exists()
        and ValueSnapshot.objects.filter(cycle__run=c).exists()
    )
    assert not ValueSnapshot.objects.filter(cycle__run=b).exists()


def test_api_lists_values_scoped_with_reasons_and_hides_restricted_fields(history, org, api_for):
    scoring_run()
    data = api_for(org.rep1).get("/api/analytics/values/?page_size=100").json()
    ids = {row["customer"] for row in data["results"]}
    assert ids and all(c.pk in ids for c in history["stayed"] if c.owner_id == org.rep1.pk)
    assert not any(c.pk in ids for c in history["stayed"] if c.owner_id == org.rep3.pk)
    row = data["results"][0]
    assert {"segment", "churn_risk", "churn_reasons", "segment_label"} <= set(row)
    at_risk = api_for(org.rep1).get("/api/analytics/values/?at_risk=true").json()["results"]
    assert at_risk and all(r["churn_risk"] >= 0.5 for r in at_risk)
    segs = api_for(org.rep1).get("/api/analytics/value-segments/").json()
    assert [s["segment"] for s in segs] == ["top", "core", "standard", "below_zero"]
    assert sum(s["customers"] for s in segs) == len(ids)
    strategies = api_for(org.rep1).get("/api/analytics/strategies/").json()
    assert [s["segment"] for s in strategies] == ["top", "core", "standard", "below_zero"]
    # a role that may not see churn risk: the field, its reasons and the filter are gone
    role = org.rep1.roles.get()
    ModelGrant.objects.create(role=role, model="analytics.customervalue", can_view=True, read_scope=Scope.OWN)
    FieldGrant.objects.create(role=role, model="analytics.customervalue", field="churn_risk", access="hidden")
    Access.forget(org.rep1)
    fresh = type(org.rep1).objects.get(pk=org.rep1.pk)
    rows = api_for(fresh).get("/api/analytics/values/").json()["results"]
    assert rows and "churn_risk" not in rows[0] and "churn_reasons" not in rows[0]
    # filters and sorts by the hidden field are ignored, as on every list (kehu.core.filters): same rows
    everyone = [r["customer"] for r in rows]
    for query in ("at_risk=true", "at_risk=false", "min_churn_risk=0.99", "ordering=-churn_risk"):
        answer = api_for(fresh).get(f"/api/analytics/values/?{query}")
        assert answer.status_code == 200
        assert [r["customer"] for r in answer.json()["results"]] == everyone, query
    assert list(selectors_value.at_risk_customers(fresh)) == []


def test_a_failing_value_step_keeps_the_scores_and_says_so(org, make_customer, monkeypatch):
    c = make_customer("客户甲", owner=org.rep1)
    buy(c, days_ago(10), 100)

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(value, "value_prepare", broken)
    run = scoring_run()
    assert run.status == "done" and CustomerScore.objects.filter(customer=c).exists()
    assert any("Value segments and churn risk were not updated: boom" in m for m in run.messages)
    assert not CustomerValue.objects.exists()


def test_degenerate_histories_give_finite_values_in_the_api(org, make_customer, api_for):
    zero = make_customer("零消费客户", owner=org.rep1)
    buy(zero, days_ago(5), 0.01)
    same_day = make_customer("同日多单客户", owner=org.rep1)
    buy(same_day, days_ago(1), 50)
    buy(same_day, days_ago(1), 70)
    refunded = make_customer("全额退款客户", owner=org.rep1)
    o = buy(refunded, days_ago(3), 100)
    buy(refunded, days_ago(2), 100, returns=o)
    scoring_run()
    rows = api_for(org.rep1).get("/api/analytics/values/").json()["results"]
    assert rows
    for row in rows:
        assert math.isfinite(row["churn_risk"]) and 0 <= row["churn_risk"] <= 1
        assert math.isfinite(float(row["margin"]))
        assert all(math.isfinite(r["weight"]) for r in row["churn_reasons"])
    segs = api_for(org.rep1).get("/api/analytics/value-segments/").json()
    assert all(math.isfinite(s["churn_risk"]) for s in segs)


def test_summaries_leave_out_figures_of_hidden_fields_through_one_helper(history, org, api_for, client_for):
    """kehu.analytics.visibility: the RFM and value segment summaries (API and page) drop what is computed
    from a hidden score field, are empty when the segment is hidden; the CLV rank hides with the CLV."""
    scoring_run()
    role = org.rep1.roles.get()
    ModelGrant.objects.create(role=role, model="analytics.customerscore", can_view=True, read_scope=Scope.OWN)
    ModelGrant.objects.create(role=role, model="analytics.customervalue", can_view=True, read_scope=Scope.OWN)
    FieldGrant.objects.create(role=role, model="analytics.customerscore", field="clv", access="hidden")
    FieldGrant.objects.create(role=role, model="analytics.customerscore", field="monetary", access="hidden")
    Access.forget(org.rep1)
    rep = type(org.rep1).objects.get(pk=org.rep1.pk)
    api = api_for(rep)
    rfm_rows = api.get("/api/analytics/segments/").json()
    value_rows = api.get("/api/analytics/value-segments/").json()
    assert rfm_rows and value_rows
    for row in (*rfm_rows, *value_rows):
        assert not {"clv", "clv_share", "revenue", "revenue_share"} & set(row)
        assert row["customers"] >= 0 and isinstance(row["label"], str)
    assert sum(r["customers"] for r in value_rows) > 0
    assert "p_alive" in rfm_rows[0] and "churn_risk" in value_rows[0]
    values = api.get("/api/analytics/values/?ordering=clv_rank").json()["results"]
    assert values and all("clv_rank" not in r and "margin" not in r for r in values)
    assert [r["customer"] for r in values] == sorted(r["customer"] for r in values)  # not by CLV rank
    page = client_for(rep).get("/analytics/value/").content.decode()
    assert "CLV rank" not in page
    # the segment hidden: no summary at all
    FieldGrant.objects.create(role=role, model="analytics.customervalue", field="segment", access="hidden")
    FieldGrant.objects.create(role=role, model="analytics.customerscore", field="segment", access="hidden")
    Access.forget(rep)
    rep = type(rep).objects.get(pk=rep.pk)
    assert api_for(rep).get("/api/analytics/segments/").json() == []
    assert api_for(rep).get("/api/analytics/value-segments/").json() == []
