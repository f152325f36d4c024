"""Webhooks (issue #18 item 7, ADR 0022) against a real local HTTP receiver: SSRF guard with the
administrators' allowed hosts, signed and versioned payloads that honour the owner's field rights and record
scope, ordered delivery through a receiver outage, backoff, disable with an email, the delivery log and replay,
DNS rebinding refused at connect time, and the signature helper refusing replayed (old) signatures."""

from __future__ import annotations

import datetime as dt
import json
import socket

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from kehu.core import records
from kehu.core.models import FieldGrant, Scope
from kehu.customers.models import Customer
from kehu.integrations import delivery, sender, services, webhooks
from kehu.integrations.models import AllowedHost, Delivery, DeliveryStatus, Subscription
from tests.factories import UserFactory, user_with

from .receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh():
    cache.clear()
    webhooks.invalidate()
    yield
    webhooks.invalidate()


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def allow_local(admin_user):
    return services.allowed_host_add(host="127.0.0.1", note="test receiver", by=admin_user)


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def subscribe(owner, url, events, secret="s" * 24) -> Subscription:
    return services.subscription_create(data={"name": "hook", "url": url, "events": events, "secret": secret},
                                        by=owner)  # fmt: skip


def bodies(receiver) -> list[dict]:
    return [json.loads(body) for _h, body in receiver.received]


def test_private_loopback_and_link_local_targets_are_refused_unless_allowed(admin_user, receiver):
    api = api_as(admin_user)
    for url in (receiver.url, "http://10.0.0.5/h", "http://169.254.169.254/latest/meta-data/",
                "http://[::1]/h", "ftp://example.com/h", "http://user:pw@example.com/h"):  # fmt: skip
        r = api.post("/api/integrations/webhooks/", {"name": "x", "url": url, "events": ["customer.created"]},
                     format="json")  # fmt: skip
        assert r.status_code == 400 and "url" in r.json(), url
    bad_events = api.post("/api/integrations/webhooks/", {"name": "x", "url": receiver.url, "events": ["nope"]},
                          format="json")  # fmt: skip
    assert bad_events.status_code == 400 and set(bad_events.json()) == {"url", "events"}
    rep = user_with("customers.customer", ("view",))
    assert (
        api_as(rep).post("/api/integrations/allowed-hosts/", {"host": "127.0.0.1"}, format="json").status_code
        == 403
    )
    assert (
        api.post("/api/integrations/allowed-hosts/", {"host": "127.0.0.1"}, format="json").status_code == 201
    )
    r = api.post("/api/integrations/webhooks/", {"name": "x", "url": receiver.url, "events": ["customer.created"]},
                 format="json")  # fmt: skip
    assert r.status_code == 201 and r.json()["signing_secret"].startswith("whsec_")
    assert "secret" not in api.get(f"/api/integrations/webhooks/{r.json()['id']}/").json()
    assert not Subscription.objects.filter(url__contains="10.0.0.5").exists()


def test_payload_is_signed_versioned_and_carries_only_what_the_owner_may_see(
    allow_local, receiver, commit, frozen_clock
):
    owner = user_with("customers.customer", ("view", "add", "change"), Scope.OWN, Scope.OWN)
    FieldGrant.objects.create(
        role=owner.roles.get(), model="customers.customer", field="tax_id", access="hidden"
    )
    sub = subscribe(owner, receiver.url, ["customer.created", "customer.changed"])
    admin = UserFactory(is_superuser=True)
    with commit():
        visible = records.record_create(model=Customer, data={"name": "可见公司", "tax_id": "91310000SECRET",
                                                              "city": "上海", "owner": owner}, by=admin)  # fmt: skip
        records.record_create(model=Customer, data={"name": "别人的公司", "owner": admin}, by=admin)
    assert len(receiver.received) == 1  # the other record is outside the owner's scope: no event at all
    headers, body = receiver.received[0]
    assert sender.verify(sub.secret, headers["Kehu-Signature"], body)
    assert not sender.verify("x" * 24, headers["Kehu-Signature"], body)
    assert not sender.verify(sub.secret, headers["Kehu-Signature"], body + b" ")
    payload = json.loads(body)
    assert payload["type"] == "customer.created" and payload["api_version"] == webhooks.PAYLOAD_VERSION
    assert (
        payload["data"]["object"]["id"] == visible.pk
        and payload["data"]["object"]["fields"]["city"] == "上海"
    )
    assert "tax_id" not in payload["data"]["object"]["fields"] and b"secret" not in body.lower()
    assert "search_restricted" not in payload["data"]["object"]["fields"]  # derived bags carry hidden values
    assert headers["Kehu-Event"] == "customer.created" and headers["Kehu-Event-Id"] == payload["id"]
    with commit():
        records.record_update(instance=visible, data={"tax_id": "91310000OTHER", "city": "杭州"}, by=admin,
                              expected_version=None)  # fmt: skip
    changed = bodies(receiver)[1]
    assert changed["type"] == "customer.changed" and changed["data"]["changed_fields"] == ["city"]
    assert b"OTHER" not in receiver.received[1][1]
    # a captured request replayed later is refused by the documented helper
    frozen_clock.shift(dt.timedelta(seconds=sender.TOLERANCE + 1))
    assert not sender.verify(sub.secret, headers["Kehu-Signature"], body)


