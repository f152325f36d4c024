"""The report builder's engine and API: one query per report, scope of the reader, hidden fields neither
selectable nor leaking, date buckets, department hierarchy, pivot, drill-down, validation (400), exports."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.analytics import reports
from kehu.analytics.models import Report
from kehu.analytics.services import scoring_run
from kehu.core.access import Access
from kehu.core.models import FieldGrant, ModelGrant, Scope

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def sales(report_sales):
    return report_sales


def spec(**kw) -> dict:
    base = {"model": "sales.orderline", "measures": [{"agg": "sum", "field": "amount"}, {"agg": "count"}]}
    base.update(kw)
    return base


def by_label(result) -> dict:
    return {tuple(r["labels"]): r["values"] for r in result["rows"]}


def test_month_buckets_in_one_query_and_scope_of_the_reader(sales, org):
    s = spec(
        group_by=[{"field": "order_date", "bucket": "month"}], filters=[{"field": "counted", "value": True}]
    )
    parsed = reports.parse_spec(s, user=org.exec)
    with CaptureQueriesContext(connection) as queries:
        everything = reports.run(parsed, user=org.exec)
    # over the lines, or on PostgreSQL over their summary (test_reports_fast.py): one statement either way
    report_queries = [
        q
        for q in queries.captured_queries
        if {"sales_orderline", "analytics_orderlinemonth"} & set(q["sql"].split('"'))
    ]
    assert len(report_queries) == 1 and "GROUP BY" in report_queries[0]["sql"]
    assert by_label(everything) == {("2026-01",): [300.0, 2], ("2026-03",): [1050.0, 2]}
    mine = reports.run(reports.parse_spec(s, user=org.rep1), user=org.rep1)
    assert by_label(mine) == {("2026-01",): [300.0, 2], ("2026-03",): [50.0, 1]}


@pytest.mark.parametrize(
    "bucket,labels",
    [
        ("year", {"2026"}),
        ("quarter", {"2026-Q1"}),
        ("week", {"2026-W02", "2026-W04", "2026-W10", "2026-W11"}),
        ("day", None),
    ],
)
def test_date_buckets(sales, org, bucket, labels):
    s = spec(group_by=[{"field": "order_date", "bucket": bucket}])
    result = reports.run(reports.parse_spec(s, user=org.exec), user=org.exec)
    got = {r["labels"][0] for r in result["rows"]}
    assert got == (labels or {"2026-01-05", "2026-01-20", "2026-03-02", "2026-03-09", "2026-03-10"})


def test_pivot_by_month_and_rfm_segment_and_drill_down(sales, org):
    scoring_run()
    s = spec(
        group_by=[
            {"field": "order_date", "bucket": "month"},
            {"field": "customer__analytics_score__segment"},
        ],
        filters=[{"field": "counted", "op": "eq", "value": "true"}],
    )
    parsed = reports.parse_spec(s, user=org.exec)
    result = reports.run(parsed, user=org.exec)
    pivot = result["pivot"]
    assert [r["label"] for r in pivot["rows"]] == ["2026-01", "2026-03"]
    assert sum(pivot["row_totals"]) == 1350.0
    row = result["rows"][-1]
    records = reports.drill_queryset(parsed, row["keys"], user=org.exec)
    assert sum(line.amount for line in records) == row["values"][0]
    # a rep drilling into the same cell sees only their own lines
    mine = reports.drill_queryset(reports.parse_spec(s, user=org.rep1), ["2026-03-01"], user=org.rep1)
    assert {line.customer_id for line in mine} == {sales["b"].pk}


def test_department_hierarchy_rolls_up_to_a_level(sales, org):
    s = spec(group_by=[{"field": "order__owner__department", "level": 1}])
    top = reports.run(reports.parse_spec(s, user=org.exec), user=org.exec)
    assert by_label(top) == {(org.sales.name,): [1750.0, 5]}
    s["group_by"][0]["level"] = 2
    second = reports.run(reports.parse_spec(s, user=org.exec), user=org.exec)
    assert by_label(second) == {(org.north.name,): [350.0, 3], (org.east.name,): [1400.0, 2]}
    parsed = reports.parse_spec(s, user=org.exec)
    east = next(r for r in second["rows"] if r["labels"] == [org.east.name])
    assert reports.drill_queryset(parsed, east["keys"], user=org.exec).count() == 2
    # a filter by a department covers its subtree
    s = spec(filters=[{"field": "order__owner__department", "op": "eq", "value": org.sales.pk}])
    assert reports.run(reports.parse_spec(s, user=org.exec), user=org.exec)["rows"][0]["values"] == [
        1750.0,
        5,
    ]


@pytest.mark.parametrize(
    "bad,message",
    [
        ({"group_by": [{"field": "nonsense"}]}, "unknown field"),
        ({"group_by": [{"field": "customers.customer.name"}]}, "unknown field"),
        ({"measures": [{"agg": "sum", "field": "description"}]}, "not numeric"),
        ({"measures": [{"agg": "avg", "field": "order_date"}]}, "not numeric"),
        ({"measures": [{"agg": "median", "field": "amount"}]}, "unknown measure"),
        ({"group_by": [{"field": "description", "bucket": "month"}]}, "needs a date field"),
        ({"filters": [{"field": "amount", "op": "gt", "value": "lots"}]}, "Filter 1"),
        ({"filters": [{"field": "amount", "op": "between", "value": 1}]}, "unknown operator"),
        ({"model": "sales.nothing"}, "Unknown record type"),
        ({"chart": "radar"}, "Unknown chart type"),
    ],
)
def test_invalid_definitions_are_refused_with_a_message(org, bad, message):
    with pytest.raises(reports.ReportError) as exc:
        reports.parse_spec(spec(**bad), user=org.exec)
    assert message in str(exc.value)


def hide(role, model, field):
    ModelGrant.objects.get_or_create(
        role=role, model=model, defaults={"can_view": True, "read_scope": Scope.OWN}
    )
    FieldGrant.objects.create(role=role, model=model, field=field, access="hidden")


def test_hidden_fields_are_not_offered_and_cannot_be_used(sales, org):
    role = org.rep1.roles.get()
    hide(role, "sales.orderline", "unit_price")
    hide(role, "customers.customer", "city")
    Access.forget(org.rep1)
    cat = reports.field_catalogue("sales.orderline", user=org.rep1)
    assert "unit_price" not in cat and "customer__city" not in cat and "amount" in cat
    for where in (
        {"group_by": [{"field": "unit_price"}]},
        {"measures": [{"agg": "sum", "field": "unit_price"}]},
        {"measures": [{"agg": "distinct", "field": "customer__city"}]},
        {"filters": [{"field": "customer__city", "op": "contains", "value": "北"}]},
    ):
        with pytest.raises(reports.ReportError, match="unknown field"):
            reports.parse_spec(spec(**where), user=org.rep1)
    # a report shared by the executive that groups by a field hidden from the rep does not run for the rep
    shared = Report.objects.create(
        owner=org.exec, name="x", model="sales.orderline", spec=spec(group_by=[{"field": "customer__city"}])
    )
    shared.shared_roles.add(role)
    from kehu.analytics import services_reports

    with pytest.raises(reports.ReportError):
        services_reports.report_run(report=shared, user=org.rep1)


def test_api_crud_run_export_and_validation(sales, org, api_for):
    api = api_for(org.rep1)
    body = {
        "name": "我的月度销售",
        "spec": spec(group_by=[{"field": "order_date", "bucket": "month"}]),
        "shared_roles": [],
    }
    created = api.post("/api/analytics/reports/", body, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["owner"] == org.rep1.pk
    run = api.get(f"/api/analytics/reports/{pk}/run/").json()
    assert {tuple(r["labels"]): r["values"] for r in run["rows"]} == {
        ("2026-01",): [300.0, 2],
        ("2026-03",): [50.0, 1],
    }
    xlsx = api.get(f"/api/analytics/reports/{pk}/xlsx/")
    assert xlsx.status_code == 200
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert [c.value for c in sheet[2]][:2] == ["2026-01", 300]
    bad = api.post(
        "/api/analytics/reports/",
        {"name": "x", "spec": spec(measures=[{"agg": "sum", "field": "description"}])},
        format="json",
    )
    assert bad.status_code == 400 and "not numeric" in str(bad.json())
    preview = api.post(
        "/api/analytics/reports/preview/", {"spec": {"model": "sales.orderline"}}, format="json"
    )
    assert preview.json()["rows"][0]["values"] == [3]
    # another user neither sees nor changes it; shared with their role they see it (their own figures)
    other = api_for(org.rep3)
    assert other.get(f"/api/analytics/reports/{pk}/").status_code == 404
    Report.objects.get(pk=pk).shared_roles.add(org.rep3.roles.get())
    theirs = other.get(f"/api/analytics/reports/{pk}/run/").json()
    assert {tuple(r["labels"]): r["values"] for r in theirs["rows"]} == {("2026-03",): [1400.0, 2]}
    assert (
        other.patch(f"/api/analytics/reports/{pk}/", {"name": "mine now"}, format="json").status_code == 403
    )
    assert other.delete(f"/api/analytics/reports/{pk}/").status_code == 403
    assert api.delete(f"/api/analytics/reports/{pk}/").status_code == 204
    fields = api.get("/api/analytics/reports/fields/?model=sales.orderline").json()
    assert any(f["path"] == "order_date" for f in fields)
    assert api.get("/api/analytics/reports/fields/?model=core.role").status_code == 400


def test_pdf_export(sales, org, client_for):
    report = Report.objects.create(
        owner=org.exec,
        name="月度销售",
        model="sales.orderline",
        spec=spec(group_by=[{"field": "order_date", "bucket": "month"}]),
    )
    response = client_for(org.exec).get(f"/analytics/reports/{report.pk}/export.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
