"""Workflow rules across apps: stage entered on the pipeline board, inbound messages, related-record
conditions, assignment methods, customer-facing email under the contact rules, and the pages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from kehu.automation import services
from kehu.automation.models import Rule, RuleRun, RunStatus, Trigger
from kehu.core import records
from kehu.customers.models import Customer
from kehu.interactions.services import interaction_log
from kehu.sales.services import opportunities as deals
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    return UserFactory(username="rules-admin2", is_superuser=True, is_staff=True)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def rule(admin, **data) -> Rule:
    base = {"name": "r", "model": "customers.customer", "trigger": Trigger.CREATED, "trigger_config": {},
            "conditions": {}, "actions": [{"type": "add_tag", "tags": ["auto"]}], "active": True}  # fmt: skip
    return services.rule_create(data={**base, **data}, by=admin)


def test_stage_entered_on_the_board_with_a_related_customer_condition(admin, on_commit):
    pipeline = deals.pipeline_default()
    stages = {s.probability if s.kind == "open" else s.kind: s for s in pipeline.stages.all()}
    vip = records.record_create(model=Customer, data={"name": "重点客户", "city": "上海"}, by=admin)
    other = records.record_create(model=Customer, data={"name": "普通客户", "city": "北京"}, by=admin)
    r = rule(
        admin,
        model="sales.opportunity",
        trigger=Trigger.STAGE_ENTERED,
        trigger_config={"stages": [str(stages[50].pk)]},
        conditions={
            "match": "all",
            "conditions": [
                {"field": "customer.city", "op": "eq", "value": "上海"},
                {"field": "amount", "op": "gte", "value": 1000},
            ],
        },  # fmt: skip
        actions=[{"type": "create_task", "title": "Call {{ record.name }}", "assign_to": "record_owner"}],
    )
    with on_commit():
        a = deals.opportunity_create(data={"name": "A", "customer": vip, "amount": Decimal("5000")}, by=admin)
        b = deals.opportunity_create(
            data={"name": "B", "customer": other, "amount": Decimal("5000")}, by=admin
        )
    with on_commit():
        deals.opportunity_move(opportunity=a, stage=stages[25], by=admin)
        deals.opportunity_move(opportunity=b, stage=stages[50], by=admin)
    assert not RuleRun.objects.filter(rule=r).exists()  # A not at 50 %, B's customer is not in Shanghai
    with on_commit():
        deals.opportunity_move(opportunity=a, stage=stages[50], by=admin)
    run = RuleRun.objects.get(rule=r)
    assert run.object_id == str(a.pk) and run.status == RunStatus.SUCCEEDED
    from kehu.interactions.models import Task

    assert Task.objects.get(customer=vip).title == "Call A"


def test_inbound_message_trigger(admin, on_commit):
    customer = records.record_create(model=Customer, data={"name": "来电客户"}, by=admin)
    r = rule(admin, model="interactions.interaction", trigger=Trigger.INBOUND,
             actions=[{"type": "notify", "to": ["rule_owner"], "title": "Inbound: {{ record.subject }}"}])  # fmt: skip
    with on_commit():
        interaction_log(
            customer=customer, data={"channel": "call", "direction": "out", "subject": "回访"}, by=admin
        )
        interaction_log(
            customer=customer, data={"channel": "call", "direction": "in", "subject": "咨询价格"}, by=admin
        )
    run = RuleRun.objects.get(rule=r)
    assert run.outcomes[0]["detail"].startswith("notified")
    assert admin.notifications.get().title == "Inbound: 咨询价格"


def test_round_robin_load_and_territory_assignment(admin, on_commit):
    reps = [UserFactory(), UserFactory()]
    rule(admin, actions=[{"type": "assign", "method": "round_robin", "users": [u.pk for u in reps]}])
    made = []
    for i in range(4):
        with on_commit():
            made.append(records.record_create(model=Customer, data={"name": f"轮转{i}"}, by=admin))
    owners = [Customer.objects.get(pk=c.pk).owner_id for c in made]
    assert owners == [reps[0].pk, reps[1].pk, reps[0].pk, reps[1].pk]
    Rule.objects.update(active=False)
    rule(admin, name="t", actions=[{"type": "assign", "method": "territory", "field": "city",
                                   "territories": {"上海": reps[1].pk, "*": reps[0].pk}}])  # fmt: skip
    with on_commit():
        sh = records.record_create(model=Customer, data={"name": "上海客户", "city": "上海"}, by=admin)
        gz = records.record_create(model=Customer, data={"name": "广州客户", "city": "广州"}, by=admin)
    assert Customer.objects.get(pk=sh.pk).owner_id == reps[1].pk
    assert Customer.objects.get(pk=gz.pk).owner_id == reps[0].pk
    Rule.objects.update(active=False)
    rule(admin, name="l", actions=[{"type": "assign", "method": "load", "users": [u.pk for u in reps]}])
    Customer.objects.filter(owner=reps[1]).update(owner=reps[0])  # reps[1] now has none
    with on_commit():
        c = records.record_create(model=Customer, data={"name": "负载"}, by=admin)
    assert Customer.objects.get(pk=c.pk).owner_id == reps[1].pk


def test_customer_email_obeys_consent(admin, on_commit, frozen_clock):
    r = rule(admin, actions=[{"type": "email", "to": ["customer"], "subject": "Hello {{ record.name }}",
                              "body": "Welcome", "kind": "care"}])  # fmt: skip
    with on_commit():
        records.record_create(model=Customer, data={"name": "无同意", "email": "no@example.com"}, by=admin)
    run = RuleRun.objects.get(rule=r)
    assert run.outcomes[0]["outcome"] == "skipped" and "consent" in run.outcomes[0]["detail"].lower()
    assert mail.outbox == []


def test_pages_create_switch_and_dry_run(admin, client, on_commit):
    client.force_login(admin)
    assert client.get(reverse("automation:rules")).status_code == 200
    response = client.post(
        reverse("automation:rule_create"),
        {
            "name": "Tag VIPs",
            "model": "customers.customer",
            "trigger": "created",
            "conditions": '{"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "上海"}]}',
            "actions": '[{"type": "add_tag", "tags": ["VIP"]}]',
        },  # fmt: skip
    )
    created = Rule.objects.get(name="Tag VIPs")
    assert response.status_code == 302 and not created.active
    bad = client.post(reverse("automation:rule_create"), {"name": "x", "model": "customers.customer",
                                                         "trigger": "created", "actions": "[{]"})  # fmt: skip
    assert bad.status_code == 200 and b"not valid JSON" in bad.content
    customer = records.record_create(model=Customer, data={"name": "上海客户", "city": "上海"}, by=admin)
    client.post(reverse("automation:rule_dry_run", args=[created.pk]), {"record": str(customer.pk)})
    page = client.get(reverse("automation:rule", args=[created.pk]))
    assert b"would add VIP" in page.content
    client.post(reverse("automation:rule_switch", args=[created.pk]), {"active": "1"})
    created.refresh_from_db()
    assert created.active and created.version == 2
    assert (
        client.post(reverse("automation:rule_dry_run", args=[created.pk]), {"record": "abc"}).status_code
        == 302
    )


def test_pages_refuse_users_without_the_grant(client):
    user = UserFactory()
    client.force_login(user)
    assert client.get(reverse("automation:rules")).status_code == 403


def test_api_create_validate_dry_run_and_runs(admin, api_for, on_commit):
    api = api_for(admin)
    bad = api.post("/api/automation-rules/", {"name": "x", "model": "customers.customer", "trigger": "created",
                                              "actions": [{"type": "webhook", "url": "nope"}]}, format="json")  # fmt: skip
    assert bad.status_code == 400 and "actions[0].url" in str(bad.json())
    made = api.post("/api/automation-rules/", {"name": "api", "model": "customers.customer", "trigger": "created",
                                               "actions": [{"type": "add_tag", "tags": ["api"]}], "active": True},
                    format="json")  # fmt: skip
    assert made.status_code == 201, made.json()
    with on_commit():
        customer = records.record_create(model=Customer, data={"name": "接口客户"}, by=admin)
    pk = made.json()["id"]
    runs = api.get(f"/api/automation-rules/{pk}/runs/").json()["results"]
    assert runs[0]["object_id"] == str(customer.pk) and runs[0]["status"] == "succeeded"
    dry = api.post(f"/api/automation-rules/{pk}/dry-run/", {"record": customer.pk}, format="json")
    assert dry.status_code == 200 and dry.json()["matches"] is True
    assert api.post(f"/api/automation-rules/{pk}/dry-run/", {"record": "x"}, format="json").status_code == 400
    assert (
        api.post(f"/api/automation-rules/{pk}/dry-run/", {"record": 10**12}, format="json").status_code == 404
    )


def test_a_hidden_description_is_neither_shown_nor_overwritten(admin, client):
    from kehu.core.models import FieldGrant, Scope
    from tests.factories import user_with

    r = rule(admin, description="机密说明 qqmarker", active=False)
    editor = user_with("automation.rule", ("view", "change"), Scope.ALL, Scope.ALL)
    FieldGrant.objects.create(
        role=editor.roles.get(), model="automation.rule", field="description", access="hidden"
    )
    client.force_login(editor)
    page = client.get(reverse("automation:rule_edit", args=[r.pk]))
    assert page.status_code == 200 and b"qqmarker" not in page.content
    assert b'name="description"' not in page.content
    response = client.post(
        reverse("automation:rule_edit", args=[r.pk]),
        {
            "name": "renamed",
            "model": "customers.customer",
            "trigger": "created",
            "version": r.version,
            "actions": '[{"type": "add_tag", "tags": ["auto"]}]',
        },  # fmt: skip
    )
    assert response.status_code == 302
    r.refresh_from_db()
    assert (r.name, r.description) == ("renamed", "机密说明 qqmarker")
    assert b"qqmarker" not in client.get(reverse("automation:rule", args=[r.pk])).content