def test_receiver_down_for_an_hour_loses_nothing_and_gets_each_object_in_order(
    admin_user, allow_local, receiver, commit, frozen_clock
):
    subscribe(admin_user, receiver.url, ["customer.created", "customer.changed"])
    port = receiver.port
    receiver.stop()  # down: connection refused
    with commit():
        a = records.record_create(model=Customer, data={"name": "甲公司"}, by=admin_user)
        b = records.record_create(model=Customer, data={"name": "乙公司"}, by=admin_user)
    for i in range(3):
        with commit():
            a = records.record_update(
                instance=a, data={"city": f"城市{i}"}, by=admin_user, expected_version=None
            )
    with commit():
        records.record_update(instance=b, data={"city": "北京"}, by=admin_user, expected_version=None)
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 6
    assert Delivery.objects.filter(attempts__gt=0).count() >= 1
    for _minute in range(0, 60, 5):  # an hour of retries into a dead receiver
        frozen_clock.shift(dt.timedelta(minutes=5))
        delivery.dispatch()
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 0
    assert Subscription.objects.get().active  # an hour is not enough to be disabled
    receiver.port = port
    receiver.start()
    frozen_clock.shift(delivery.CAP + dt.timedelta(minutes=1))
    delivery.dispatch()
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 6
    per_object: dict = {}
    for payload in bodies(receiver):
        per_object.setdefault(payload["data"]["object"]["id"], []).append(payload)
    assert [p["type"] for p in per_object[a.pk]] == ["customer.created"] + ["customer.changed"] * 3
    assert [p["data"]["object"]["fields"]["city"] for p in per_object[a.pk][1:]] == ["城市0", "城市1", "城市2"] or \
        [p["data"]["object"]["fields"]["city"] for p in per_object[a.pk][1:]] == ["城市2"] * 3  # fmt: skip
    ids = [p["id"] for p in per_object[a.pk]]
    assert ids == [
        str(d.event_id)
        for d in Delivery.objects.filter(object_key=f"customers.customer:{a.pk}").order_by("id")
    ]
    assert [p["type"] for p in per_object[b.pk]] == ["customer.created", "customer.changed"]


def test_backoff_grows_with_jitter_and_stays_capped():
    import random

    rng = random.Random(7)
    waits = [delivery.backoff(n, rng) for n in range(1, 16)]
    assert delivery.BASE / 2 <= waits[0] <= delivery.BASE
    assert waits[4] > waits[1] and all(w <= delivery.CAP for w in waits)
    assert len(set(waits[-5:])) > 1  # jitter


def test_repeated_failures_disable_the_subscription_and_email_the_owner(
    allow_local, receiver, commit, frozen_clock
):
    owner = UserFactory(is_superuser=True, email="owner@example.com")
    sub = subscribe(owner, receiver.url, ["customer.created"])
    receiver.status = 500
    with commit():
        records.record_create(model=Customer, data={"name": "失败公司"}, by=owner)
    for _i in range(delivery.DISABLE_AFTER + 2):
        frozen_clock.shift(delivery.CAP + dt.timedelta(minutes=1))
        delivery.dispatch()
    sub.refresh_from_db()
    assert not sub.active and sub.failures == delivery.DISABLE_AFTER and "500" in sub.disabled_reason
    assert len(receiver.received) == delivery.DISABLE_AFTER
    assert [m.to for m in mail.outbox] == [["owner@example.com"]] and sub.name in mail.outbox[0].subject
    pending = Delivery.objects.get()
    assert pending.status == DeliveryStatus.PENDING and pending.attempt_log.count() == delivery.DISABLE_AFTER
    assert {a.response_code for a in pending.attempt_log.all()} == {500}
    receiver.status = 200
    with commit():
        r = api_as(owner).post(f"/api/integrations/webhooks/{sub.pk}/enable/")
    assert r.status_code == 200 and r.json()["active"] is True
    pending.refresh_from_db()
    assert pending.status == DeliveryStatus.DELIVERED and pending.response_code == 200


def test_delivery_log_and_replay(admin_user, allow_local, receiver, commit, client):
    sub = subscribe(admin_user, receiver.url, ["customer.created"])
    with commit():
        records.record_create(model=Customer, data={"name": "重放公司"}, by=admin_user)
    log = api_as(admin_user).get(f"/api/integrations/webhooks/{sub.pk}/deliveries/").json()["results"]
    assert log[0]["status"] == "delivered" and log[0]["attempt_log"][0]["response_code"] == 200
    with commit():
        r = api_as(admin_user).post(f"/api/integrations/deliveries/{log[0]['id']}/replay/")
    assert r.status_code == 201
    assert [p["id"] for p in bodies(receiver)] == [log[0]["event_id"]] * 2  # same event id: receivers dedupe
    other = UserFactory()
    assert api_as(other).post(f"/api/integrations/deliveries/{log[0]['id']}/replay/").status_code == 404
    client.force_login(admin_user)
    page = client.get(f"/integrations/webhooks/{sub.pk}/").content.decode()
    assert "customer.created" in page and "200" in page


