"""Customer search at scale (`make bench`): p50/p95 of filter_customers on PostgreSQL, admin scope and a
rep who owns a sixth of the customers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5433/kehu_bench make bench BENCH_ARGS="-k search"

The customers are generated once by the `customers_only` fixture (demo generator in chunks; no
interactions) and kept with --reuse-db. Figures are printed and appended to var/bench.log; nothing asserts
wall-clock times.
"""

from __future__ import annotations

import random
import time

import pytest
from django.db import connection

from tests.bench.conftest import CUSTOMERS, report, timed

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def customers_only(django_db_setup, django_db_blocker):
    if connection.vendor != "postgresql":
        pytest.fail("benchmarks run on PostgreSQL: set DATABASE_URL=postgres://...")
    from kehu.core.demo import seed_org
    from kehu.core.models import User
    from kehu.customers.demo import seed_customers
    from kehu.customers.models import Customer

    with django_db_blocker.unblock():
        if not User.objects.filter(username="rep1").exists():
            seed_org()
        owners = [User.objects.get(username=u) for u in ("manager", "rep1", "rep2", "rep3", "rep4", "agent")]
        have = Customer.objects.count()
        if have < CUSTOMERS:
            t0 = time.perf_counter()
            rng = random.Random(have + 7)
            while have < CUSTOMERS:
                n = min(100_000, CUSTOMERS - have)
                seed_customers(count=n, owners=owners, rng=rng)
                have += n
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            print(f"BENCH generated customers up to {have} in {time.perf_counter() - t0:.0f}s")
        return Customer.objects.count()


def _mix():
    """Chinese 2-char, company name, pinyin, initials, phone digits (several formats), email."""
    from kehu.customers.models import Customer

    rng = random.Random(5)
    sample = list(
        Customer.objects.filter(pk__in=[rng.randrange(1, 1_000_000) for _ in range(400)])
        .exclude(phone="")
        .values_list("name", "phone", "email", "name_pinyin", "name_initials")[:40]
    )
    mix = {
        "chinese-2": ["科技", "华信", "电子", "恒达", "李娜", "王伟", "有限", "物流"],
        "pinyin": ["keji", "huaxin", "wuchao", "zhangwei", "xingchen", "northwind"],
        "initials": ["bjkj", "bjhx", "shkj", "hzby", "zw"],
        "company": [n for n, *_ in sample if len(n) > 6][:8] + ["华信科技", "有限公司"],
        "phone": [],
        "email": ["example.cn", "mail.example.net"],
    }
    for _name, phone, email, _py, _ini in sample[:10]:
        national = phone.replace("+86", "")
        mix["phone"] += [national, f"{national[:3]}-{national[3:7]}-{national[7:]}", national[-4:], phone]
        if email:
            mix["email"].append(email.split("@")[0])
    return mix


@pytest.mark.parametrize("username", ["admin", "rep1"])
def test_filter_customers_p50_p95(customers_only, username):
    from kehu.core.models import User
    from kehu.customers.search import filter_customers
    from kehu.customers.selectors import customer_list

    user = User.objects.get(username=username)
    mix = _mix()

    def run(q):
        # what the search box does: scope, filter, rank, first page
        return list(filter_customers(customer_list(user=user), q).only("id", "name")[:20])

    for q in [q for qs in mix.values() for q in qs][:10]:
        run(q)  # warm-up
    everything = []
    for kind, queries in mix.items():
        samples = []
        for q in queries:
            samples += timed(lambda q=q: run(q), 3)
        report(f"search {kind} ({username} scope, {customers_only:,} customers)", samples)
        everything += samples
    report(f"search all kinds ({username} scope, {customers_only:,} customers)", everything)
