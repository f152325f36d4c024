"""Report builder, an11: three group-bys (pivot: the first group down, the other two combined across; drill-down
with three keys; the same figures from the summary and from the lines), and the PDF's chart drawn as SVG in
the chart type the report was saved with."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import pytest

from kehu.analytics import reports, services_reports
from kehu.analytics.models import Report
from kehu.analytics.report_svg import chart_svg
from kehu.analytics.services import scoring_run

from .test_reports import by_label, spec

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def sales(report_sales):
    return report_sales


def three(**kw) -> dict:
    return spec(
        group_by=[
            {"field": "order_date", "bucket": "month"},
            {"field": "customer__analytics_score__segment"},
            {"field": "counted"},
        ],
        **kw,
    )


def test_three_group_bys_pivot_and_drill_down(sales, org):
    scoring_run()
    parsed = reports.parse_spec(three(), user=org.exec)
    result = reports.run(parsed, user=org.exec)
    assert all(len(r["keys"]) == 3 for r in result["rows"])
    assert sum(v[0] for v in by_label(result).values()) == 1750.0  # cancelled line included, counted = false
    pivot = result["pivot"]
    assert [r["label"] for r in pivot["rows"]] == ["2026-01", "2026-03"]
    assert all(" · " in c["label"] and len(c["keys"]) == 2 for c in pivot["columns"])
    assert sum(pivot["row_totals"]) == 1750.0
    for row in result["rows"]:
        records = reports.drill_queryset(parsed, row["keys"], user=org.exec)
        assert (
            sum(line.amount for line in records) == row["values"][0] and records.count() == row["values"][1]
        )
    # the summary (PostgreSQL) and the lines give the same rows
    assert reports.run(parsed, user=org.exec, summary=False)["rows"] == result["rows"]
    # a rep sees their own lines only
    mine = reports.run(reports.parse_spec(three(), user=org.rep1), user=org.rep1)
    assert sum(r["values"][0] for r in mine["rows"]) == 350.0


def test_four_group_bys_are_refused_with_a_message(sales, org):
    s = three()
    s["group_by"].append({"field": "currency"})
    with pytest.raises(reports.ReportError) as error:
        reports.parse_spec(s, user=org.exec)
    assert any("3" in str(m) for m in error.value.messages)


def test_the_builder_page_takes_a_third_group(sales, org, client_for):
    scoring_run()
    response = client_for(org.exec).get(
        "/analytics/reports/new/",
        {"model": "sales.orderline", "g1": "order_date", "b1": "month", "g2": "customer__analytics_score__segment",
         "g3": "counted", "ma1": "sum", "mf1": "amount", "chart": "bar", "preview": "1"},
    )  # fmt: skip
    body = response.content.decode()
    assert (
        response.status_code == 200
        and 'data-testid="group-3"' in body
        and 'data-testid="pivot-table"' in body
    )
    assert body.count('data-testid="pivot-cell"') >= 3


def _shapes(svg: str) -> dict:
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    found: dict = {}
    for el in root.iter():
        found[el.tag.replace(SVG, "")] = found.get(el.tag.replace(SVG, ""), 0) + 1
    return found


@pytest.mark.parametrize("chart", ["bar", "line", "pie"])
def test_the_chart_as_svg_for_each_chart_type_and_group_count(sales, org, chart):
    scoring_run()
    month = [{"field": "order_date", "bucket": "month"}]
    for groups in ([], month, three()["group_by"][:2], three()["group_by"]):
        result = reports.run(
            reports.parse_spec(spec(group_by=groups, chart=chart), user=org.exec), user=org.exec
        )
        svg = chart_svg(result)
        shapes = _shapes(svg)  # well-formed XML
        assert "nan" not in svg.lower() and "inf" not in svg.lower()
        if chart == "bar":
            assert shapes.get("rect", 0) >= 2
        elif chart == "line":
            assert shapes.get("polyline", 0) >= 1
        else:
            assert shapes.get("path", 0) + shapes.get("circle", 0) >= 1


def test_the_chart_survives_negative_zero_and_non_finite_values():
    result = {
        "chart": "bar", "title": "t", "groups": [{"field": "x", "label": "x"}],
        "measures": [{"key": "m0", "label": "Σ <amount> & co"}],
        "rows": [{"keys": [k], "labels": [k], "values": [v]} for k, v in
                 (("a", -50.0), ("b", 0), ("c", float("nan")), ("d", float("inf")), ("e", 1e12))],
        "pivot": None,
    }  # fmt: skip
    svg = chart_svg(result)
    assert "nan" not in svg.lower() and "inf" not in svg.lower() and "&lt;amount&gt;" in svg
    _shapes(svg)
    result["chart"] = "pie"
    _shapes(chart_svg(result))
    result["rows"] = []
    assert chart_svg(result) == ""


def test_the_pdf_carries_the_chart(sales, org, client_for, monkeypatch):
    import weasyprint

    scoring_run()
    seen = []

    class Capture:
        def __init__(self, string):
            seen.append(string)

        def write_pdf(self):
            return b"%PDF-capture"

    report = Report.objects.create(owner=org.exec, name="月度销售", model="sales.orderline",
                                   spec=three(chart="bar"))  # fmt: skip
    real = client_for(org.exec).get(f"/analytics/reports/{report.pk}/export.pdf")
    assert real.status_code == 200 and real.content.startswith(b"%PDF")  # WeasyPrint takes the SVG
    monkeypatch.setattr(weasyprint, "HTML", Capture)
    result = reports.run(reports.parse_spec(report.spec, user=org.exec), user=org.exec)
    services_reports.export_pdf(result=result, name=report.name)
    html = seen[0]
    assert 'data-testid="report-chart"' in html
    uri = html.split('data-testid="report-chart"')[0].rsplit('src="', 1)[1].split('"', 1)[0]
    svg = base64.b64decode(uri.removeprefix("data:image/svg+xml;base64,")).decode()
    assert _shapes(svg).get("rect", 0) >= 2


MID_MONTH = [
    [("gte", "2026-01-10")],
    [("lt", "2026-03-05")],
    [("gte", "2026-01-10"), ("lte", "2026-03-09")],
    [("eq", "2026-03-09")],
    [("eq", "2026-03-01")],
    [("gt", "2026-01-20"), ("lt", "2026-03-03")],
    [("gte", "2026-01-01"), ("lte", "2026-03-05")],
    [("gte", "2026-03-05"), ("lte", "2026-03-03")],
    [("gte", "2026-01-06"), ("lte", "2026-01-19")],
    [("gte", "2026-03-01"), ("lte", "2026-03-31")],
]


@pytest.mark.parametrize("bounds", MID_MONTH, ids=lambda b: ",".join(f"{o}{v}" for o, v in b))
def test_mid_month_date_filters_read_whole_months_from_the_summary_and_equal_the_lines(sales, org, bounds):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    scoring_run()  # segments, and on PostgreSQL a valid summary
    filters = [{"field": "order_date", "op": op, "value": v} for op, v in bounds]
    filters.append({"field": "counted", "op": "eq", "value": "true"})
    s = spec(group_by=[{"field": "order_date", "bucket": "month"}, {"field": "customer__analytics_score__segment"}],
             filters=filters)  # fmt: skip
    for user in (org.exec, org.rep1):
        parsed = reports.parse_spec(s, user=user)
        with CaptureQueriesContext(connection) as queries:
            fast = reports.run(parsed, user=user)
        plain = reports.run(parsed, user=user, summary=False)
        assert fast["rows"] == plain["rows"]
        if connection.vendor == "postgresql":
            statements = [q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"]]
            assert len(statements) == 1 and "analytics_orderlinemonth" in statements[0]
    # the figures themselves (exec sees every line): counted lines in the range
    days = {"2026-01-05": 100, "2026-01-20": 200, "2026-03-02": 50, "2026-03-09": 1000}
    lo = max([v for o, v in bounds if o in {"gte", "eq"}] + [v for o, v in bounds if o == "gt"], default="0")
    hi = min([v for o, v in bounds if o in {"lte", "eq"}] + [v for o, v in bounds if o == "lt"], default="9")
    expected = sum(
        a for d, a in days.items()
        if (d > lo if ("gt", lo) in bounds else d >= lo) and (d < hi if ("lt", hi) in bounds else d <= hi)
    )  # fmt: skip
    result = reports.run(reports.parse_spec(s, user=org.exec), user=org.exec)
    assert sum(r["values"][0] for r in result["rows"]) == expected


@pytest.fixture
def regions(sales):
    from kehu.customers.models import CustomerAddress

    def put(customer, province, city, district="", primary=True):
        CustomerAddress.objects.create(customer=customer, province=province, city=city, district=district,
                                       street="路1号", is_primary=primary)  # fmt: skip

    put(sales["a"], "广东省", "深圳市", "南山区")
    put(sales["a"], "北京市", "北京市", primary=False)  # not the primary address: never counted
    put(sales["b"], "广东省", "广州市", "天河区")
    return sales  # c has no address


def test_region_hierarchy_groups_filters_and_drills(regions, org):
    s = spec(group_by=[{"field": "customer__region", "level": 1}])
    parsed = reports.parse_spec(s, user=org.exec)
    top = reports.run(parsed, user=org.exec)
    assert by_label(top) == {("广东省",): [350.0, 3], ("(none)",): [1400.0, 2]}
    s["group_by"][0]["level"] = 2
    second = reports.run(reports.parse_spec(s, user=org.exec), user=org.exec)
    assert by_label(second) == {
        ("广东省 / 深圳市",): [300.0, 2], ("广东省 / 广州市",): [50.0, 1], ("(none)",): [1400.0, 2]
    }  # fmt: skip
    parsed = reports.parse_spec(s, user=org.exec)
    for row in second["rows"]:
        records = reports.drill_queryset(parsed, row["keys"], user=org.exec)
        assert records.count() == row["values"][1]
    f = spec(filters=[{"field": "customer__region", "op": "eq", "value": "广东省"}])
    assert reports.run(reports.parse_spec(f, user=org.exec), user=org.exec)["rows"][0]["values"] == [350.0, 3]
    f = spec(filters=[{"field": "customer__region", "op": "in", "value": "广东省 / 广州市,北京市"}])
    assert reports.run(reports.parse_spec(f, user=org.exec), user=org.exec)["rows"][0]["values"] == [50.0, 1]
    f = spec(filters=[{"field": "customer__region", "op": "isnull", "value": True}])
    assert reports.run(reports.parse_spec(f, user=org.exec), user=org.exec)["rows"][0]["values"] == [
        1400.0,
        2,
    ]
    # customers themselves, three levels
    c = {"model": "customers.customer", "group_by": [{"field": "region", "level": 3}]}
    assert by_label(reports.run(reports.parse_spec(c, user=org.exec), user=org.exec))[
        ("广东省 / 深圳市 / 南山区",)
    ] == [1]


def test_region_bad_input_and_hidden_address_fields(regions, org):
    from .test_reports import hide

    for bad, needle in (
        (spec(group_by=[{"field": "customer__region", "level": 4}]), "region level"),
        (spec(measures=[{"agg": "count", "field": "customer__region"}]), "hierarchy"),
        (spec(filters=[{"field": "customer__region", "op": "gt", "value": "广东省"}]), "hierarchy"),
        (spec(filters=[{"field": "customer__region", "op": "eq", "value": "  "}]), "region"),
    ):
        with pytest.raises(reports.ReportError) as error:
            reports.parse_spec(bad, user=org.exec)
        assert any(needle in str(m) for m in error.value.messages), error.value.messages
    # a role that may not see the province does not get the region at all
    from kehu.core.access import Access

    assert "customer__region" in reports.field_catalogue("sales.orderline", user=org.rep1)
    hide(org.rep1.roles.get(), "customers.customeraddress", "province")
    Access.forget(org.rep1)
    assert "customer__region" not in reports.field_catalogue("sales.orderline", user=org.rep1)
    with pytest.raises(reports.ReportError):
        reports.parse_spec(spec(group_by=[{"field": "customer__region"}]), user=org.rep1)


@pytest.fixture
def customised(sales):
    from kehu.core.models import CustomField
    from kehu.customers.models import Customer

    for key, label, kind, choices in (
        ("industry", "行业", "choice", ["制造", "零售"]),
        ("employees", "员工数", "number", []),
        ("since", "合作起始", "date", []),
        ("vip", "重点客户", "boolean", []),
    ):
        CustomField.objects.create(
            model="customers.customer", key=key, label=label, field_type=kind, choices=choices
        )
    Customer.objects.filter(pk=sales["a"].pk).update(
        custom={"industry": "制造", "employees": 250, "since": "2019-04-01", "vip": True}
    )
    Customer.objects.filter(pk=sales["b"].pk).update(
        custom={"industry": "零售", "employees": 12.5, "since": "2024-02-10", "vip": False}
    )
    return sales  # c has no custom values


def test_custom_fields_group_filter_measure_and_drill(customised, org):
    cat = reports.field_catalogue("sales.orderline", user=org.exec)
    assert {"customer__custom__industry", "customer__custom__employees", "customer__custom__since"} <= set(
        cat
    )
    s = spec(group_by=[{"field": "customer__custom__industry"}])
    parsed = reports.parse_spec(s, user=org.exec)
    result = reports.run(parsed, user=org.exec)
    assert by_label(result) == {("制造",): [300.0, 2], ("零售",): [50.0, 1], ("(none)",): [1400.0, 2]}
    for row in result["rows"]:
        assert reports.drill_queryset(parsed, row["keys"], user=org.exec).count() == row["values"][1]
    f = spec(filters=[{"field": "customer__custom__employees", "op": "gte", "value": "100"}])
    assert reports.run(reports.parse_spec(f, user=org.exec), user=org.exec)["rows"][0]["values"] == [300.0, 2]
    f = spec(filters=[{"field": "customer__custom__vip", "op": "eq", "value": "false"}])
    assert reports.run(reports.parse_spec(f, user=org.exec), user=org.exec)["rows"][0]["values"] == [50.0, 1]
    f = spec(filters=[{"field": "customer__custom__industry", "op": "isnull", "value": "true"}])
    assert reports.run(reports.parse_spec(f, user=org.exec), user=org.exec)["rows"][0]["values"] == [
        1400.0,
        2,
    ]
    years = spec(group_by=[{"field": "customer__custom__since", "bucket": "year"}])
    parsed = reports.parse_spec(years, user=org.exec)
    by_year = reports.run(parsed, user=org.exec)
    assert by_label(by_year) == {("2019",): [300.0, 2], ("2024",): [50.0, 1], ("(none)",): [1400.0, 2]}
    for row in by_year["rows"]:
        assert reports.drill_queryset(parsed, row["keys"], user=org.exec).count() == row["values"][1]
    # customers: the average of a numeric custom field per custom choice
    c = {"model": "customers.customer", "group_by": [{"field": "custom__industry"}],
         "measures": [{"agg": "avg", "field": "custom__employees"}]}  # fmt: skip
    assert by_label(reports.run(reports.parse_spec(c, user=org.exec), user=org.exec))[("零售",)] == [12.5]
    # bad input: text is not a number, sum needs a number
    for bad in (
        spec(filters=[{"field": "customer__custom__employees", "op": "gt", "value": "many"}]),
        spec(measures=[{"agg": "sum", "field": "customer__custom__industry"}]),
    ):
        with pytest.raises(reports.ReportError):
            reports.parse_spec(bad, user=org.exec)
