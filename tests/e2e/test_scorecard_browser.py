"""The balanced scorecard in a real browser under the strict CSP: sparklines, the cause → effect graph and the
initiative chart draw from the static script and JSON blocks, with no script error and no CSP violation."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.analytics.models_scorecard import Initiative, KpiLink
from kehu.customers.models import Customer

pytestmark = pytest.mark.e2e


@pytest.fixture
def scorecard_demo(seeded):
    from kehu.analytics import demo_scorecard
    from tests.analytics.conftest import buy

    today = timezone.localdate()
    for i, customer in enumerate(Customer.objects.order_by("pk")[:30]):
        for months in (1, 4, 7, 13):
            buy(customer, today - dt.timedelta(days=30 * months + i), Decimal(100 + 10 * i))
    demo_scorecard.seed({"rng": random.Random(4)})


def test_scorecard_graph_sparklines_and_initiative_chart_draw_without_errors(
    scorecard_demo, context_factory, login, live_server
):
    page = context_factory().new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    login(page, "exec")
    page.goto(f"{live_server.url}/analytics/scorecard/")
    page.wait_for_selector("[data-testid=kpi-graph] canvas")
    page.wait_for_selector(".sparkline svg")
    assert page.locator("[data-testid=perspective-learning] tbody tr").count() == 3
    # the graph's nodes are the KPIs on the page; the links below it name cause and effect
    assert page.locator("[data-testid=kpi-links] li").count() == KpiLink.objects.count()
    rollout = Initiative.objects.get(name__startswith="CRM")
    page.goto(f"{live_server.url}/analytics/scorecard/initiatives/")
    page.click(f"text={rollout.name}")
    page.wait_for_selector("[data-testid=initiative-chart] canvas")
    assert page.inner_text("[data-testid=irr]").endswith("%")
    assert problems == []
