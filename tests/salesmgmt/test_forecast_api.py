"""Forecast and dashboard API: scoped figures, categories all or nothing, the manager's adjustment (bad input
400 naming the field, nothing written), snapshots, the dashboard; hidden amounts absent."""

from __future__ import annotations

from decimal import Decimal

from kehu.core.access import Access
from kehu.core.models import FieldGrant
from kehu.salesmgmt.models import ForecastAdjustment, ForecastEntry
from kehu.salesmgmt.services import forecast as fc
from tests.salesmgmt.test_forecast import deal, period  # noqa: F401 - fixtures

URL = "/api/forecast/"


def test_forecast_scoped(org, deal, api_for, period):  # noqa: F811
    deal(org.rep1, "1000", category="commit")
    deal(org.rep2, "300", category="best_case")
    deal(org.rep3, "9999", category="commit")
    mine = api_for(org.rep1).get(URL, {"period": period.token}).json()
    assert [r["rep"] for r in mine["reps"]] == [org.rep1.pk] and mine["total"]["commit"] == "1000.00"
    team = api_for(org.manager).get(URL).json()
    assert {r["rep"] for r in team["reps"]} == {org.rep1.pk, org.rep2.pk}
    assert team["total"]["best_case"] == "1300.00" and team["can_adjust"] is True
    assert api_for(org.rep1).get(URL, {"period": "2026-Q7"}).status_code == 400


def test_categories_all_or_nothing(org, deal, api_for):  # noqa: F811
    a, b = deal(org.rep1, "10"), deal(org.rep1, "20")
    other = deal(org.rep2, "30")
    api = api_for(org.rep1)
    r = api.post(URL + "categories/", {"changes": {str(a.pk): "commit", str(b.pk): "likely"}}, format="json")
    assert r.status_code == 400 and f"category-{b.pk}" in r.json()
    r = api.post(
        URL + "categories/", {"changes": {str(a.pk): "commit", str(other.pk): "commit"}}, format="json"
    )
    assert r.status_code == 403 and not ForecastEntry.objects.exists()
    r = api.post(URL + "categories/", {"changes": {str(a.pk): "commit"}}, format="json")
    assert r.status_code == 200 and r.json()["changed"] == 1
    deals = api.get(URL + "deals/").json()["results"]
    assert {d["id"]: d["category"] for d in deals} == {a.pk: "commit", b.pk: "pipeline"}


def test_adjustments(org, deal, api_for, period):  # noqa: F811
    api = api_for(org.manager)
    body = {"rep": org.rep1.pk, "period": period.token, "amount": "-1"}
    r = api.post(URL + "adjustments/", body, format="json")
    assert r.status_code == 400 and "amount" in r.json()
    r = api.post(
        URL + "adjustments/", {**body, "period": period.shifted(-1).token, "amount": "5"}, format="json"
    )
    assert r.status_code == 400 and "amount" in r.json()
    assert (
        api_for(org.rep1).post(URL + "adjustments/", {**body, "amount": "5"}, format="json").status_code
        == 403
    )
    assert not ForecastAdjustment.objects.exists()
    r = api.post(URL + "adjustments/", {**body, "amount": "1234.50", "note": "n"}, format="json")
    assert r.status_code == 200 and r.json()["version"] == 1
    r = api.post(URL + "adjustments/", {**body, "amount": "1000", "version": 99}, format="json")
    assert r.status_code == 409
    assert ForecastAdjustment.objects.get().amount == Decimal("1234.50")
    rep_view = api_for(org.rep1).get(URL).json()
    assert rep_view["reps"][0]["manager_forecast"] == "1234.50" and rep_view["reps"][0]["manager_note"] == "n"


def test_snapshots_and_dashboard(org, deal, api_for):  # noqa: F811
    deal(org.rep1, "1000", category="commit")
    fc.snapshot_take()
    snaps = api_for(org.rep1).get(URL + "snapshots/").json()
    assert snaps["weeks"][0]["commit"] == "1000.00" and snaps["actual"] == "0.00"
    dash = api_for(org.rep1).get("/api/sales-dashboard/").json()
    assert (
        dash["closing_this_month"]["total"] == 1 and dash["forecast_month"]["reps"][0]["commit"] == "1000.00"
    )
    assert api_for(org.rep1).get("/api/sales-dashboard/", {"team": "1"}).status_code == 403
    assert api_for(org.manager).get("/api/sales-dashboard/", {"team": "1"}).status_code == 200


def test_hidden_amount_absent(org, deal, api_for):  # noqa: F811
    from tests.sales.conftest import demo_role

    deal(org.rep1, "987654.32", category="commit")
    fc.snapshot_take()
    FieldGrant.objects.create(
        role=demo_role("sales_rep"), model="sales.opportunity", field="amount", access="hidden"
    )
    Access.forget(org.rep1)
    api = api_for(org.rep1)
    for url in (URL, URL + "deals/", URL + "snapshots/", "/api/sales-dashboard/"):
        r = api.get(url)
        assert r.status_code == 200 and "987654" not in r.content.decode(), url
    assert "commit" not in api.get(URL).json()["reps"][0]


def test_hidden_note_is_neither_shown_nor_overwritten(org, deal, api_for, period):  # noqa: F811
    from tests.sales.conftest import demo_role

    deal(org.rep1, "100", category="commit")
    body = {"rep": org.rep1.pk, "period": period.token, "amount": "150"}
    api = api_for(org.manager)
    assert api.post(URL + "adjustments/", {**body, "note": "zzsecretnote"}, format="json").status_code == 200
    FieldGrant.objects.create(
        role=demo_role("sales_manager"), model="salesmgmt.forecastadjustment", field="note", access="hidden"
    )
    Access.forget(org.manager)
    page = api.get(URL, {"period": period.token})
    assert page.status_code == 200 and "zzsecretnote" not in page.content.decode()
    assert "manager_note" not in page.json()["reps"][0]
    r = api.post(URL + "adjustments/", {**body, "amount": "160", "note": "", "version": 1}, format="json")
    assert r.status_code == 200 and "note" not in r.json()
    saved = ForecastAdjustment.objects.get()
    assert saved.amount == Decimal("160") and saved.note == "zzsecretnote"  # kept, not blanked
    r = api.post(URL + "adjustments/", {**body, "rep": 999999}, format="json")
    assert r.status_code == 400 and "rep" in r.json()
