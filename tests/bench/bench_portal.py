"""Portal home benchmark (issue #18: portal home p95 < 100 ms with 1M customers): one customer user's home page
(recent orders, open tickets, product count, all through the portal scope) with the customer table at
BENCH_CUSTOMERS rows and BENCH_PORTAL_ORDERS orders / BENCH_PORTAL_TICKETS tickets spread over other
customers, plus the orders and tickets pages.

    BENCH_CUSTOMERS=1000000 BENCH_BARE_CUSTOMERS=1 BENCH_INTERACTIONS=100000 \\
    DATABASE_URL=postgres://postgres@127.0.0.1:55432/kehu_portal_bench \\
    flock /work/bench.lock nice -n 10 .venv/bin/python -m pytest -n 0 -q -s --reuse-db \\
        tests/bench/bench_portal.py -p no:cacheprovider -o addopts=""

Figures are printed and appended to var/bench.log; nothing asserts wall-clock times (docs/benchmarks.md)."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from .conftest import report, timed

pytestmark = pytest.mark.django_db

ORDERS = int(os.environ.get("BENCH_PORTAL_ORDERS", "200000"))
TICKETS = int(os.environ.get("BENCH_PORTAL_TICKETS", "100000"))


def test_portal_home(big_dataset):
    from kehu.core.models import User
    from kehu.customers.models import Customer
    from kehu.portal.models import PortalUser
    from kehu.sales.models import Order
    from kehu.service.models import Ticket

    admin = User.objects.filter(is_superuser=True).first() or User.objects.get(username="admin")
    account = Customer.objects.filter(kind="organization").order_by("pk").first()
    ids = list(
        Customer.objects.filter(kind="organization").values_list("pk", flat=True)[: max(1, ORDERS // 4)]
    )
    today = timezone.localdate()
    if Order.objects.count() < ORDERS:
        Order.objects.bulk_create(
            [
                Order(
                    number=f"BENCH-{i}",
                    customer_id=account.pk if i % 4000 == 0 else ids[i % len(ids)],
                    owner=admin,
                    order_date=today - dt.timedelta(days=i % 700),
                    total=Decimal(100 + i % 900),
                )
                for i in range(ORDERS)
            ],
            batch_size=5000,
        )
    if Ticket.objects.count() < TICKETS:
        Ticket.objects.bulk_create(
            [
                Ticket(subject=f"bench {i}", customer_id=account.pk if i % 2000 == 0 else ids[i % len(ids)])
                for i in range(TICKETS)
            ],
            batch_size=5000,
        )
    user, _created = User.objects.get_or_create(
        username="bench-portal@example.cn", defaults={"email": "b@example.cn"}
    )
    PortalUser.objects.get_or_create(user=user, defaults={"customer": account})
    client = Client()
    client.force_login(user, backend="kehu.portal.backends.AccountBackend")
    for url in ("/portal/", "/portal/orders/", "/portal/tickets/"):
        assert client.get(url).status_code == 200
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        report(
            f"portal {url} ({Customer.objects.count():,} customers, {ORDERS:,} orders, {TICKETS:,} tickets; "
            f"{len(ctx.captured_queries)} statements)",
            timed(lambda u=url: client.get(u), 100),
        )
