"""The segment builder in a real browser under the strict CSP (desktop): start from every customer, add a
condition and watch the live count change, save the segment, and open the customer list filtered by it."""

from __future__ import annotations

import re

import pytest

from kehu.customers.models import Customer
from kehu.marketing.models import Segment

pytestmark = pytest.mark.e2e


def _count(page) -> int:
    locator = page.locator("[data-testid=segment-count]:not([data-count=''])")
    locator.wait_for()
    return int(locator.get_attribute("data-count"))


def test_build_a_segment_watch_the_count_save_and_filter_customers(
    seeded, context_factory, login, live_server
):
    everybody = Customer.objects.filter(merged_into__isnull=True).count()
    customers = Customer.objects.filter(merged_into__isnull=True, lifecycle_stage="customer").count()
    assert 0 < customers < everybody
    page = context_factory(viewport={"width": 1366, "height": 900}).new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, "marketer")
    page.goto(f"{live_server.url}/marketing/segments/new/")
    # no condition yet: every customer in the marketer's scope (all of them)
    assert _count(page) == everybody

    page.click("[data-testid=add-condition]")
    row = page.locator("[data-testid=rule-row]").first
    row.locator("[data-role=field]").select_option("lifecycle_stage")
    row = page.locator("[data-testid=rule-row]").first
    row.locator("[data-role=value]").select_option("customer")
    page.wait_for_function(
        "n => document.querySelector('[data-testid=segment-count]').getAttribute('data-count') === String(n)",
        arg=customers,
    )
    assert page.locator("[data-testid=segment-sample] li a").count() == min(customers, 10)

    # an exclusion: leave out organisations; the count follows
    page.click("[data-testid=add-exclusion]")
    exclusion = page.locator(".exclusions [data-testid=rule-row]").first
    exclusion.locator("[data-role=field]").select_option("kind")
    exclusion = page.locator(".exclusions [data-testid=rule-row]").first
    exclusion.locator("[data-role=value]").select_option("organization")
    people = Customer.objects.filter(
        merged_into__isnull=True, lifecycle_stage="customer", kind="person"
    ).count()
    page.wait_for_function(
        "n => document.querySelector('[data-testid=segment-count]').getAttribute('data-count') === String(n)",
        arg=people,
    )

    page.fill("[data-testid=segment-name]", "成交个人客户 Customers who are people")
    page.click("[data-testid=save]")
    page.wait_for_url(re.compile(r".*/marketing/segments/\d+/$"))
    segment = Segment.objects.get()
    assert segment.definition == {
        "match": "all",
        "conditions": [{"field": "lifecycle_stage", "op": "eq", "value": "customer"}],
        "exclude": [{"field": "kind", "op": "eq", "value": "organization"}],
    }
    assert page.inner_text("[data-testid=member-count]") == str(people)

    page.click("[data-testid=open-customers]")
    page.wait_for_url(f"**/customers/?segment={segment.pk}")
    shown = page.locator("[data-testid=list-table] tbody tr td a[href*='/customers/']").all_inner_texts()
    expected = set(
        Customer.objects.filter(lifecycle_stage="customer", kind="person").values_list("name", flat=True)
    )
    assert shown and set(shown) <= expected and len(shown) == min(people, 25)
    assert not errors, errors
