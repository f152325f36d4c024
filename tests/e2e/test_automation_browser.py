"""Workflow rules in a real browser under the strict CSP: an administrator builds a rule in the UI (record
created in Lhasa → tag and notify), switches it on after a dry run, creates a customer and sees the rule fire:
the tag on the customer, the notification, and the run in the rule's log."""

from __future__ import annotations

import json

import pytest

from kehu.automation.models import Rule, RuleRun
from kehu.customers.models import Customer

pytestmark = pytest.mark.e2e


def test_build_a_rule_dry_run_switch_on_and_see_it_fire(seeded, context_factory, login, live_server):
    page = context_factory(viewport={"width": 1366, "height": 900}).new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, "admin")
    page.goto(f"{live_server.url}/automation/")
    page.click("[data-testid=new-rule]")
    page.fill("input[name=name]", "拉萨新客户")
    page.select_option("select[name=model]", "customers.customer")
    page.select_option("select[name=trigger]", "created")
    # the conditions in the visual builder (marketing's segment rule builder over the record type's fields)
    page.click("[data-testid=rule-builder] [data-testid=add-condition]")
    page.locator("[data-testid=rule-row] [data-role=field]").first.select_option("city")
    page.locator("[data-testid=rule-row] [data-role=op]").first.select_option("eq")
    page.locator("[data-testid=rule-row] [data-role=value]").first.fill("拉萨")
    page.fill(
        "textarea[name=actions]",
        json.dumps(
            [
                {"type": "add_tag", "tags": ["西藏"]},
                {"type": "notify", "to": ["rule_owner"], "title": "新客户 {{ record.name }}"},
            ],
            ensure_ascii=False,
        ),
    )
    page.click("[data-testid=save-rule]")
    page.wait_for_selector("[data-testid=rule-status]")
    rule = Rule.objects.get(name="拉萨新客户")
    assert not rule.active
    assert rule.conditions["conditions"] == [{"field": "city", "op": "eq", "value": "拉萨"}]

    # a dry run against an existing customer: the conditions do not hold for one outside Lhasa
    other = Customer.objects.exclude(city="拉萨").first()
    page.fill("[data-testid=dry-record]", str(other.pk))
    page.click("[data-testid=dry-run]")
    page.wait_for_selector("[data-testid=dry-result]")
    assert "conditions are not met" in page.inner_text("[data-testid=dry-result]")

    page.click("[data-testid=switch-on]")
    page.wait_for_selector("[data-testid=switch-off]")
    assert page.inner_text("[data-testid=rule-status]") == "on"

    page.goto(f"{live_server.url}/customers/new/")
    page.fill("input[name=name]", "拉萨高原科技有限公司")
    page.fill("input[name=city]", "拉萨")
    page.click("[data-testid=save]")
    page.wait_for_url(lambda url: "/customers/new/" not in url)
    customer = Customer.objects.get(name="拉萨高原科技有限公司")
    assert list(customer.tags.values_list("name", flat=True)) == ["西藏"]

    page.goto(f"{live_server.url}/automation/{rule.pk}/")
    assert page.inner_text("[data-testid=runs] [data-testid=run-status]") == "Succeeded"
    assert RuleRun.objects.get(rule=rule, status="succeeded").object_id == str(customer.pk)
    page.goto(f"{live_server.url}/notifications/")
    assert "新客户 拉萨高原科技有限公司" in page.content()
    assert errors == []
