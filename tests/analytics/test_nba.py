"""Next Best Activity end to end: the run, the worklist within scope (consent, contact rule), taken/ignored through
the record service, tracked outcomes recalibrating E, the report, the 360° panel, the initiatives and the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kehu.analytics.models_nba import (
    NbaAction,
    NbaCalibration,
    NbaDecision,
    NbaRecommendation,
    Outcome,
)
from kehu.analytics.models_scorecard import Initiative, InitiativeCashFlow
from kehu.analytics.selectors_nba import worklist
from kehu.analytics.services import scoring_run
from kehu.analytics.services_nba import nba_decide, nba_run
from kehu.core.models import AuditEntry
from kehu.customers import services as customer_services
from kehu.interactions.models import Interaction

from .conftest import buy

pytestmark = pytest.mark.django_db


def days_ago(n: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=n)


def grant_phone(customer, by):
    customer_services.consent_record(
        customer=customer, channel="phone", status="granted", method="verbal", by=by
    )


@pytest.fixture
def book(org, make_customer):
    """rep1: a frequent buyer with phone consent, a lapsed one without consent; rep3: one buyer with consent.
    Scored, then ranked."""
    best = make_customer("北京优选贸易有限公司", owner=org.rep1)
    for n in (5, 20, 40, 60, 80, 100, 130, 160):
        buy(best, days_ago(n), 5000)
    lapsed = make_customer("广州旧客户有限公司", owner=org.rep1)
    buy(lapsed, days_ago(700), 800)
    buy(lapsed, days_ago(600), 900)
    theirs = make_customer("杭州东方电子有限公司", owner=org.rep3)
    buy(theirs, days_ago(3), 8000)
    buy(theirs, days_ago(30), 8000)
    grant_phone(best, org.rep1)
    grant_phone(theirs, org.rep3)
    scoring_run()
    run = nba_run()
    return {"best": best, "lapsed": lapsed, "theirs": theirs, "run": run}


def test_the_run_ranks_every_customer_with_the_default_catalogue_and_respects_consent(book):
    assert NbaAction.objects.count() == 7  # the migration's starting catalogue
    recs = NbaRecommendation.objects.filter(customer=book["best"]).order_by("rank")
    assert [r.rank for r in recs] == list(range(1, len(recs) + 1))
    assert list(recs.values_list("benefit_index", flat=True)) == sorted(
        recs.values_list("benefit_index", flat=True), reverse=True
    )
    # the lapsed customer gave no phone consent: no call-based action that needs it
    lapsed = NbaRecommendation.objects.filter(customer=book["lapsed"]).select_related("action")
    assert all(r.action.consent_channel != "phone" for r in lapsed)
    assert book["run"].recommendations == NbaRecommendation.objects.count()
    assert AuditEntry.objects.filter(model="analytics.nbarun", object_id=str(book["run"].pk)).exists()


def test_a_run_without_scores_says_so_and_uses_the_value_without_a_score(org, make_customer):
    customer = make_customer("无订单客户", owner=org.rep1)
    grant_phone(customer, org.rep1)
    run = nba_run()
    assert any("No customer scores yet" in m for m in run.messages)
    care = NbaRecommendation.objects.get(customer=customer, action__code="care_call")
    # E = prior rate 0.08 × value without a score 300 = 24; C = 2 + 30
    assert care.expected_effect == Decimal("24.00") and care.expected_cost == Decimal("32.00")
    assert care.benefit_index == pytest.approx((24 - 32) / 32)


def test_zero_cost_actions_rank_by_effect_without_dividing_by_zero(book):
    NbaAction.objects.filter(code="care_call").update(channel_cost=0, staff_cost=0)
    nba_run()
    care = NbaRecommendation.objects.get(customer=book["best"], action__code="care_call")
    assert care.expected_cost == 0
    assert care.benefit_index == pytest.approx(float(care.expected_effect) / 1.0)  # min cost 1


def test_worklist_is_the_reps_own_customers_best_first(book, org):
    rows = list(worklist(user=org.rep1))
    assert {r.customer_id for r in rows} <= {book["best"].pk, book["lapsed"].pk}
    assert book["best"].pk in {r.customer_id for r in rows}
    assert all(r.rank == 1 and r.benefit_index > 0 for r in rows)
    assert [r.benefit_index for r in rows] == sorted((r.benefit_index for r in rows), reverse=True)
    # rep3 asking for rep1's list sees only what rep3 may see: nothing
    assert list(worklist(user=org.rep3, rep=org.rep1)) == []
    # the north manager (department scope) sees rep1's worklist
    assert {r.customer_id for r in worklist(user=org.manager, rep=org.rep1)} == {r.customer_id for r in rows}


def test_consent_withdrawn_after_the_run_and_the_contact_rule_take_effect_at_once(book, org):
    best = book["best"]
    top = NbaRecommendation.objects.get(customer=best, rank=1)
    assert best.pk in {r.customer_id for r in worklist(user=org.rep1)}
    for i in range(3):  # three outbound calls this week: the contact rule (3 in 7 days) leaves them off
        Interaction.objects.create(
            customer=best, account=best, channel="call", direction="out", subject=f"call {i}", user=org.rep1,
            occurred_at=timezone.now() - dt.timedelta(days=i),
        )  # fmt: skip
    assert best.pk not in {r.customer_id for r in worklist(user=org.rep1)}
    Interaction.objects.filter(customer=best).delete()
    if top.action.consent_channel == "phone":
        customer_services.consent_record(
            customer=best, channel="phone", status="withdrawn", method="verbal", by=org.rep1
        )
        assert best.pk not in {r.customer_id for r in worklist(user=org.rep1)}


def test_worklist_page_costs_a_constant_number_of_queries(book, org, client_for, make_customer):
    client = client_for(org.rep1)
    with CaptureQueriesContext(connection) as few:
        response = client.get("/analytics/nba/")
    assert response.status_code == 200 and 'data-testid="nba-worklist"' in response.content.decode()
    for i in range(5):
        c = make_customer(f"新客户{i}", owner=org.rep1)
        grant_phone(c, org.rep1)
    nba_run()
    with CaptureQueriesContext(connection) as more:
        client.get("/analytics/nba/")
    assert len(more.captured_queries) == len(few.captured_queries)


def test_taken_through_the_page_is_audited_attributed_and_moves_the_next_action_up(book, org, client_for):
    best = book["best"]
    before = list(NbaRecommendation.objects.filter(customer=best).order_by("rank"))
    first = before[0]
    response = client_for(org.rep1).post(
        "/analytics/nba/decide/",
        {"customer": best.pk, "action": first.action_id, "decision": "taken", "next": "/analytics/nba/"},
    )
    assert response.status_code == 302 and response["Location"] == "/analytics/nba/"
    decision = NbaDecision.objects.get(customer=best, action_id=first.action_id)
    assert decision.decided_by == org.rep1 and decision.outcome == Outcome.PENDING
    assert decision.expected_effect == first.expected_effect and decision.benefit_index == first.benefit_index
    assert AuditEntry.objects.filter(
        model="analytics.nbadecision", object_id=str(decision.pk), actor=org.rep1
    ).exists()
    first.refresh_from_db()
    assert first.state == "taken"
    if len(before) > 1:
        assert NbaRecommendation.objects.get(pk=before[1].pk).rank == 1
    # the next run does not recommend the pair again while it is tracked
    nba_run()
    assert not NbaRecommendation.objects.filter(customer=best, action_id=first.action_id).exists()


def test_deciding_on_a_customer_out_of_scope_is_404_and_writes_nothing(book, org, client_for):
    action = NbaAction.objects.get(code="care_call")
    response = client_for(org.rep1).post(
        "/analytics/nba/decide/", {"customer": book["theirs"].pk, "action": action.pk, "decision": "taken"}
    )
    assert response.status_code == 404
    assert not NbaDecision.objects.exists()


def test_outcomes_are_tracked_and_recalibrate_the_response_rate(book, org, frozen_clock):
    best, lapsed = book["best"], book["lapsed"]
    action = NbaAction.objects.get(code="coupon")
    won = nba_decide(customer=best, action=action, decision="taken", by=org.rep1)
    lost = nba_decide(customer=lapsed, action=action, decision="taken", by=org.rep1)
    nba_decide(
        customer=best, action=NbaAction.objects.get(code="care_message"), decision="ignored", by=org.rep1
    )
    buy(best, timezone.localdate() + dt.timedelta(days=3), 1200)  # an order inside the 14-day window
    frozen_clock.shift(dt.timedelta(days=15))
    nba_run()
    won.refresh_from_db()
    lost.refresh_from_db()
    assert won.outcome == Outcome.SUCCESS and won.realised_effect == Decimal("1200.00")
    assert lost.outcome == Outcome.NO_RESPONSE and lost.realised_effect == 0
    calibrations = {c.segment: c for c in NbaCalibration.objects.filter(action=action)}
    total_taken = sum(c.taken for c in calibrations.values())
    assert total_taken == 2
    for c in calibrations.values():  # Beta posterior mean around the prior 0.05 with strength 20
        assert c.rate == pytest.approx((20 * 0.05 + c.successes) / (20 + c.taken))
    # the report shows realised vs expected
    report = {r["action"].code: r for r in __import__("kehu.analytics.selectors_nba", fromlist=["x"]).benefit_report(
        user=org.rep1)["rows"]}  # fmt: skip
    row = report["coupon"]
    assert (row["taken"], row["closed"], row["successes"]) == (2, 2, 1)
    assert row["realised"] == 1200.0 and row["realised_index"] is not None
    assert report["care_message"]["ignored"] == 1


def test_report_page_and_api_are_scoped(book, org, client_for, api_for):
    action = NbaAction.objects.get(code="coupon")
    nba_decide(customer=book["theirs"], action=action, decision="taken", by=org.rep3)
    mine = client_for(org.rep1).get("/analytics/nba/report/")
    assert mine.status_code == 200
    data = {r["action_code"]: r for r in api_for(org.rep1).get("/api/analytics/nba/report/").json()}
    assert data["coupon"]["taken"] == 0  # rep3's decision is on a customer rep1 cannot see
    data = {r["action_code"]: r for r in api_for(org.rep3).get("/api/analytics/nba/report/").json()}
    assert data["coupon"]["taken"] == 1


def test_360_panel_shows_ranked_actions_with_taken_and_ignore_buttons(book, org, client_for):
    html = client_for(org.rep1).get(book["best"].get_absolute_url()).content.decode()
    assert 'data-testid="nba-panel"' in html and 'data-testid="nba-taken"' in html
    top = NbaRecommendation.objects.select_related("action").get(customer=book["best"], rank=1)
    assert top.action.name in html


def test_api_recommendations_worklist_and_decisions(book, org, api_for):
    api = api_for(org.rep1)
    data = api.get(f"/api/analytics/nba/recommendations/?customer={book['best'].pk}").json()
    assert [r["rank"] for r in data["results"]] == sorted(r["rank"] for r in data["results"])
    assert (
        api.get(f"/api/analytics/nba/recommendations/?customer={book['theirs'].pk}").json()["results"] == []
    )
    rows = api.get("/api/analytics/nba/worklist/").json()
    assert rows and all(r["benefit_index"] > 0 for r in rows)
    assert api.get("/api/analytics/nba/worklist/?rep=abc").status_code == 400
    target = rows[0]
    response = api.post(
        "/api/analytics/nba/decisions/",
        {"customer": target["customer"], "action": target["action"], "decision": "ignored",
         "decided_by": org.rep3.pk},  # attribution comes from the request, not from input
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["decided_by"] == org.rep1.pk
    bad = api.post(
        "/api/analytics/nba/decisions/",
        {"customer": target["customer"], "action": target["action"], "decision": "maybe"},
        format="json",
    )
    assert bad.status_code == 400
    other = api.post(
        "/api/analytics/nba/decisions/",
        {"customer": book["theirs"].pk, "action": target["action"], "decision": "taken"},
        format="json",
    )
    assert other.status_code in (400, 404)
    assert not NbaDecision.objects.filter(customer=book["theirs"]).exists()


def test_catalogue_is_edited_by_administrators_through_the_record_service(org, admin_user, api_for):
    created = api_for(admin_user).post(
        "/api/analytics/nba/actions/",
        {"code": "vip_gift", "name": "生日礼物 Birthday gift", "kind": "care", "channel": "letter",
         "consent_channel": "post", "channel_cost": "5.00", "incentive_cost": "80.00", "value_basis": "clv",
         "value_share": 0.05, "prior_rate": 0.2, "segments": ["champions"], "window_days": 30},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.json()["cost"] == "85.00"
    assert AuditEntry.objects.filter(
        model="analytics.nbaaction", object_id=str(created.json()["id"])
    ).exists()
    invalid = api_for(admin_user).post(
        "/api/analytics/nba/actions/",
        {"code": "bad", "name": "x", "kind": "care", "channel": "pigeon", "value_basis": "clv",
         "channel_cost": "-1", "segments": ["nonsense"]},
        format="json",
    )  # fmt: skip
    assert invalid.status_code == 400
    assert set(invalid.json()) >= {"channel_cost"} or set(invalid.json()) >= {"channel", "segments"}
    assert api_for(org.rep1).post("/api/analytics/nba/actions/", {}, format="json").status_code == 403


def _initiative(name, benefit, cost, *, stage="segmentation", flows=None, rate="8"):
    initiative = Initiative.objects.create(
        name=name, stage=stage, start=timezone.localdate(), period_type="quarter", periods=4,
        discount_rate=Decimal(rate),
    )  # fmt: skip
    for index, (out, inflow) in enumerate(flows or [(cost, benefit)]):
        InitiativeCashFlow.objects.create(
            initiative=initiative, period_index=index, outflow=Decimal(out), inflow=Decimal(inflow)
        )
    return initiative


def test_initiatives_are_ranked_by_benefit_index_and_a_zero_cost_stays_finite(
    admin_user, client_for, api_for
):
    for name, e, c in (
        ("会员积分计划", "50000", "20000"),
        ("客户分群项目", "30000", "5000"),
        ("免费调研", "1000", "0"),
    ):
        _initiative(name, e, c)
    Initiative.objects.create(name="未定项目 No flows yet", start=timezone.localdate())
    data = api_for(admin_user).get("/api/analytics/nba/initiatives/").json()
    assert [r["name"] for r in data] == ["免费调研", "客户分群项目", "会员积分计划", "未定项目 No flows yet"]
    assert [r["benefit_index"] for r in data][:3] == [1000.0, 5.0, 1.5]  # one period: undiscounted
    assert data[3]["benefit_index"] is None
    html = client_for(admin_user).get("/analytics/nba/initiatives/").content.decode()
    assert (
        html.index("免费调研")
        < html.index("客户分群项目")
        < html.index("会员积分计划")
        < html.index("未定项目")
    )
    assert api_for(admin_user).get("/api/analytics/nba/initiatives/?stage=nonsense").status_code == 400
    assert api_for(admin_user).get("/api/analytics/nba/initiatives/?stage=strategy").json() == []


def test_an_initiatives_benefit_index_discounts_its_cash_flows(admin_user, api_for):
    """E and C are the present values of the benefits and costs at the initiative's rate: a benefit that comes
    a year later weighs less, so the same undiscounted sums rank lower."""
    early = _initiative("早收益 Early", 0, 0, flows=[(1000, 0), (0, 3000)], rate="21")
    late = _initiative("晚收益 Late", 0, 0, flows=[(1000, 0), (0, 0), (0, 0), (0, 0), (0, 3000)], rate="21")
    rows = {r["name"]: r for r in api_for(admin_user).get("/api/analytics/nba/initiatives/").json()}
    quarter = 1.21**0.25 - 1
    assert rows[early.name]["pv_benefit"] == pytest.approx(3000 / (1 + quarter), rel=1e-9)
    assert rows[late.name]["pv_benefit"] == pytest.approx(3000 / 1.21, rel=1e-9)
    assert rows[late.name]["benefit_index"] == pytest.approx((3000 / 1.21 - 1000) / 1000, rel=1e-9)
    assert rows[early.name]["benefit_index"] > rows[late.name]["benefit_index"]
    evaluation = api_for(admin_user).get(f"/api/analytics/initiatives/{late.pk}/evaluation/").json()
    assert evaluation["benefit_index"] == pytest.approx(rows[late.name]["benefit_index"], abs=1e-4)


def test_only_administrators_recompute_and_edit_the_catalogue_in_the_ui(
    org, admin_user, client_for, django_capture_on_commit_callbacks
):
    from kehu.analytics.models_nba import NbaRun

    rep = client_for(org.rep1)
    assert rep.post("/analytics/nba/run/").status_code == 403
    assert rep.get("/analytics/nba/actions/").status_code == 403
    admin = client_for(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.post("/analytics/nba/run/").status_code == 302
    assert NbaRun.objects.get().started_by == admin_user
    listing = admin.get("/analytics/nba/actions/").content.decode()
    assert "电话关怀 Care call" in listing
    action = NbaAction.objects.get(code="win_back")
    form = admin.get(f"/analytics/nba/actions/{action.pk}/")
    assert form.status_code == 200
    data = {
        "code": "win_back", "name": "流失挽回 Win-back", "kind": "win_back", "channel": "call",
        "consent_channel": "phone", "channel_cost": "2.00", "staff_cost": "45.00", "incentive_cost": "50.00",
        "value_basis": "at_risk", "value_share": "0.5", "default_value": "0", "prior_rate": "0.12",
        "prior_strength": "20", "segments": ["at_risk", "lost"], "stages": [], "max_p_alive": "0.6",
        "window_days": "60", "active": "on", "version": action.version,
    }  # fmt: skip
    response = admin.post(f"/analytics/nba/actions/{action.pk}/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    action.refresh_from_db()
    assert action.staff_cost == Decimal("45.00") and action.segments == ["at_risk", "lost"]
    assert action.version == 2
    entry = AuditEntry.objects.filter(model="analytics.nbaaction", object_id=str(action.pk)).latest("at")
    assert "staff_cost" in entry.changes
    stale = admin.post(f"/analytics/nba/actions/{action.pk}/", {**data, "staff_cost": "50.00", "version": 1})
    assert stale.status_code == 400  # optimistic locking: a stale save is refused


def test_initiative_created_in_the_ui_shows_its_benefit_index(admin_user, client_for):
    admin = client_for(admin_user)
    response = admin.post(
        "/analytics/scorecard/initiatives/new/",
        {"name": "客户满意度调查 Satisfaction survey", "stage": "evaluation", "status": "proposed",
         "start": timezone.localdate().isoformat(), "period_type": "quarter", "periods": "1",
         "discount_rate": "8", "source": "entered", "margin": "100", "responsible": admin_user.pk},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    initiative = Initiative.objects.get()
    assert (initiative.stage, initiative.status) == ("evaluation", "proposed")
    flow = admin.post(
        f"/analytics/scorecard/initiatives/{initiative.pk}/",
        {"period_index": 0, "outflow": "5000", "inflow": "20000"},
    )
    assert flow.status_code == 302
    html = admin.get("/analytics/nba/initiatives/").content.decode()
    assert "3.00" in html and "客户满意度调查" in html
    detail = admin.get(f"/analytics/scorecard/initiatives/{initiative.pk}/").content.decode()
    assert 'data-testid="benefit-index">3.00<' in detail


def test_malformed_decisions_are_refused_with_a_message(book, org, client_for):
    client = client_for(org.rep1)
    bad_action = client.post(
        "/analytics/nba/decide/",
        {"customer": book["best"].pk, "action": "x", "decision": "taken"},
        follow=True,
    )
    assert bad_action.status_code == 200 and "Unknown action." in bad_action.content.decode()
    assert (
        client.post(
            "/analytics/nba/decide/", {"customer": "x", "action": "1", "decision": "taken"}
        ).status_code
        == 404
    )
    action = NbaAction.objects.get(code="care_call")
    client.post(
        "/analytics/nba/decide/", {"customer": book["best"].pk, "action": action.pk, "decision": "taken"}
    )
    again = client.post(
        "/analytics/nba/decide/",
        {"customer": book["best"].pk, "action": action.pk, "decision": "taken"},
        follow=True,
    )
    assert "still being tracked" in again.content.decode()
    assert NbaDecision.objects.filter(customer=book["best"], action=action).count() == 1
