"""Customer benchmarks at scale: global search, the 360° page, the contact list, and the duplicate scan."""

from __future__ import annotations

import random
import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.bench.conftest import report, timed

pytestmark = pytest.mark.django_db


def _queries(sample):
    from kehu.customers.models import Customer

    rng = random.Random(5)
    names = list(Customer.objects.filter(kind="organization").order_by("?").values_list("name", "phone")[:40])
    queries = ["科技", "电子", "华信", "keji", "xingchen", "bjhx", "有限公司", "zhang", "李娜", "Northwind"]
    for name, phone in names[:sample]:
        queries += [name[2:6], phone[-8:], phone.replace("+86", "")[:7]]
    rng.shuffle(queries)
    return queries


def test_global_search(big_dataset):
    from kehu.core.models import User
    from kehu.customers.search import customer_search

    queries = _queries(20)
    for username in ("admin", "rep1"):
        user = User.objects.get(username=username)
        for q in queries[:5]:
            customer_search(user=user, q=q)  # warm-up
        samples = []
        for q in queries:
            samples += timed(lambda q=q, u=user: customer_search(user=u, q=q), 3)
        report(f"global search ({username} scope, {big_dataset['customers']:,} customers)", samples)


def test_customer_360_page(big_dataset):
    from kehu.core.models import User
    from kehu.customers.models import Customer
    from kehu.interactions.models import Interaction

    client = Client()
    client.force_login(User.objects.get(username="admin"))
    busy = list(Interaction.objects.values_list("account_id", flat=True)[:2000:40])
    accounts = list(Customer.objects.filter(pk__in=busy).values_list("pk", flat=True))
    for pk in accounts[:3]:
        assert client.get(f"/customers/{pk}/").status_code == 200
    counts = set()
    samples = []
    for pk in accounts:
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            response = client.get(f"/customers/{pk}/")
            samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
        counts.add(len(ctx.captured_queries))
    report(
        f"360 page ({big_dataset['customers']:,} customers, {big_dataset['interactions']:,} interactions)",
        samples,
    )
    print(f"BENCH 360 page query counts: {sorted(counts)}")


def test_contact_list_and_name_search_pages(big_dataset):
    from kehu.core.models import User

    for username in ("admin", "rep1"):
        client = Client()
        client.force_login(User.objects.get(username=username))
        client.get("/customers/contacts/")
        report(f"contact list page ({username})", timed(lambda c=client: c.get("/customers/contacts/"), 30))
        report(f"customer list page ({username})", timed(lambda c=client: c.get("/customers/"), 30))
        report(
            f"customer list name search ?q=华信 ({username})",
            timed(lambda c=client: c.get("/customers/?q=华信"), 30),
        )


def test_duplicate_scan(big_dataset):
    from kehu.customers.dedup import scan

    t0 = time.perf_counter()
    result = scan()
    elapsed = time.perf_counter() - t0
    print(
        f"BENCH duplicate scan: {result['customers']:,} customers, {result['pairs']:,} pairs in {elapsed:.1f} s"
    )
