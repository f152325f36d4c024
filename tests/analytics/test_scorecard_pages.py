"""The balanced scorecard's pages and API: the four perspectives with target, actual, status, trend and owner, the
cause → effect graph (data in JSON script blocks, no inline script), the unit a viewer's scope gives, the pages
that define KPIs, targets, values and links, and the CRM initiatives' ROI/NPV/IRR with clear messages."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from kehu.analytics.models_scorecard import Initiative, InitiativeCashFlow, Kpi, KpiLink, KpiTarget, KpiValue
from kehu.core.models import AuditEntry

from .conftest import buy

pytestmark = pytest.mark.django_db
Q = "period=quarter&at=2026-04-01"  # 2026 Q2, given explicitly


@pytest.fixture
def card(org, make_customer):
    north = make_customer("华北客户", owner=org.rep1)
    buy(north, dt.date(2026, 4, 10), 1000)
    buy(north, dt.date(2026, 1, 10), 800)
    east = make_customer("华东客户", owner=org.rep3)
    buy(east, dt.date(2026, 5, 10), 3000)
    revenue = Kpi.objects.create(
        code="revenue", name="销售收入", perspective="financial", metric="revenue", unit="money",
        responsible=org.exec,
    )  # fmt: skip
    share = Kpi.objects.create(
        code="share", name="市场份额", perspective="financial", source="manual", unit="percent"
    )
    complaints = Kpi.objects.create(
        code="complaints", name="客户抱怨", perspective="process", metric="complaints", unit="count",
        higher_is_better=False,
    )  # fmt: skip
    training = Kpi.objects.create(
        code="training", name="培训", perspective="learning", source="manual", unit="hours"
    )
    start = dt.date(2026, 4, 1)
    KpiTarget.objects.create(kpi=revenue, period_type="quarter", period_start=start, target=Decimal(4200))
    KpiTarget.objects.create(
        kpi=revenue, period_type="quarter", period_start=start, target=Decimal(900), department=org.north
    )
    KpiTarget.objects.create(kpi=share, period_type="quarter", period_start=start, target=Decimal(12))
    KpiTarget.objects.create(kpi=complaints, period_type="quarter", period_start=start, target=Decimal(5))
    KpiValue.objects.create(kpi=share, period_type="quarter", period_start=start, value=Decimal("10.5"))
    KpiValue.objects.create(
        kpi=share, period_type="quarter", period_start=dt.date(2026, 1, 1), value=Decimal("10")
    )
    KpiLink.objects.create(cause=training, effect=complaints)
    KpiLink.objects.create(cause=complaints, effect=revenue)
    return {"revenue": revenue, "share": share, "complaints": complaints, "training": training}


def rows(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-kpi="([^"]+)" data-status="([^"]+)"', html))


def test_the_scorecard_shows_four_perspectives_with_status_trend_owner_and_the_graph(card, org, client_for):
    response = client_for(org.exec).get(f"/analytics/scorecard/?{Q}")
    html = response.content.decode()
    assert response.status_code == 200
    for key in ("financial", "customer", "process", "learning"):
        assert f'data-testid="perspective-{key}"' in html
    # revenue 4,000 against 4,200 (within 10 %): amber; share 10.5 % against 12 %: red; complaints 0 ≤ 5: green
    assert rows(html) == {"revenue": "amber", "share": "red", "complaints": "green", "training": "none"}
    assert "4,000" in html and "4,200" in html and str(org.exec) in html
    assert 'id="kpi-graph-data"' in html and 'id="kpi-trends"' in html and 'data-testid="kpi-graph"' in html
    assert "No value entered for this period." in html  # training
    # strict CSP: scripts only from files, no style attributes
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html)
    assert " style=" not in html
    assert not re.search(r"\b(nan|inf|infinity)\b", html, re.IGNORECASE)


def test_a_managers_scorecard_covers_their_department_with_its_own_target(card, org, client_for, api_for):
    html = client_for(org.manager).get(f"/analytics/scorecard/?{Q}&department={org.east.pk}").content.decode()
    assert org.north.name in re.search(r'data-testid="unit">([^<]+)', html).group(1)
    assert rows(html)["revenue"] == "green"  # 1,000 of north against north's 900
    data = api_for(org.manager).get(f"/api/analytics/scorecard/?{Q}").json()
    revenue = next(k for p in data["perspectives"] for k in p["kpis"] if k["code"] == "revenue")
    assert (revenue["actual"], revenue["target"], revenue["target_is_company"]) == (1000.0, 900.0, False)
    share = next(k for p in data["perspectives"] for k in p["kpis"] if k["code"] == "share")
    assert share["target_is_company"] and share["value_is_company"]  # the company's, flagged
    # the executive chooses any unit
    data = api_for(org.exec).get(f"/api/analytics/scorecard/?{Q}&department={org.east.pk}").json()
    assert data["unit"] == org.east.name
    revenue = next(k for p in data["perspectives"] for k in p["kpis"] if k["code"] == "revenue")
    assert revenue["actual"] == 3000.0 and revenue["target_is_company"]


def test_the_api_gives_values_trend_and_links_and_survives_bad_parameters(card, org, api_for):
    api = api_for(org.exec)
    data = api.get(f"/api/analytics/scorecard/?{Q}&trend=3").json()
    assert data["period"] == {
        "type": "quarter",
        "start": "2026-04-01",
        "end": "2026-07-01",
        "label": "2026 Q2",
    }
    assert data["trend_periods"] == ["2025 Q4", "2026 Q1", "2026 Q2"]
    assert [p["key"] for p in data["perspectives"]] == ["financial", "customer", "process", "learning"]
    revenue = data["perspectives"][0]["kpis"][0]
    assert revenue["trend"] == [0.0, 800.0, 4000.0] and revenue["status"] == "amber"
    assert revenue["attainment"] == pytest.approx(95.2381, abs=1e-3)
    assert {(lk["cause"], lk["effect"]) for lk in data["links"]} == {
        (card["training"].pk, card["complaints"].pk),
        (card["complaints"].pk, card["revenue"].pk),
    }
    assert (
        api.get("/api/analytics/scorecard/?period=decade&at=yesterday&trend=x&department=abc").status_code
        == 200
    )
    metrics = {
        m["metric"]: m for m in api.get("/api/analytics/kpi-metrics/?period=month&at=1999-01-01").json()
    }
    assert metrics["revenue"]["value"] == 0.0
    assert metrics["retention_rate"]["value"] is None and metrics["retention_rate"]["note"]


def test_who_may_not_see_analytics_gets_neither_page_nor_api(card, make_user, client_for, api_for):
    outsider = make_user("products.product", actions=("view",))
    assert client_for(outsider).get("/analytics/scorecard/").status_code == 403
    assert api_for(outsider).get("/api/analytics/scorecard/").status_code == 403
    assert api_for(outsider).get("/api/analytics/kpis/").status_code == 403


def test_entered_values_through_the_api_reach_the_scorecard_and_duplicates_are_refused(
    card, org, api_for, admin_user
):
    api = api_for(admin_user)
    body = {
        "kpi": card["training"].pk,
        "period_type": "quarter",
        "period_start": "2026-05-17",
        "value": "7.5",
    }
    created = api.post("/api/analytics/kpi-values/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["period_start"] == "2026-04-01"  # stored as the period's first day
    duplicate = api.post("/api/analytics/kpi-values/", body, format="json")
    assert duplicate.status_code == 400 and "already" in duplicate.content.decode()
    training = next(
        k for p in api.get(f"/api/analytics/scorecard/?{Q}").json()["perspectives"] for k in p["kpis"]
        if k["code"] == "training"
    )  # fmt: skip
    assert training["actual"] == 7.5
    # a sales rep and the (read-only) executive may read the scorecard but not enter values
    assert api_for(org.rep1).post("/api/analytics/kpi-values/", body, format="json").status_code == 403
    assert api_for(org.exec).post("/api/analytics/kpi-values/", body, format="json").status_code == 403
    assert AuditEntry.objects.filter(model="analytics.kpivalue", action="create").count() == 1


def test_kpis_are_defined_on_an_audited_form_and_a_computed_kpi_needs_a_metric(
    card, org, client_for, admin_user
):
    client = client_for(admin_user)
    assert client.get("/analytics/scorecard/kpis/").status_code == 200
    form = {
        "code": "nps", "name": "净推荐值", "perspective": "customer", "source": "metric", "metric": "",
        "unit": "number", "higher_is_better": "on", "tolerance": "10", "position": "0", "active": "on",
    }  # fmt: skip
    refused = client.post("/analytics/scorecard/kpis/new/", form)
    assert refused.status_code == 400 and "Choose a built-in metric" in refused.content.decode()
    form["source"] = "manual"
    saved = client.post("/analytics/scorecard/kpis/new/", form)
    assert saved.status_code == 302
    kpi = Kpi.objects.get(code="nps")
    assert AuditEntry.objects.filter(model="analytics.kpi", object_id=str(kpi.pk), action="create").exists()
    assert client.get(saved.url).status_code == 200
    assert client_for(org.rep1).get("/analytics/scorecard/kpis/new/").status_code == 403


def test_a_kpi_cannot_cause_itself(card, client_for, admin_user):
    kpi = card["revenue"]
    response = client_for(admin_user).post("/analytics/scorecard/links/", {"cause": kpi.pk, "effect": kpi.pk})
    assert response.status_code == 400 and "cannot be its own cause" in response.content.decode()


def test_initiatives_show_roi_npv_irr_or_say_why_not(org, client_for, api_for, admin_user):
    costs_only = Initiative.objects.create(name="只花钱 Costs only", start=dt.date(2026, 1, 5), periods=3)
    InitiativeCashFlow.objects.create(initiative=costs_only, period_index=0, outflow=Decimal(1000))
    html = client_for(org.exec).get(f"/analytics/scorecard/initiatives/{costs_only.pk}/").content.decode()
    assert "never change sign" in html and not re.search(r"\b(nan|inf)\b", html, re.IGNORECASE)
    assert re.search(r'data-testid="irr">—<', html)
    paying = Initiative.objects.create(
        name="CRM 实施", start=dt.date(2026, 1, 1), periods=2, discount_rate=Decimal(0)
    )
    InitiativeCashFlow.objects.create(initiative=paying, period_index=0, outflow=Decimal(100))
    InitiativeCashFlow.objects.create(initiative=paying, period_index=1, inflow=Decimal(110))
    data = api_for(org.exec).get(f"/api/analytics/initiatives/{paying.pk}/evaluation/").json()
    assert data["roi"] == pytest.approx(0.1) and data["npv"] == pytest.approx(10.0)
    assert data["irr"] == pytest.approx(0.1) and data["irr_annual"] == pytest.approx(1.1**4 - 1, abs=1e-4)
    assert [f["label"] for f in data["cash_flows"]] == ["2026 Q1", "2026 Q2"]
    # entering a period again replaces it (one row per period); the read-only executive may not
    assert (
        client_for(org.exec)
        .post(
            f"/analytics/scorecard/initiatives/{paying.pk}/",
            {"period_index": 1, "outflow": "0", "inflow": "121"},
        )
        .status_code
        == 403
    )
    client_for(admin_user).post(
        f"/analytics/scorecard/initiatives/{paying.pk}/", {"period_index": 1, "outflow": "0", "inflow": "121"}
    )
    assert paying.cash_flows.get(period_index=1).inflow == Decimal(121)


def test_a_derived_initiative_counts_the_kpis_gain_over_its_baseline(card, org, api_for):
    derived = Initiative.objects.create(
        name="赢回计划", start=dt.date(2026, 1, 1), periods=2, source="derived", kpi=card["revenue"],
        baseline=Decimal(500), margin=Decimal(50), discount_rate=Decimal(0),
    )  # fmt: skip
    InitiativeCashFlow.objects.create(initiative=derived, period_index=0, outflow=Decimal(100))
    data = api_for(org.exec).get(f"/api/analytics/initiatives/{derived.pk}/evaluation/").json()
    # Q1: (800 − 500) × 50 % = 150; Q2: (4,000 − 500) × 50 % = 1,750
    assert [f["inflow"] for f in data["cash_flows"]] == [150.0, 1750.0]
    assert data["npv"] == pytest.approx(1800.0)
