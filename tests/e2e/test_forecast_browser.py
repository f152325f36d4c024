"""Forecast and the sales dashboard in a real browser: a rep sets forecast categories in the grid and a manager
adjusts the rep's forecast (desktop); the rep's dashboard on a 375 px phone without horizontal overflow."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kehu.customers.models import Customer
from kehu.interactions.models import Task
from kehu.sales.models import Opportunity
from kehu.salesmgmt.models import ForecastAdjustment, ForecastEntry

pytestmark = pytest.mark.e2e


def _deals(seeded, n=3):
    from kehu.sales.services.opportunities import pipeline_default

    pipeline = pipeline_default()
    stage = pipeline.stages.filter(kind="open").order_by("-probability").first()
    rep = seeded.users["rep1"]
    customer = Customer.objects.filter(owner=rep).first()
    return [
        Opportunity.objects.create(
            name=f"预测商机 Deal {i}",
            customer=customer,
            pipeline=pipeline,
            stage=stage,
            owner=rep,
            amount=Decimal(1000 * (i + 1)),
            probability=stage.probability,
            expected_close_date=timezone.localdate(),
        )  # fmt: skip
        for i in range(n)
    ]


def test_rep_sets_categories_and_manager_adjusts(seeded, page, login, live_server, context_factory):
    deals = _deals(seeded)
    login(page, "rep1")
    page.goto(f"{live_server.url}/sales-management/forecast/")
    page.select_option(f"[data-testid=category-{deals[0].pk}]", "commit")
    page.select_option(f"[data-testid=category-{deals[1].pk}]", "best_case")
    page.select_option(f"[data-testid=category-{deals[2].pk}]", "omitted")
    page.click("[data-testid=save-categories]")
    expect(page.locator("[data-testid=kpi-commit]")).to_have_text("1,000.00")
    assert dict(ForecastEntry.objects.values_list("opportunity_id", "category")) == {
        deals[0].pk: "commit", deals[1].pk: "best_case", deals[2].pk: "omitted",
    }  # fmt: skip
    rep = seeded.users["rep1"]
    manager_page = context_factory().new_page()
    login(manager_page, "manager")
    manager_page.goto(f"{live_server.url}/sales-management/forecast/")
    expect(manager_page.locator(f"[data-testid=rep-forecast-{rep.pk}]")).to_have_text("1,000.00")
    manager_page.click(f"[data-testid=adjust-{rep.pk}]")
    form = manager_page.locator(f"[data-testid=adjust-form-{rep.pk}]")
    form.locator("input[name=amount]").fill("-5")
    form.locator("button[type=submit]").click()
    expect(manager_page.locator(".msg-error")).to_contain_text("cannot be negative")
    assert not ForecastAdjustment.objects.exists()
    manager_page.click(f"[data-testid=adjust-{rep.pk}]")
    form.locator("input[name=amount]").fill("800")
    form.locator("input[name=note]").fill("客户预算推迟 Budget slips")
    form.locator("button[type=submit]").click()
    expect(manager_page.locator(f"[data-testid=manager-forecast-{rep.pk}]")).to_contain_text("800.00")
    expect(manager_page.locator(f"[data-testid=rep-forecast-{rep.pk}]")).to_have_text(
        "1,000.00"
    )  # kept beside
    assert ForecastAdjustment.objects.get().amount == Decimal("800")


def test_rep_dashboard_on_a_phone(seeded, context_factory, login, live_server):
    deals = _deals(seeded, 2)
    ForecastEntry.objects.create(opportunity=deals[0], category="commit")
    rep = seeded.users["rep1"]
    Task.objects.create(title="回访客户确认交期 Call back about the delivery date", owner=rep,
                        due_at=timezone.now() + dt.timedelta(hours=1))  # fmt: skip
    ctx = context_factory(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    login(page, "rep1")
    page.goto(f"{live_server.url}/sales-management/dashboard/")
    expect(page.locator("[data-testid=dash-tasks]")).to_contain_text("回访客户")
    expect(page.locator("[data-testid=dash-closing]")).to_contain_text("预测商机 Deal 0")
    expect(page.locator("[data-testid=dash-month-forecast]")).to_have_text("1,000.00")
    expect(page.locator("[data-testid=dash-chart]")).to_have_attribute("data-ready", "1")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"horizontal overflow: {width}px"
