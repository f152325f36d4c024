"""Campaign email benchmark (issue #9 item 3/4): messages per second through the whole send path — claim,
every contact rule under the per-customer locks (consent, do-not-contact, daily cap, spacing, window, quiet
hours), personalisation, tracked links and pixel, RFC 8058 headers, real SMTP to a local aiosmtpd sink, the
"sent" mark and the timeline entry — and the rule check alone, reported separately.

    BENCH_CAMPAIGN_MESSAGES=5000 DATABASE_URL=postgres://postgres@127.0.0.1:55432/kehu_campaigns_bench \\
    nice -n 10 make bench BENCH_ARGS="-k campaigns"

Target: ≥ 500 messages/s on 2 cores. Figures are printed and appended to var/bench.log; nothing asserts
wall-clock times (docs/benchmarks.md records the runs)."""

from __future__ import annotations

import os
import socket
import time

import pytest
from django.utils import timezone

from kehu.marketing import contact_rules as cr
from kehu.marketing.services import sending

pytestmark = pytest.mark.django_db

N = int(os.environ.get("BENCH_CAMPAIGN_MESSAGES", "2000"))
BATCH = int(os.environ.get("BENCH_CAMPAIGN_BATCH", "500"))


def test_campaign_email_throughput(settings, frozen_clock):
    from aiosmtpd.controller import Controller

    from kehu.customers.models import Customer
    from kehu.marketing.models import Enrolment, Message
    from kehu.marketing.services import campaigns as services
    from tests.factories import UserFactory
    from tests.marketing.campaigning import GRANTED, campaign, launch, static_segment
    from tests.sales.conftest import demo_role

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
            Sink.count += 1
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    frozen_clock.move_to(cr.next_slot(timezone.now(), cr.zone(None), "marketing", cr.config()), tick=True)
    marketer, approver = UserFactory(username="bench-mkt"), UserFactory(username="bench-exec")
    marketer.roles.add(demo_role("marketer"))
    approver.roles.add(demo_role("executive"))
    people = Customer.objects.bulk_create(
        [
            Customer(
                name=f"基准客户{i}", email=f"b{i}@example.com", city="上海", consent=GRANTED, owner=marketer
            )
            for i in range(N)
        ],
        batch_size=2000,
    )
    made = launch(campaign(marketer, static_segment(marketer, people)), marketer, approver)
    services.journeys_advance()
    assert (
        Message.objects.filter(campaign=made).count() == N == Enrolment.objects.filter(campaign=made).count()
    )
    ids = list(Message.objects.filter(campaign=made).values_list("id", flat=True))
    # the rule check alone, over the whole audience in batches (then put back for the real run)
    worker = "bench-rules"
    t0 = time.perf_counter()
    for _start in range(0, N, BATCH):
        chunk = sending.messages_claim(worker=worker, limit=BATCH)
        sending._check_and_reserve(chunk, worker, timezone.now(), sending.Outcome())
    rules_s = time.perf_counter() - t0
    from kehu.marketing.models import ContactLedger

    ContactLedger.objects.filter(message_id__in=ids).delete()
    Message.objects.filter(pk__in=ids).update(status="queued", claimed_by="", lease_until=None)
    t0 = time.perf_counter()
    out = sending.dispatch(limit=BATCH)
    total_s = time.perf_counter() - t0
    controller.stop()
    assert out.sent == N == Sink.count
    line = (
        f"BENCH campaigns: {N} emails in {total_s:.2f} s = {N / total_s:.0f} msg/s end to end "
        f"(batch {BATCH}); rule check alone {rules_s:.2f} s = {N / rules_s:.0f} msg/s "
        f"({rules_s / total_s:.0%} of the send time)"
    )
    print(line)
    with open(os.environ.get("BENCH_LOG", "var/bench.log"), "a", encoding="utf-8") as log:
        log.write(line + "\n")
