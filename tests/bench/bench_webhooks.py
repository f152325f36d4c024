"""Webhook dispatch throughput (issue #18: ≥ 200 deliveries/s to a local receiver). On PostgreSQL:

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/kehu_integ18_bench \\
      flock /work/bench.lock nice -n 10 make bench BENCH_ARGS="-k webhooks"
    BENCH_WEBHOOK_DELIVERIES=3000 (default)

1. Queue drain: BENCH_WEBHOOK_DELIVERIES pending deliveries of distinct customers (one subscription, the real
   threaded HTTP receiver of the tests on 127.0.0.1, allowed explicitly) sent by `delivery.dispatch()`: claims
   of 500 with their lease, signing, the POST over a kept-alive connection, the attempt log and the status
   update in bulk.
2. Ordered: 300 objects × 10 events each — every round sends one event per object (order per object).
3. End to end: one write batch of 1,000 customers (audit.log_many → the hook → fan-out with the owner's scope
   and field rights → deliveries → dispatch).
Figures are printed (and appended to var/bench.log), never asserted.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from django.db import connection

from tests.integrations.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)

DELIVERIES = int(os.environ.get("BENCH_WEBHOOK_DELIVERIES", "3000"))


def _line(text: str) -> None:
    load = os.getloadavg()
    line = f"BENCH {text} (load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {connection.vendor})"
    print(line)
    with open(os.environ.get("BENCH_LOG", "var/bench.log"), "a", encoding="utf-8") as log:
        log.write(line + "\n")


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def subscription(receiver):
    from kehu.integrations import webhooks
    from kehu.integrations.models import AllowedHost, Subscription
    from tests.factories import UserFactory

    AllowedHost.objects.get_or_create(host="127.0.0.1")
    owner = UserFactory(is_superuser=True)
    sub = Subscription.objects.create(owner=owner, name="bench", url=receiver.url, secret="s" * 32,
                                      events=["customer.created", "customer.changed"])  # fmt: skip
    webhooks.invalidate()
    return sub


def _queue(sub, objects: int, per_object: int) -> None:
    from kehu.integrations.models import Delivery

    rows = []
    for e in range(per_object):
        for o in range(objects):
            body = {"type": "customer.changed", "data": {"object": {"type": "customer", "id": o, "seq": e,
                    "fields": {"name": f"客户{o}", "city": "上海"}}}}  # fmt: skip
            rows.append(Delivery(subscription=sub, event="customer.changed", object_key=f"customers.customer:{o}",
                                 body=json.dumps(body, ensure_ascii=False)))  # fmt: skip
    Delivery.objects.bulk_create(rows, batch_size=1000)


def test_webhook_dispatch_throughput(subscription, receiver):
    from kehu.integrations import delivery
    from kehu.integrations.models import Delivery, DeliveryStatus

    _queue(subscription, DELIVERIES, 1)
    t0 = time.perf_counter()
    sent = delivery.dispatch()
    seconds = time.perf_counter() - t0
    assert sent == DELIVERIES == len(receiver.received)
    assert not Delivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists()
    _line(f"webhooks queue drain: {sent} deliveries in {seconds:.2f} s = {sent / seconds:.0f}/s")


def test_webhook_dispatch_ordered_per_object(subscription, receiver):
    from kehu.integrations import delivery

    objects, per_object = 300, 10
    _queue(subscription, objects, per_object)
    t0 = time.perf_counter()
    sent = delivery.dispatch()
    seconds = time.perf_counter() - t0
    assert sent == objects * per_object
    seqs: dict = {}
    for _h, body in receiver.received:
        obj = json.loads(body)["data"]["object"]
        seqs.setdefault(obj["id"], []).append(obj["seq"])
    assert all(v == list(range(per_object)) for v in seqs.values())
    _line(f"webhooks ordered ({objects} objects x {per_object} events): {sent} in {seconds:.2f} s = "
          f"{sent / seconds:.0f}/s")  # fmt: skip


def test_webhook_end_to_end_from_a_write_batch(subscription, receiver):
    from kehu.core import audit
    from kehu.customers.models import Customer
    from kehu.integrations import webhooks

    owner = subscription.owner
    n = 1000
    customers = Customer.objects.bulk_create([Customer(name=f"批量客户{i}", owner=owner) for i in range(n)])
    t0 = time.perf_counter()
    audit.log_many(actor=owner, action="create", model="customers.customer",
                   rows=[(c.pk, c.name, {"name": [None, c.name]}) for c in customers])  # fmt: skip
    # autocommit: the hook's on-commit work (the fan-out task, immediate here) ran inside log_many
    seconds = time.perf_counter() - t0
    assert len(receiver.received) == n, webhooks.index()
    _line(
        f"webhooks end to end (write batch of {n} → fan-out → dispatch): {seconds:.2f} s = {n / seconds:.0f}/s"
    )
