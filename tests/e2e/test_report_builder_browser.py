"""The report builder in a real browser under the strict CSP: build a report (order lines by month), see the
ECharts chart drawn from its static script, click a bar and land on the records behind it; save the report."""

from __future__ import annotations

import datetime as dt

import pytest

from kehu.analytics.models import Report
from kehu.customers.models import Customer
from tests.analytics.conftest import buy

pytestmark = pytest.mark.e2e


@pytest.fixture
def orders(seeded):
    customers = list(Customer.objects.order_by("pk")[:3])
    buy(customers[0], dt.date(2026, 1, 10), 300)
    buy(customers[1], dt.date(2026, 1, 20), 200)
    buy(customers[2], dt.date(2026, 2, 5), 900)
    return customers


def test_build_a_report_see_the_chart_and_drill_down(orders, context_factory, login, live_server):
    page = context_factory().new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, "admin")
    page.goto(f"{live_server.url}/analytics/reports/new/")
    page.select_option("[data-testid=model]", "sales.orderline")
    page.click("[data-testid=choose-model]")
    page.select_option("[data-testid=group-1]", "order_date")
    page.select_option("[data-testid=bucket-1]", "month")
    page.select_option("[data-testid=measure-agg-1]", "sum")
    page.select_option("[data-testid=measure-field-1]", "amount")
    page.click("[data-testid=preview]")
    chart = page.locator("[data-testid=report-chart][data-ready='1']")
    chart.locator("canvas").wait_for()
    rows = page.locator("[data-testid=report-table] tbody tr")
    assert rows.count() == 2
    assert "2026-01" in rows.nth(0).inner_text() and "500" in rows.nth(0).inner_text()

    # click the first bar (January): bars rise from the x axis at the bottom of the grid
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(1200)  # the bars' grow-in animation
    box = chart.bounding_box()
    left, right, bottom = 60, 20, 60
    x = box["x"] + left + (box["width"] - left - right) / 4
    y = box["y"] + box["height"] - bottom - 4
    page.mouse.click(x, y)
    page.wait_for_url("**/analytics/reports/drill/**")
    assert page.locator("[data-testid=drill-key]").first.inner_text().endswith("2026-01-01")
    table = page.inner_text("[data-testid=list-table]")
    assert orders[0].name in table and orders[1].name in table and orders[2].name not in table

    page.go_back()
    page.fill("[data-testid=report-name]", "月度销售 Monthly sales")
    page.click("[data-testid=save-report]")
    page.wait_for_url("**/analytics/reports/*/")
    page.locator("[data-testid=report-chart] canvas").wait_for()
    assert Report.objects.get().name == "月度销售 Monthly sales"
    assert errors == []
