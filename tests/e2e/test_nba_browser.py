"""Next best activity in a real browser: a rep's worklist from the demo data, Taken on the first row records the
decision (attributed to the rep) and takes the row off the list; the 360° panel shows the customer's actions."""

from __future__ import annotations

import random

import pytest

from kehu.analytics.models_nba import NbaDecision
from kehu.core.models import User
from kehu.customers.models import Customer

pytestmark = pytest.mark.e2e


@pytest.fixture
def ranked(seeded):
    from kehu.analytics import demo
    from kehu.customers.demo import seed_customers

    seed_customers(count=240, owners=seeded.owners, rng=random.Random(2))
    ids = list(Customer.objects.values_list("pk", flat=True))
    return demo.seed({"rng": random.Random(3), "org": seeded, "customer_ids": ids})


def test_rep_takes_the_first_action_of_the_worklist(ranked, context_factory, login, live_server):
    page = context_factory().new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, "rep1")
    page.goto(f"{live_server.url}/analytics/nba/")
    rows = page.locator("[data-testid=nba-worklist] tbody tr[data-customer]")
    assert rows.count() > 0
    first = rows.first
    customer_id, code = first.get_attribute("data-customer"), first.get_attribute("data-action")
    before = NbaDecision.objects.count()
    first.locator("[data-testid=nba-taken]").click()
    page.wait_for_url(f"{live_server.url}/analytics/nba/")
    page.wait_for_selector(".msg")
    made = NbaDecision.objects.order_by("-id").first()
    assert NbaDecision.objects.count() == before + 1
    assert made.decided_by == User.objects.get(username="rep1") and made.decision == "taken"
    assert str(made.customer_id) == customer_id and made.action.code == code
    assert page.locator(f"tr[data-customer='{customer_id}'][data-action='{code}']").count() == 0

    page.goto(f"{live_server.url}/customers/{customer_id}/")
    panel = page.locator("[data-testid=nba-panel]")
    assert panel.locator(f"tr[data-action='{code}']").get_attribute("data-state") == "taken"
    assert errors == []
