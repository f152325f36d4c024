"""Value segments in a real browser: the 80/20 chart draws from its static script under the CSP (no inline JS),
the churn page lists at-risk customers with reasons, the loop page shows the cycle."""

from __future__ import annotations

import random

import pytest

from kehu.analytics.models import CustomerValue, ScoringRun, ValueCycle
from kehu.customers.models import Customer

pytestmark = pytest.mark.e2e


@pytest.fixture
def scored(seeded):
    from kehu.analytics import demo
    from kehu.customers.demo import seed_customers

    seed_customers(count=240, owners=seeded.owners, rng=random.Random(2))
    ids = list(Customer.objects.values_list("pk", flat=True))
    demo.seed({"rng": random.Random(3), "org": seeded, "customer_ids": ids})
    run = ScoringRun.objects.get()
    assert ValueCycle.objects.filter(run=run).exists(), run.messages
    return run


def test_pareto_chart_churn_list_and_loop_page(scored, context_factory, login, live_server):
    page = context_factory().new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, "admin")
    page.goto(f"{live_server.url}/analytics/value/")
    page.wait_for_selector("[data-testid=pareto-chart] canvas")
    assert page.locator("[data-testid=value-segments] tbody tr").count() == 4
    assert "%" in page.inner_text("[data-testid=pareto-figures]")
    page.goto(f"{live_server.url}/analytics/churn/?threshold=0.05")
    risky = CustomerValue.objects.filter(churn_risk__gte=0.05).order_by("-churn_risk").first()
    assert risky is not None
    assert risky.customer.name in page.inner_text("[data-testid=at-risk]")
    page.goto(f"{live_server.url}/analytics/value/loop/")
    assert page.locator("[data-testid=loop-table] tbody tr").count() == 4
    assert errors == []
