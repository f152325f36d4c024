"""The send path under concurrency and crashes, on PostgreSQL: four workers sending overlapping campaigns keep
the one-per-day cap; a worker killed with SIGKILL mid-send and a fresh one started afterwards send every
message exactly once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from kehu.interactions.models import Interaction
from kehu.marketing.models import ContactLedger, Message, MessageStatus
from kehu.marketing.services import campaigns as services
from kehu.marketing.services import sending

from .campaigning import campaign, customer, launch, static_segment, to_next_slot

pytestmark = pytest.mark.django_db(transaction=True)
WORKER = Path(__file__).with_name("send_worker.py")


@pytest.fixture(autouse=True)
def _postgres_and_no_task_queue(settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent row locks and separate worker processes")
    # launching enqueues a tick: queue it nowhere, the threads and processes below are the workers
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


def recipients(sink, org) -> Counter:
    """Who received campaign mail: the staff's approval notices (the campaign's four-eyes approval runs on the
    approval engine, which emails the approver and the requester, ADR 0018) are not campaign messages."""
    staff = {org.marketer.email, org.exec.email}
    return Counter(to for tos, _raw in sink.messages for to in tos if to not in staff)


def test_four_workers_sending_overlapping_campaigns_keep_one_message_per_customer_per_day(
    org, mail_sink, frozen_clock
):
    to_next_slot(frozen_clock)
    people = [customer(f"并发客户{i:02d}", org.rep1, email=f"c{i:02d}@example.com") for i in range(24)]
    for n in range(4):  # four campaigns, each over an overlapping two thirds of the customers
        members = [p for i, p in enumerate(people) if (i + n) % 3]
        launch(
            campaign(org.marketer, static_segment(org.marketer, members, f"s{n}"), name=f"活动{n}"),
            org.marketer,
            org.exec,
        )
    services.journeys_advance()
    total = Message.objects.count()
    assert total == 4 * 16
    errors: list[BaseException] = []

    def work():
        try:
            for _i in range(200):
                if not sending.dispatch_batch(limit=3).claimed:
                    return
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    got = recipients(mail_sink, org)
    assert set(got) == {p.email for p in people} and set(got.values()) == {1}  # everyone once, nobody twice
    assert ContactLedger.objects.count() == len(people)
    statuses = Counter(Message.objects.values_list("status", flat=True))
    assert statuses == {MessageStatus.SENT: len(people), MessageStatus.HELD: total - len(people)}
    assert set(Message.objects.filter(status=MessageStatus.HELD).values_list("rule", flat=True)) == {
        "daily_cap"
    }


def _worker(env: dict, now: dt.datetime) -> subprocess.Popen:
    url = "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**connection.settings_dict)
    return subprocess.Popen(
        [sys.executable, str(WORKER)],
        env={**os.environ, **env, "DATABASE_URL": url, "KEHU_WORKER_NOW": now.isoformat()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_worker_killed_mid_send_and_a_fresh_one_send_everyone_exactly_once(org, mail_sink, frozen_clock):
    slot = to_next_slot(frozen_clock)
    people = [customer(f"续发客户{i:02d}", org.rep1, email=f"k{i:02d}@example.com") for i in range(30)]
    launch(campaign(org.marketer, static_segment(org.marketer, people, "k")), org.marketer, org.exec)
    services.journeys_advance()
    port = {"KEHU_WORKER_SMTP_PORT": str(mail_sink_port(mail_sink))}
    first = _worker(
        {**port, "KEHU_WORKER_PAUSE": "0.25", "KEHU_WORKER_LIMIT": "10", "KEHU_WORKER_LEASE": "30"}, slot
    )
    deadline = time.monotonic() + 180
    while len(mail_sink.messages) < 13 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.01)
    time.sleep(0.05)  # inside the pause before the next message: this one is marked sent
    os.kill(first.pid, signal.SIGKILL)
    first.wait(30)
    assert first.returncode == -signal.SIGKILL
    arrived = len(mail_sink.messages)
    assert 13 <= arrived < 30
    stuck = Message.objects.filter(status=MessageStatus.SENDING).count()
    assert stuck > 0  # the dead worker's claimed batch
    # a fresh worker after the dead one's lease ran out
    second = _worker({**port, "KEHU_WORKER_LIMIT": "10"}, slot + dt.timedelta(seconds=60))
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    got = recipients(mail_sink, org)
    assert set(got) == {p.email for p in people} and set(got.values()) == {1}
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 30
    assert ContactLedger.objects.count() == 30
    assert Interaction.objects.filter(related_model="marketing.message").count() == 30
    assert timezone.now() >= slot


def mail_sink_port(sink) -> int:
    from django.conf import settings

    return settings.EMAIL_PORT
