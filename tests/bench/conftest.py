"""Benchmarks (run by `make bench`, never by `make test`): large data sets on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5433/kehu make bench
    BENCH_CUSTOMERS=1000000 BENCH_INTERACTIONS=10000000 (defaults)

The data set is generated once into the pytest-django test database and kept with --reuse-db, so later
runs measure immediately. Figures are printed; benchmarks never assert wall-clock times.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import statistics
import time

import pytest
from django.db import connection
from django.utils import timezone

CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "1000000"))
INTERACTIONS = int(os.environ.get("BENCH_INTERACTIONS", "10000000"))
# BENCH_BARE_CUSTOMERS=1: customers are bare rows (a name, a kind, an owner) inserted inside PostgreSQL in a
# minute, for benchmarks that only need them to exist (sales, analytics); the demo generator (names, pinyin,
# search keys, contacts, duplicates) needs ~30 CPU-minutes for 1M and is what search and duplicate benches need
BARE_CUSTOMERS = os.environ.get("BENCH_BARE_CUSTOMERS", "") not in ("", "0")


def report(title: str, samples_ms: list[float]) -> dict:
    samples = sorted(samples_ms)
    p50 = statistics.median(samples)
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    line = f"BENCH {title}: n={len(samples)} p50={p50:.1f} ms p95={p95:.1f} ms max={samples[-1]:.1f} ms"
    print(line)
    with open(os.environ.get("BENCH_LOG", "var/bench.log"), "a", encoding="utf-8") as log:
        log.write(f"{timezone.now():%Y-%m-%d %H:%M} {connection.vendor} {line}\n")
    return {"p50": p50, "p95": p95}


def bench_now() -> dt.datetime:
    """The instant data sets are generated against: the suite's frozen clock (tests/clock.py), which the tests
    also run on. Dates relative to it ("overdue", "closed in the last 30 days") mean the same whenever the
    data set was generated and however long it is reused."""
    from tests import clock

    return clock.frozen_now()


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


class PeakMemory:
    """The peak resident memory of this process over a block (Linux: `VmHWM` reset through
    /proc/self/clear_refs before it, read after it; elsewhere the process's lifetime peak, `ru_maxrss`).
    PostgreSQL's own memory is not included."""

    def __enter__(self):
        self.reset = False
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.reset = True
        except OSError:
            pass
        self.start_mb = self._status("VmRSS")
        return self

    def __exit__(self, *exc):
        self.peak_mb = self._status("VmHWM") if self.reset else self._maxrss()
        self.end_mb = self._status("VmRSS")
        return False

    @staticmethod
    def _status(key: str) -> float:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return PeakMemory._maxrss()

    @staticmethod
    def _maxrss() -> float:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def __str__(self) -> str:
        how = "" if self.reset else " (process lifetime peak)"
        return (
            f"peak RSS {self.peak_mb:.0f} MB{how} (before {self.start_mb:.0f} MB, after {self.end_mb:.0f} MB)"
        )


@contextlib.contextmanager
def bulk_load(cursor, tables: list[str]):
    """Load millions of rows the way a restore does: foreign-key triggers off for this session
    (`session_replication_role = replica`: the generator only writes ids that exist), the tables' secondary
    indexes dropped first and built again afterwards (one sort each instead of 10M random insertions; primary
    keys and unique constraints stay). Django's deferred foreign-key checks on 10M rows were what kept the old
    generator from finishing."""
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes AS i
        WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conname = i.indexname)
        """,
        [tables],
    )
    indexes = cursor.fetchall()
    cursor.execute("SET session_replication_role = replica")
    cursor.execute("SET maintenance_work_mem = '512MB'")
    for name, _definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    try:
        yield
    finally:
        cursor.execute("SET session_replication_role = DEFAULT")
        # triggers did not run: the report builder's order-line summary (analytics 0007) no longer matches the
        # lines until the next scoring run rebuilds it
        cursor.execute("SELECT to_regclass('analytics_linemonth_state') IS NOT NULL")
        if cursor.fetchone()[0]:
            cursor.execute("UPDATE analytics_linemonth_state SET valid = false")
        for _name, definition in indexes:
            cursor.execute(definition)
        cursor.execute("RESET maintenance_work_mem")


def _insert_bare_customers(have: int, count: int, owners) -> None:
    """`count` bare customers in one INSERT … SELECT: 35 % organisations, 40 % their contacts, the rest
    consumers; every other column takes the model's default."""
    from django.db.models.expressions import DatabaseDefault

    from kehu.core import bulk
    from kehu.customers.models import Customer

    template = Customer(name="")
    varying = {"id", "name", "kind", "owner_id", "account_id", "customer_type", "name_key", "search_text"}
    # columns with a database default (DatabaseDefault on the instance) are left to it
    fields = [
        f
        for f in Customer._meta.concrete_fields
        if f.attname not in varying and not isinstance(getattr(template, f.attname), DatabaseDefault)
    ]
    constants = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in fields]
    start = bulk.next_ids(Customer, count).start
    owner_ids = [u.pk for u in owners]
    columns = ", ".join(['"id"', '"name"', '"kind"', '"owner_id"', '"account_id"', '"customer_type"', '"name_key"',
                         '"search_text"',
                         *(f'"{f.column}"' for f in fields)])  # fmt: skip
    # row i: an organisation when i % 20 < 7, a contact of the organisation just before it when i % 20 < 15,
    # a consumer otherwise
    with connection.cursor() as cursor, bulk_load(cursor, ["customers_customer"]):
        cursor.execute(
            f"""
            INSERT INTO customers_customer ({columns})
            SELECT i,
                CASE WHEN i %% 20 < 7 THEN '客户公司 ' || i ELSE '客户 ' || i END,
                CASE WHEN i %% 20 < 7 THEN 'organization' ELSE 'person' END,
                (%s::bigint[])[1 + (i %% %s)],
                CASE WHEN i %% 20 BETWEEN 7 AND 14 AND i - (i %% 20) >= %s THEN i - (i %% 20) END,
                CASE WHEN i %% 20 >= 15 THEN 'consumer' ELSE 'business' END,
                'kh' || i, '客户 ' || i, {", ".join(["%s"] * len(constants))}
            FROM generate_series(%s::bigint, %s::bigint) AS g(i)
            """,  # noqa: S608 - no user input
            [owner_ids, len(owner_ids), start, *constants, start, start + count - 1],
        )
        cursor.execute("ANALYZE customers_customer")
    bulk.reset_sequences(Customer)


