"""Workflow rules (ADR 0019): triggers from record writes, conditions, actions with the owner's rights, the
run log, loops, failures and retries, dry runs, time triggers, and no leak through notifications or webhooks."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from kehu.automation import engine, schedule, services, triggers
from kehu.automation.models import Rule, RuleRun, RunStatus, Trigger
from kehu.core import records
from kehu.core.models import FieldGrant, Notification, Scope
from kehu.customers.models import Customer
from kehu.customers.services import customer_update
from kehu.integrations import sender
from kehu.integrations.models import AllowedHost
from tests.factories import UserFactory, grant, user_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    return UserFactory(username="rules-admin", is_superuser=True, is_staff=True)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run the on-commit callbacks (the enqueued rule tasks, immediate in tests) at the end of the block."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def make_rule(admin, **data) -> Rule:
    base = {"name": "r", "model": "customers.customer", "trigger": Trigger.CREATED, "trigger_config": {},
            "conditions": {}, "actions": [{"type": "add_tag", "tags": ["auto"]}], "active": True}  # fmt: skip
    base.update(data)
    if "owner" in base and not base["owner"].is_superuser:
        admin = UserFactory(is_superuser=True)  # an administrator sets the rule up for its owner
    return services.rule_create(data=base, by=admin)


def create_customer(by, on_commit, **fields) -> Customer:
    with on_commit():
        return records.record_create(model=Customer, data={"name": "上海测试有限公司", **fields}, by=by)


class Hook(BaseHTTPRequestHandler):
    status = 200
    received: list = []

    def do_POST(self):  # noqa: N802 - the http.server interface
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server():
    """A real local HTTP server (no mock): records what it receives and answers with Hook.status."""
    Hook.received, Hook.status = [], 200
    # webhooks reach a loopback address only when an administrator allowed it (SSRF guard, ADR 0022)
    AllowedHost.objects.get_or_create(host="127.0.0.1")
    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_created_trigger_runs_actions_and_logs_the_run(admin, on_commit):
    rule = make_rule(admin, conditions={"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "上海"}]},
                     actions=[{"type": "add_tag", "tags": ["上海客户"]},
                              {"type": "notify", "to": ["record_owner"], "title": "New: {{ record.name }}"}])  # fmt: skip
    shanghai = create_customer(admin, on_commit, city="上海")
    beijing = create_customer(admin, on_commit, name="北京测试有限公司", city="北京")
    assert [t.name for t in shanghai.tags.all()] == ["上海客户"]
    assert not beijing.tags.exists()
    run = RuleRun.objects.get(rule=rule)
    assert (run.object_id, run.status, run.trigger) == (
        str(shanghai.pk),
        RunStatus.SUCCEEDED,
        Trigger.CREATED,
    )
    assert [o["outcome"] for o in run.outcomes] == ["done", "done"]
    assert Notification.objects.get(user=admin).title == "New: 上海测试有限公司"


def test_inactive_rule_and_no_rule_enqueue_nothing(admin, on_commit, monkeypatch):
    make_rule(admin, active=False)
    calls = []
    monkeypatch.setattr(triggers, "_enqueue", lambda payload: calls.append(payload))
    create_customer(admin, on_commit)
    assert calls == []
    assert RuleRun.objects.count() == 0


def test_field_changed_from_to(admin, on_commit):
    rule = make_rule(admin, trigger=Trigger.FIELD_CHANGED,
                     trigger_config={"field": "lifecycle_stage", "from": "prospect", "to": "customer"})  # fmt: skip
    customer = create_customer(admin, on_commit, lifecycle_stage="loyal")
    with on_commit():
        customer_update(
            customer=customer, data={"lifecycle_stage": "customer"}, by=admin, expected_version=None
        )
    assert not RuleRun.objects.filter(rule=rule).exists()
    customer.refresh_from_db()
    with on_commit():
        customer_update(
            customer=customer, data={"lifecycle_stage": "prospect"}, by=admin, expected_version=None
        )
        customer.refresh_from_db()
        customer_update(
            customer=customer, data={"lifecycle_stage": "customer"}, by=admin, expected_version=None
        )
    assert RuleRun.objects.filter(rule=rule, status=RunStatus.SUCCEEDED).count() == 1


def test_a_rule_retriggering_itself_stops_at_the_depth_limit(admin, on_commit, settings, caplog):
    settings.KEHU_AUTOMATION_MAX_DEPTH = 3
    rule = make_rule(admin, trigger=Trigger.FIELD_CHANGED, trigger_config={"field": "city"},
                     actions=[{"type": "update_fields", "values": {"city": "{{ record.city }}+"}}])  # fmt: skip
    customer = create_customer(admin, on_commit, city="上海")
    with on_commit():
        customer_update(customer=customer, data={"city": "杭州"}, by=admin, expected_version=None)
    customer.refresh_from_db()
    assert customer.city == "杭州+++"  # three levels ran, the fourth was stopped
    loop = RuleRun.objects.get(rule=rule, status=RunStatus.LOOP)
    assert loop.depth == 3 and "levels deep" in loop.error
    assert "stopped at depth 3" in caplog.text


def test_a_failing_action_keeps_the_change_is_retried_then_reported(admin, on_commit, hook_server):
    Hook.status = 500
    url = f"http://127.0.0.1:{hook_server.server_port}/hook"
    rule = make_rule(admin, actions=[{"type": "add_tag", "tags": ["seen"]},
                                     {"type": "webhook", "url": url, "secret": "s" * 20}])  # fmt: skip
    customer = create_customer(admin, on_commit, city="上海")
    assert Customer.objects.filter(pk=customer.pk, city="上海").exists()  # the triggering change is kept
    run = RuleRun.objects.get(rule=rule)
    assert run.status == RunStatus.FAILED and run.attempts == engine.MAX_ATTEMPTS
    assert len(Hook.received) == engine.MAX_ATTEMPTS  # retried (immediately in tests: no deferred runs)
    assert "500" in run.error
    assert [o["outcome"] for o in run.outcomes] == ["done", "failed"]
    assert customer.tags.filter(name="seen").count() == 1  # the action that worked ran once
    assert Notification.objects.filter(user=admin, title__contains="failed").exists()  # reported


def test_webhook_is_signed_and_carries_only_fields_the_owner_may_see(on_commit, hook_server):
    owner = user_with("customers.customer", ("view", "add", "change"), Scope.ALL, Scope.ALL)
    FieldGrant.objects.create(
        role=owner.roles.get(), model="customers.customer", field="tax_id", access="hidden"
    )
    secret = "k" * 24
    url = f"http://127.0.0.1:{hook_server.server_port}/hook"
    make_rule(owner, owner=owner, actions=[{"type": "webhook", "url": url, "secret": secret}])
    admin = UserFactory(is_superuser=True)
    customer = create_customer(admin, on_commit, tax_id="91310000SECRET", city="上海")
    headers, body = Hook.received[0]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Kehu-Signature"] == expected
    assert sender.verify(secret, headers["Kehu-Signature"], body)  # the one sender's timestamped signature
    payload = json.loads(body)
    assert payload["record"]["id"] == customer.pk and payload["record"]["fields"]["city"] == "上海"
    assert "tax_id" not in payload["record"]["fields"] and b"SECRET" not in body
    assert b"secret" not in body.lower()  # nor in a derived column (the search bag tags the tax id's tokens)


def test_rules_act_in_the_owner_scope_and_never_leak_through_notifications(on_commit):
    owner = user_with("customers.customer", ("view", "add", "change"), Scope.OWN, Scope.OWN)
    other = user_with("customers.customer", ("view",), Scope.OWN, Scope.NONE)
    grant_hidden = owner.roles.get()
    FieldGrant.objects.create(role=grant_hidden, model="customers.customer", field="tax_id", access="hidden")
    rule = make_rule(owner, owner=owner, actions=[
        {"type": "notify", "to": ["rule_owner", other.pk], "title": "{{ record.name }} {{ record.tax_id }}"}])  # fmt: skip
    admin = UserFactory(is_superuser=True)
    outside = create_customer(admin, on_commit, name="外部客户", tax_id="SECRET-1")  # owned by admin
    assert not RuleRun.objects.filter(rule=rule).exists()  # outside the owner's scope: no run
    mine = create_customer(admin, on_commit, name="我的客户", tax_id="SECRET-2", owner=owner)
    run = RuleRun.objects.get(rule=rule)
    assert run.object_id == str(mine.pk)
    assert "1 left out" in run.outcomes[0]["detail"]  # `other` may not see the record
    assert not Notification.objects.filter(user=other).exists()
    note = Notification.objects.get(user=owner)
    assert note.title.strip() == "我的客户" and "SECRET" not in note.title  # hidden field never rendered
    assert outside.pk != mine.pk


def test_dry_run_shows_what_would_happen_without_writing(admin, on_commit):
    rule = make_rule(admin, active=False, actions=[{"type": "add_tag", "tags": ["x"]},
                                                   {"type": "assign", "method": "round_robin", "users": [admin.pk]}])  # fmt: skip
    customer = create_customer(admin, on_commit)
    result = engine.dry_run(rule, customer, by=admin)
    assert result["matches"] is True
    assert [a["outcome"] for a in result["actions"]] == ["would", "would"]
    assert "would assign" in result["actions"][1]["detail"]
    assert not customer.tags.exists()
    assert RuleRun.objects.get(rule=rule).status == RunStatus.DRY_RUN


def test_versions_and_switch(admin):
    rule = make_rule(admin, active=False)
    rule = services.rule_switch(rule=rule, active=True, by=admin)
    rule = services.rule_update(rule=rule, data={"name": "renamed"}, by=admin, expected_version=rule.version)
    assert list(rule.versions.values_list("number", flat=True)) == [3, 2, 1]
    assert rule.versions.get(number=1).snapshot["active"] is False
    assert rule.versions.get(number=3).snapshot["name"] == "renamed"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"actions": []}, "at least one action"),
        ({"actions": [{"type": "nope"}]}, "actions[0].type"),
        ({"actions": [{"type": "webhook", "url": "ftp://x", "secret": "short"}]}, "actions[0].url"),
        (
            {"conditions": {"match": "all", "conditions": [{"field": "nope", "op": "eq", "value": 1}]}},
            "Unknown field",
        ),
        ({"trigger": Trigger.SCHEDULE, "trigger_config": {"cron": "61 * * * *"}}, "out of range"),
        ({"actions": [{"type": "assign", "method": "load", "users": [10**30]}]}, "actions[0].users"),
        ({"actions": [{"type": "notify", "to": [True], "title": "t"}]}, "actions[0].to"),
        ({"trigger": Trigger.NO_ACTIVITY, "trigger_config": {"days": 10**9}}, "days without activity"),
        ({"trigger": Trigger.DATE_REACHED, "trigger_config": {"field": {"x": 1}}}, "date field"),
        ({"trigger": Trigger.DATE_REACHED, "trigger_config": {"field": "name"}}, "date field"),
        (
            {
                "actions": [
                    {"type": "email", "to": ["customer"], "subject": "s", "body": "b", "kind": "marketing"}
                ]
            },
            "campaigns",
        ),
    ],
)
def test_bad_rules_are_refused_with_their_path(admin, data, message):
    with pytest.raises(ValidationError) as info:
        make_rule(admin, **data)
    assert message in " ".join(info.value.messages)


def test_date_reached_fires_once_three_days_before(admin, on_commit):
    from kehu.products.models import InstalledProduct, Product

    grant  # noqa: B018 - imported for other tests' set-ups
    customer = create_customer(admin, on_commit)
    product = Product.objects.create(name="净水器", sku="WP-1")
    today = timezone.localdate()
    unit = InstalledProduct.objects.create(customer=customer, product=product, serial_number="S1",
                                           warranty_end=today + dt.timedelta(days=3))  # fmt: skip
    rule = make_rule(admin, model="products.installedproduct", trigger=Trigger.DATE_REACHED,
                     trigger_config={"field": "warranty_end", "days_before": 3},
                     actions=[{"type": "create_task", "title": "Warranty ends: {{ record.serial_number }}",
                               "assign_to": "rule_owner", "due_days": 1}])  # fmt: skip
    with on_commit():
        assert schedule.scan() == 1
    with on_commit():
        assert schedule.scan() == 0  # fires once
    run = RuleRun.objects.get(rule=rule)
    assert run.object_id == str(unit.pk) and run.status == RunStatus.SUCCEEDED
    from kehu.interactions.models import Task

    assert Task.objects.get(customer=customer).title == "Warranty ends: S1"


def test_cron_parser():
    fields = schedule.parse_cron("0 9 * * 1-5")
    monday_nine = dt.datetime(2026, 11, 30, 9, 0)
    assert schedule.cron_matches(fields, monday_nine)
    assert not schedule.cron_matches(fields, monday_nine + dt.timedelta(days=5))  # Saturday
    for bad in ("", "* * * *", "*/0 * * * *", "a * * * *"):
        with pytest.raises(ValueError):
            schedule.parse_cron(bad)


def test_start_approval_starts_one_on_the_approval_engine(admin, on_commit):
    from kehu.approvals.models import ApprovalRequest

    rule = make_rule(admin, actions=[{"type": "start_approval", "note": "新客户审批"}])
    customer = create_customer(admin, on_commit)
    run = RuleRun.objects.get(rule=rule)
    assert run.outcomes[0]["outcome"] == "done", run.outcomes
    request = ApprovalRequest.objects.get(model="customers.customer", object_id=str(customer.pk))
    assert request.status == "pending"
