"""The workflow rules' visual condition builder (marketing's segment builder over the record type's fields) and
the demo rules of seed_demo."""

from __future__ import annotations

import json
import re

import pytest

from kehu.automation.models import Rule
from kehu.core.demo import seed_org
from kehu.core.models import FieldGrant, ModelGrant, Role
from tests.factories import UserFactory


def _schema(html: str) -> dict:
    found = re.search(r'<script id="rule-schema" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def test_the_rule_form_carries_the_builder_with_the_record_types_fields(client_for, db):
    admin = UserFactory(username="root", is_superuser=True)
    page = client_for(admin).get("/automation/new/?model=sales.opportunity").content.decode()
    assert 'id="rule-builder"' in page and 'data-reload-on="id_model"' in page
    keys = {f["key"] for f in _schema(page)["fields"]}
    assert {"amount", "customer.city"} <= keys  # the record's own fields and its customer's
    customers = _schema(client_for(admin).get("/automation/new/").content.decode())
    assert "city" in {f["key"] for f in customers["fields"]}


def test_the_builder_offers_no_field_the_user_may_not_see(client_for, db):
    role = Role.objects.create(code="ops", name="ops")
    ModelGrant.objects.create(role=role, model="automation.rule", can_view=True, can_add=True, can_change=True,
                              read_scope="all", write_scope="all")  # fmt: skip
    ModelGrant.objects.create(role=role, model="customers.customer", can_view=True, read_scope="all")
    FieldGrant.objects.create(role=role, model="customers.customer", field="tax_id", access="hidden")
    user = UserFactory(username="ops")
    user.roles.add(role)
    keys = {f["key"] for f in _schema(client_for(user).get("/automation/new/").content.decode())["fields"]}
    assert "city" in keys and "tax_id" not in keys


@pytest.mark.django_db
def test_demo_rules_are_valid_and_fire_on_what_users_do(django_capture_on_commit_callbacks):
    from kehu.automation import demo
    from kehu.customers.services import customer_create
    from kehu.interactions.models import Task

    org = seed_org()
    assert demo.seed({"org": org}) == "3 workflow rules"
    assert demo.seed({"org": org}) == "0 workflow rules"  # idempotent
    assert Rule.objects.filter(active=True).count() == 2
    rep = org.users["rep1"]
    with django_capture_on_commit_callbacks(execute=True):
        customer = customer_create(data={"name": "上海示例有限公司", "city": "上海"}, by=rep)
    assert Task.objects.filter(title__contains=customer.name).exists()