def test_dns_rebinding_is_checked_at_connect_time(admin_user, receiver, commit, monkeypatch):
    answers = {"hooks.example.test": "93.184.216.34"}
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(sender.socket, "getaddrinfo", fake)
    url = f"http://hooks.example.test:{receiver.port}/hooks"
    sub = subscribe(admin_user, url, ["customer.created"])  # public when saved
    answers["hooks.example.test"] = "127.0.0.1"  # the name now points inside
    with commit():
        records.record_create(model=Customer, data={"name": "重绑定"}, by=admin_user)
    assert receiver.received == []
    attempt = Delivery.objects.get(subscription=sub).attempt_log.get()
    assert attempt.response_code is None and "loopback" in attempt.error
    # allowed explicitly by name: the connection goes to the address checked, the Host header keeps the name
    services.allowed_host_add(host="hooks.example.test", by=admin_user)
    delivery.enable(sub)
    delivery.dispatch()
    assert receiver.received[0][0]["Host"] == f"hooks.example.test:{receiver.port}"


def test_contact_and_deleted_events(admin_user, allow_local, receiver, commit):
    subscribe(
        admin_user,
        receiver.url,
        ["contact.created", "contact.deleted", "customer.deleted", "customer.created"],
    )
    with commit():
        account = records.record_create(model=Customer, data={"name": "总公司"}, by=admin_user)
        contact = records.record_create(model=Customer, data={"name": "李雷", "kind": "person", "account": account},
                                        by=admin_user)  # fmt: skip
    with commit():
        records.record_delete(instance=contact, by=admin_user)
    with commit():
        records.record_delete(instance=Customer.objects.get(pk=account.pk), by=admin_user)
    types = [p["type"] for p in bodies(receiver)]
    assert types == ["customer.created", "contact.created", "contact.deleted", "customer.deleted"]
    assert bodies(receiver)[3]["data"] == {"object": {"type": "customer", "id": account.pk}}


def test_a_deletion_outside_the_owner_sight_is_not_sent(allow_local, receiver, commit):
    owner = user_with("customers.customer", ("view",), Scope.OWN, Scope.NONE)
    subscribe(owner, receiver.url, ["customer.deleted"])
    admin = UserFactory(is_superuser=True)
    with commit():
        c = records.record_create(model=Customer, data={"name": "看不见"}, by=admin)
    with commit():
        records.record_delete(instance=c, by=admin)
    assert receiver.received == []


def test_automation_webhooks_go_through_the_same_guarded_sender(receiver, admin_user):
    assert sender.post(receiver.url, b"{}", secret="s" * 20).error.startswith("127.0.0.1 resolves")
    AllowedHost.objects.create(host="127.0.0.1")
    result = sender.post(receiver.url, b"{}", secret="s" * 20)
    assert result.ok and sender.verify("s" * 20, receiver.received[0][0]["Kehu-Signature"], b"{}")


def test_the_page_subscribes_and_names_a_refused_url(admin_user, client, receiver):
    client.force_login(admin_user)
    refused = client.post("/integrations/webhooks/", {"name": "内网", "url": "http://192.168.1.5/h",
                                                      "events": ["order.created"]})  # fmt: skip
    assert refused.status_code == 200 and "administrator must allow" in refused.content.decode()
    assert not Subscription.objects.exists()
    client.post("/integrations/allowed-hosts/", {"host": "127.0.0.1", "note": "测试"})
    page = client.post("/integrations/webhooks/", {"name": "ERP", "url": receiver.url,
                                                   "events": ["order.created", "ticket.status_changed"]}, follow=True)  # fmt: skip
    sub = Subscription.objects.get()
    html = page.content.decode()
    assert 'data-testid="new-secret"' in html and sub.secret in html
    assert sub.secret not in client.get(f"/integrations/webhooks/{sub.pk}/").content.decode()  # shown once
    rep = user_with("customers.customer", ("view",))
    client.force_login(rep)
    assert client.get(f"/integrations/webhooks/{sub.pk}/").status_code == 404  # another user's subscription
    assert client.get("/integrations/allowed-hosts/").status_code == 403


def test_message_sent(admin_user, allow_local, receiver, commit):
    from kehu.interactions.services import interaction_log

    subscribe(admin_user, receiver.url, ["message.sent"])
    with commit():
        customer = records.record_create(model=Customer, data={"name": "消息公司"}, by=admin_user)
    with commit():
        interaction_log(customer=customer, data={"channel": "email", "direction": "out", "subject": "报价",
                                                 "occurred_at": timezone.now()}, by=admin_user)  # fmt: skip
        interaction_log(customer=customer, data={"channel": "email", "direction": "in", "subject": "回复",
                                                 "occurred_at": timezone.now()}, by=admin_user)  # fmt: skip
    sent = bodies(receiver)
    assert [p["type"] for p in sent] == ["message.sent"]
    assert (
        sent[0]["data"]["object"]["type"] == "message"
        and sent[0]["data"]["object"]["fields"]["subject"] == "报价"
    )
