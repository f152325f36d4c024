"""The scoring run as it runs in production: committed (deferred constraint checks and all), twice on the
same data — the first run after the data set is loaded, then a rerun over its own rows (the nightly case) —
with the split per phase, the commit and the load average before and after each run (issue #11; docs/benchmarks.md,
"Analytics scoring, second pass").

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/kehubench BENCH_BARE_CUSTOMERS=1 BENCH_INTERACTIONS=0 \\
      BENCH_ORDER_LINES=10000000 make bench BENCH_ARGS="-k scoring"

Scores are committed into the benchmark database (the report benchmark reuses them). Nothing asserts times.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from django.db import connection
from django.utils import timezone

from tests.bench.bench_analytics import order_dataset  # noqa: F401 - the shared order-line data set
from tests.bench.conftest import PeakMemory, bench_now

ISSUE_PART = ("aggregate", "fit", "score", "write")


def _load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


@pytest.fixture(scope="session")
def committed_runs(order_dataset, django_db_blocker):  # noqa: F811
    """The runs, committed: a session fixture runs before the test's own transaction starts."""
    from kehu.analytics.services import scoring_run

    done = []
    runs = int(os.environ.get("BENCH_SCORING_RUNS", "2"))
    with django_db_blocker.unblock():
        for i in range(runs):
            before = _load()
            with PeakMemory() as memory:
                t0 = time.perf_counter()
                run = scoring_run()
                total = time.perf_counter() - t0
            part = sum(run.timings.get(k, 0.0) for k in ISSUE_PART)
            split = ", ".join(f"{k} {v:.2f}s" for k, v in run.timings.items())
            line = (
                f"BENCH analytics scoring committed, run {i + 1}: {run.customers} scored, "
                f"{order_dataset['order_lines']} order lines: total {total:.2f}s; RFM + BG/NBD + Gamma-Gamma + "
                f"scoring + write-back {part:.2f}s ({split}); summary moves "
                f"{getattr(run, 'summary_moves', None)}; {memory}; loadavg before {before}, after {_load()}"
            )
            print(line)
            with open(os.environ.get("BENCH_LOG", "var/bench.log"), "a", encoding="utf-8") as log:
                log.write(f"{timezone.now():%Y-%m-%d %H:%M} {connection.vendor} {line}\n")
            done.append(run)
    return done


@pytest.mark.django_db
def test_scoring_committed_first_run_and_rerun(committed_runs):
    assert committed_runs and all(r.status == "done" and r.customers > 0 for r in committed_runs)


def _add_a_days_orders(day, count: int) -> float:
    """`count` paid orders with one line each on `day`, for customers who bought before (the generator's
    buyers), entered as order entry enters them: triggers on (the report summary's deltas, foreign-key
    checks). Returns the seconds the two INSERTs took."""
    from kehu.core import bulk
    from kehu.sales.models import Order, OrderLine

    start = bulk.next_ids(Order, count).start
    line_start = bulk.next_ids(OrderLine, count).start
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO sales_order (id, number, kind, customer_id, order_date, status, status_changed_at,
                currency, net_amount, tax_amount, total, shipping_address, notes, owner_id, created_at, updated_at,
                version)
            SELECT %s + row_number() OVER () - 1, 'D' || lpad((%s + row_number() OVER () - 1)::text, 10, '0'),
                'sale', c.id, %s, 'paid', now(), 'CNY', a.amount, 0, a.amount, '', '', c.owner_id, now(), now(), 1
            FROM (SELECT customer_id FROM analytics_customerscore TABLESAMPLE SYSTEM (5) LIMIT %s) AS s
            JOIN customers_customer AS c ON c.id = s.customer_id
            CROSS JOIN LATERAL (SELECT round((300 + random() * 900)::numeric, 2) AS amount) AS a
            """,
            [start, start, day, count],
        )
        n = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO sales_orderline (id, order_id, line_no, description, quantity, unit_price,
                discount_percent, tax_rate, amount, tax_amount, delivered_quantity, serial_numbers, customer_id,
                order_date, currency, counted)
            SELECT id - %s + %s, id, 1, 'daily', 1, total, 0, 13, total, 0, 1, '', customer_id, order_date, 'CNY',
                true
            FROM sales_order WHERE id BETWEEN %s AND %s
            """,
            [start, line_start, start, start + n - 1],
        )
    bulk.reset_sequences(Order, OrderLine)
    return time.perf_counter() - t0


