"""Pool recycling at scale (issue #16): the recycle rule over 1M customers on PostgreSQL (target < 30 s).

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/kehu_pools \\
      .venv/bin/python -m pytest tests/bench/bench_pools.py -p no:cacheprovider -o addopts="" \\
      -o python_files="bench_*.py" -s --reuse-db
    BENCH_POOL_CUSTOMERS=1000000 (default), BENCH_POOL_STALE=0.05 (share of owned customers without follow-up)

The data set is made with INSERT … SELECT generate_series (seconds, not minutes): customers owned by 20 reps
of one department, one recent interaction for the followed-up ones plus older history, won deals for some.
Measured: the candidate query alone, the warning run (every stale customer warned) and, warn_days later, the
recycling run (every stale customer returned to the pool: owner cleared with audit, pool entry, event,
timeline); the test's transaction is rolled back, so every run starts from the same data. Figures are printed and appended to var/bench.log; nothing asserts wall-clock times.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from django.db import connection, models
from django.utils import timezone

pytestmark = pytest.mark.django_db

CUSTOMERS = int(os.environ.get("BENCH_POOL_CUSTOMERS", "1000000"))
STALE = float(os.environ.get("BENCH_POOL_STALE", "0.05"))


def _fill(model, count: int, start: int, expressions: dict[str, str], where: str = "") -> None:
    """INSERT `count` rows into `model` from generate_series (`g` = start..start+count-1): the given SQL
    expressions per field, the field's default for the others."""
    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        columns.append(connection.ops.quote_name(field.column))
        if field.name in expressions:
            values.append(expressions[field.name])
            continue
        default = field.get_default()
        if isinstance(default, models.expressions.Combinable | models.expressions.BaseExpression):
            default = ""
        values.append("%s")
        params.append(field.get_db_prep_save(default, connection))
    table = connection.ops.quote_name(model._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "  # noqa: S608 - model names
        f"FROM generate_series({int(start)}, {int(start + count - 1)}) AS g {'WHERE ' + where if where else ''}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture(scope="session")
def pool_dataset(django_db_setup, django_db_blocker):
    if connection.vendor != "postgresql":
        pytest.fail("benchmarks run on PostgreSQL: set DATABASE_URL=postgres://...")
    from kehu.core import bulk
    from kehu.core.models import Department, User
    from kehu.customers.models import Customer
    from kehu.interactions.models import Interaction
    from kehu.sales.models import CustomerPool, Order, RecycleRule

    with django_db_blocker.unblock():
        dept = Department.objects.get_or_create(name="华北 North bench")[0]
        reps = [
            User.objects.get_or_create(username=f"poolrep{i}", defaults={"department": dept})[0].pk
            for i in range(20)
        ]
        pool = CustomerPool.objects.get_or_create(name="bench pool", defaults={"department": dept})[0]
        rule = RecycleRule.objects.get_or_create(
            name="bench rule",
            defaults={
                "pool": pool,
                "department": dept,
                "no_followup_days": 30,
                "no_deal_days": 365,
                "warn_days": 3,
            },
        )[0]
        have = Customer.objects.count()
        if have < CUSTOMERS:
            t0 = time.perf_counter()
            start = bulk.next_ids(Customer, 1).start
            n = CUSTOMERS - have
            reps_array = "ARRAY[" + ",".join(str(r) for r in reps) + "]"
            _fill(
                Customer,
                n,
                start,
                {
                    "id": "g",
                    "name": "'基准客户 ' || g",
                    "owner": f"({reps_array})[1 + mod(g, {len(reps)})]",
                    "created_at": "now() - interval '400 days' - mod(g, 300) * interval '1 day'",
                    "updated_at": "now()",
                    "lifecycle_stage": "CASE WHEN mod(g, 10) = 0 THEN 'loyal' ELSE 'customer' END",
                },
            )
            # the followed-up customers: one interaction in the last 20 days; every customer: one old one
            first_i = bulk.next_ids(Interaction, 1).start
            stale_mod = max(1, round(1 / STALE)) if STALE else 0
            recent = f"mod(g, {stale_mod}) <> 0" if stale_mod else "true"
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""INSERT INTO interactions_interaction (id, created_at, updated_at, version, customer_id,
                    account_id, channel, direction, subject, body, occurred_at, related_model, related_id, url)
                    SELECT {first_i} + (g - {start}) * 2, now(), now(), 1, g, g, 'call', 'out', 'bench', '',
                           now() - interval '200 days' - mod(g, 100) * interval '1 day', '', '', ''
                    FROM generate_series({start}, {start + n - 1}) AS g
                    UNION ALL
                    SELECT {first_i} + (g - {start}) * 2 + 1, now(), now(), 1, g, g, 'call', 'out', 'bench', '',
                           now() - mod(g, 20) * interval '1 day', '', '', ''
                    FROM generate_series({start}, {start + n - 1}) AS g WHERE {recent}"""  # noqa: S608
                )
            # the customers that bought: an order in the last 200 days (the rest had no deal for a year)
            first_o = bulk.next_ids(Order, 1).start
            _fill(
                Order,
                n,
                start,
                {
                    "id": f"{first_o} + g - {start}",
                    "number": "'BENCH-' || g",
                    "customer": "g",
                    "owner": f"({reps_array})[1 + mod(g, {len(reps)})]",
                    "order_date": "current_date - mod(g, 200)",
                },
                where=recent,
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    "ANALYZE customers_customer; ANALYZE interactions_interaction; ANALYZE sales_order"
                )
            bulk.reset_sequences(Customer, Interaction, Order)
            print(f"BENCH pools: generated {n} customers in {time.perf_counter() - t0:.0f}s")
    return rule


def test_recycle_rule_over_a_million_customers(pool_dataset, django_db_blocker):
    from kehu.customers.models import Customer
    from kehu.sales.models import PoolEntry, PoolEvent
    from kehu.sales.services import pools
    from tests.bench.conftest import report

    rule = pool_dataset
    now = timezone.now()
    with django_db_blocker.unblock():
        total = Customer.objects.count()
        t0 = time.perf_counter()
        due = len(pools._stale_rows(rule, now + dt.timedelta(days=3), "pk"))
        query_ms = (time.perf_counter() - t0) * 1000
        report(f"pools recycle candidates over {total} customers ({due} due)", [query_ms])
        t0 = time.perf_counter()
        warned = pools.pools_recycle(now=now)
        warn_ms = (time.perf_counter() - t0) * 1000
        report(f"pools recycle run 1 over {total} customers: {warned}", [warn_ms])
        t0 = time.perf_counter()
        recycled = pools.pools_recycle(now=now + dt.timedelta(days=3, minutes=5))
        recycle_ms = (time.perf_counter() - t0) * 1000
        report(f"pools recycle run 2 (warn_days later) over {total} customers: {recycled}", [recycle_ms])
        assert recycled["recycled"] == warned["warned"] > 0
        assert PoolEntry.objects.filter(pool=rule.pool).count() >= recycled["recycled"]
        assert PoolEvent.objects.filter(kind="recycled", rule=rule).count() >= recycled["recycled"]
