"""Customer value in a real browser: the diagnostics chart draws from its static script (no inline JS), the
analytics page names segments in Chinese and links to the filtered customer list."""

from __future__ import annotations

import random

import pytest

from kehu.analytics.models import CustomerScore, ScoringRun
from kehu.customers.models import Customer

pytestmark = pytest.mark.e2e


@pytest.fixture
def scored(seeded):
    from kehu.analytics import demo
    from kehu.customers.demo import seed_customers

    seed_customers(count=240, owners=seeded.owners, rng=random.Random(2))  # enough buyers to fit the models
    ids = list(Customer.objects.values_list("pk", flat=True))
    demo.seed({"rng": random.Random(3), "org": seeded, "customer_ids": ids})
    run = ScoringRun.objects.get()
    assert run.frequency_table, run.messages
    return run


def test_diagnostics_chart_and_segment_links(scored, context_factory, login, live_server):
    page = context_factory().new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, "admin")
    page.goto(f"{live_server.url}/analytics/diagnostics/")
    page.wait_for_selector("[data-testid=frequency-chart] canvas")
    assert page.locator("[data-testid=frequency-table] tbody tr").count() == 8
    assert errors == []

    zh = context_factory(locale="zh-CN").new_page()
    login(zh, "admin")
    zh.goto(f"{live_server.url}/analytics/")
    table = zh.inner_text("[data-testid=segments]")
    assert "RFM" in table or "客户" in table
    first = zh.locator("[data-testid=segments] tbody tr").first
    segment = first.get_attribute("data-segment")
    first.locator("a").click()
    zh.wait_for_url(f"**/customers/?rfm_segment={segment}")
    names = CustomerScore.objects.filter(segment=segment).values_list("customer__name", flat=True)
    assert zh.locator("table").first.inner_text().count("\n") >= 1
    assert any(n in zh.content() for n in names)
