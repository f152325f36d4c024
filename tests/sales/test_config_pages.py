"""Configuration pages: assignment rules and web forms (managers), navigation entries per role."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.sales.models import AssignmentRule, LeadWebForm
from kehu.ui.navigation import build

pytestmark = pytest.mark.django_db


def test_manager_configures_rules_and_web_forms(org, client_for):
    client = client_for(org.manager)
    response = client.post(
        reverse("sales:rule_create"),
        {"name": "华北轮流", "priority": "10", "active": "on", "region": org.north.pk, "method": "round_robin",
         "users": [org.rep1.pk, org.rep2.pk], "sla_hours": "4"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AssignmentRule.objects.get()
    assert set(rule.users.all()) == {org.rep1, org.rep2} and rule.sla_hours == 4
    assert client.get(reverse("sales:rules")).status_code == 200
    assert client.get(reverse("sales:rule", args=[rule.pk])).status_code == 200
    bad = client.post(
        reverse("sales:rule_create"), {"name": "x", "priority": "1", "method": "load", "sla_hours": "0"}
    )
    assert bad.status_code == 400 and AssignmentRule.objects.count() == 1
    response = client.post(
        reverse("sales:webform_create"),
        {"name": "展会登记", "active": "on", "default_owner": org.rep1.pk, "rate_limit": "5"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    form = LeadWebForm.objects.get()
    page = client.get(reverse("sales:webform", args=[form.pk])).content.decode()
    assert f"/public/leads/{form.key}/" in page


def test_reps_may_not_configure_and_see_sales_in_the_navigation(org, client_for):
    client = client_for(org.rep1)
    assert client.get(reverse("sales:rule_create")).status_code == 403
    assert client.post(reverse("sales:webform_create"), {"name": "x"}).status_code == 403
    keys = {item["key"] for section in build(org.rep1) for item in section["items"]}
    assert {"leads", "opportunities"} <= keys and not {"assignment", "webforms"} & keys
    manager_keys = {item["key"] for section in build(org.manager) for item in section["items"]}
    assert {"leads", "opportunities", "assignment", "webforms"} <= manager_keys