@pytest.fixture(scope="session")
def daily_runs(order_dataset, django_db_blocker):  # noqa: F811
    """The nightly case over several days, committed (a session fixture runs outside the test's transaction):
    each day ~1/1,095 of the lines is added (the generator spreads the lines over 1,095 days: ~9,000 a day at
    10M) through order entry (summary deltas appended by the triggers), then a scoring run as of the next day.
    Logs the summary phase (customers whose RFM segment changed, their lines moved between groups) and a full
    rebuild for comparison (rolled back). The benchmark database keeps the added days."""
    from django.db import transaction

    from kehu.analytics.models import CustomerScore
    from kehu.analytics.reports_summary import is_valid
    from kehu.analytics.services import scoring_run

    days = int(os.environ.get("BENCH_DAILY_RUNS", "3"))
    per_day = int(os.environ.get("BENCH_DAILY_LINES", "9000"))
    today = timezone.localdate(bench_now())  # the generator's "today" (the frozen clock), not the wall clock
    out = {"runs": []}
    with django_db_blocker.unblock():
        if not CustomerScore.objects.exists() or not is_valid():
            scoring_run()  # the starting point: scores and a valid summary
        with connection.cursor() as cursor:  # the days an earlier run of this bench added go (triggers on)
            cursor.execute(
                "DELETE FROM sales_orderline WHERE order_id IN (SELECT id FROM sales_order WHERE number LIKE 'D%%')"
            )
            cursor.execute("DELETE FROM sales_order WHERE number LIKE 'D%%'")
        for d in range(
            1, days + 1
        ):  # run 1 moves the customers scored as of another day; 2… are nightly steps
            day = today + dt.timedelta(days=d)
            entry = _add_a_days_orders(day, per_day)
            before = _load()
            t0 = time.perf_counter()
            run = scoring_run(as_of=day)
            total = time.perf_counter() - t0
            moves = getattr(run, "summary_moves", None)
            split = ", ".join(f"{k} {v:.2f}s" for k, v in run.timings.items())
            _bench_log(
                f"BENCH analytics daily run {d} (as of {day}): {per_day} new lines entered in {entry:.2f}s "
                f"(triggers on); {run.customers} scored; report summary "
                f"{run.timings.get('report_summary', 0):.2f}s "
                f"({'moved ' + str(moves) + ' customers' if moves is not None else 'full rebuild'}); total "
                f"{total:.2f}s ({split}); loadavg before {before}, after {_load()}"
            )
            out["runs"].append((run, moves, is_valid()))
        with connection.cursor() as cursor:  # the moved summary equals a rebuild from the lines
            cursor.execute(SUMMARY_NOW)
            out["moved"] = cursor.fetchall()
            with transaction.atomic():
                t0 = time.perf_counter()
                cursor.execute("SELECT analytics_linemonth_rebuild()")
                rebuild = time.perf_counter() - t0
                cursor.execute(SUMMARY_NOW)
                out["rebuilt"] = cursor.fetchall()
                transaction.set_rollback(True)
        _bench_log(
            f"BENCH analytics report summary full rebuild for comparison: {rebuild:.2f}s; load {_load()}"
        )
    return out


@pytest.mark.django_db
def test_daily_runs_move_the_report_summary_incrementally(daily_runs):
    assert daily_runs["runs"] and all(valid for _run, _moves, valid in daily_runs["runs"])
    assert daily_runs["moved"] == daily_runs["rebuilt"]


SUMMARY_NOW = """SELECT month, segment, currency, counted, owner_id, sum(lines), sum(amount), sum(quantity)
    FROM analytics_orderlinemonth GROUP BY 1, 2, 3, 4, 5 HAVING sum(lines) <> 0 ORDER BY 1, 2, 3, 4, 5"""


def _bench_log(line: str) -> None:
    print(line)
    with open(os.environ.get("BENCH_LOG", "var/bench.log"), "a", encoding="utf-8") as log:
        log.write(f"{timezone.now():%Y-%m-%d %H:%M} {connection.vendor} {line}\n")