def _insert_bare_interactions(count: int) -> None:
    """`count` outbound calls in one INSERT … SELECT under `bulk_load` (the bare-customer mode's counterpart of
    the Python generator below, same shape): every other one on the first tenth of the customers (key
    accounts), the rest on any customer; over the last 1,000 days before the frozen clock; handled by the
    customer's owner; timeline account = the contact's organisation or the customer itself."""
    from kehu.core import bulk
    from kehu.interactions.models import Interaction

    start = bulk.next_ids(Interaction, count).start
    now = bench_now()
    with connection.cursor() as cursor, bulk_load(cursor, ["interactions_interaction"]):
        cursor.execute("SELECT setseed(0.29)")
        cursor.execute(
            "CREATE TEMP TABLE bench_contacts AS SELECT row_number() OVER (ORDER BY id) AS k, id, "
            "coalesce(account_id, id) AS account_id, owner_id FROM customers_customer ORDER BY id"
        )
        cursor.execute("CREATE UNIQUE INDEX ON bench_contacts (k)")
        cursor.execute("ANALYZE bench_contacts")
        cursor.execute("SELECT count(*) FROM bench_contacts")
        n = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO interactions_interaction (id, customer_id, account_id, channel, direction, subject, body,
                occurred_at, duration_minutes, user_id, related_model, related_id, url, external_ref, created_at,
                updated_at, version)
            SELECT d.i, c.id, c.account_id, 'call', 'out', '电话回访', '', d.at, NULL, c.owner_id, '', '', '',
                NULL, d.at, d.at, 1
            FROM (
                SELECT g.i, 1 + floor(random() * CASE WHEN g.i %% 2 = 1 THEN greatest(%s / 10, 1) ELSE %s END)::bigint
                    AS k, %s::timestamptz - floor(random() * 1440000) * interval '1 minute' AS at
                FROM generate_series(%s::bigint, %s::bigint) AS g(i)
            ) AS d
            JOIN bench_contacts AS c ON c.k = d.k
            ORDER BY d.i
            """,
            [n, n, now, start, start + count - 1],
        )
        cursor.execute("DROP TABLE bench_contacts")
    bulk.reset_sequences(Interaction)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE interactions_interaction")


@pytest.fixture(scope="session")
def big_dataset(django_db_setup, django_db_blocker):
    """1M customers (demo generator) and 10M interactions (COPY), generated once and reused."""
    if connection.vendor != "postgresql":
        pytest.fail("benchmarks run on PostgreSQL: set DATABASE_URL=postgres://...")
    from kehu.core import bulk
    from kehu.core.demo import seed_org
    from kehu.core.models import User
    from kehu.customers.demo import seed_customers
    from kehu.customers.models import Customer
    from kehu.interactions.models import Interaction

    with django_db_blocker.unblock():
        if not User.objects.filter(username="rep1").exists():
            seed_org()
        owners = [User.objects.get(username=u) for u in ("manager", "rep1", "rep2", "rep3", "rep4", "agent")]
        have = Customer.objects.count()
        if have < CUSTOMERS and BARE_CUSTOMERS:
            t0 = time.perf_counter()
            _insert_bare_customers(have, CUSTOMERS - have, owners)
            print(f"BENCH generated bare customers up to {CUSTOMERS} in {time.perf_counter() - t0:.0f}s")
            have = CUSTOMERS
        if have < CUSTOMERS:
            t0 = time.perf_counter()
            rng = random.Random(have + 7)
            step = 100_000
            while have < CUSTOMERS:
                n = min(step, CUSTOMERS - have)
                seed_customers(count=n, owners=owners, rng=rng)
                have += n
            print(f"BENCH generated customers up to {have} in {time.perf_counter() - t0:.0f}s")
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM interactions_interaction")
            existing = cursor.fetchone()[0]
        if existing < INTERACTIONS and BARE_CUSTOMERS:
            t0 = time.perf_counter()
            _insert_bare_interactions(INTERACTIONS - existing)
            print(
                f"BENCH generated {INTERACTIONS - existing} interactions (SQL) in {time.perf_counter() - t0:.0f}s"
            )
            existing = INTERACTIONS
        if existing < INTERACTIONS:
            t0 = time.perf_counter()
            rows = list(Customer.objects.values_list("pk", "account_id", "owner_id"))
            rng = random.Random(11)
            now = timezone.now()
            missing = INTERACTIONS - existing
            start = bulk.next_ids(Interaction, missing).start
            fields = [
                "id",
                "customer",
                "account",
                "channel",
                "direction",
                "subject",
                "body",
                "occurred_at",
                "duration_minutes",
                "user",
                "related_model",
                "related_id",
                "url",
                "external_ref",
                "created_at",
                "updated_at",
                "version",
            ]
            # skewed: a tenth of the accounts carry most of the history, like real key accounts
            heavy = rows[: len(rows) // 10]

            def gen():
                for i in range(missing):
                    pk, account, owner = rng.choice(heavy) if i % 2 else rng.choice(rows)
                    when = now - dt.timedelta(minutes=rng.randrange(60 * 24 * 1000))
                    yield (
                        start + i,
                        pk,
                        account or pk,
                        "call",
                        "out",
                        "电话回访",
                        "",
                        when,
                        None,
                        owner,
                        "",
                        "",
                        "",
                        None,
                        when,
                        when,
                        1,
                    )

            bulk.insert_rows(Interaction, fields, gen())
            bulk.reset_sequences(Interaction)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            print(f"BENCH generated {missing} interactions in {time.perf_counter() - t0:.0f}s")
    return {"customers": CUSTOMERS, "interactions": INTERACTIONS}
