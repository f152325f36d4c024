"""Analytics benchmarks (issue #11): RFM + BG/NBD + Gamma-Gamma + scoring of every customer end to end, with
the split into SQL aggregation / fit / scoring / write-back, the process's CPU time and peak memory; and the
BG/NBD fit on the CDNOW cohort.

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/kehubench make bench BENCH_ARGS="-k analytics"
    BENCH_ORDER_LINES=10000000 (default; one line per order, over 60% of the customers, skewed)

Figures are printed (and appended to var/bench.log); nothing asserts wall-clock times.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from tests.bench.conftest import PeakMemory, bench_now, bulk_load, report, timed

pytestmark = pytest.mark.django_db

ORDER_LINES = int(os.environ.get("BENCH_ORDER_LINES", "10000000"))
CDNOW = Path(__file__).parents[1] / "analytics" / "data" / "cdnow_summary.csv"


@pytest.fixture(scope="session")
def order_dataset(big_dataset, django_db_blocker):
    """ORDER_LINES sale orders with one line each over three years, generated once (inside PostgreSQL: an
    INSERT … SELECT under `bulk_load`: foreign-key triggers off, secondary indexes rebuilt after) and reused. 60 % of the customers buy; the i-th
    of n buyers is drawn with probability ∝ (i/n)^-0.6 (a few buy very often, most a few times); amounts are
    gamma(6, 150) distributed (a sum of six exponentials)."""
    from kehu.core import bulk
    from kehu.sales.models import Order, OrderLine

    with django_db_blocker.unblock():
        have = OrderLine.objects.count()
        if have < ORDER_LINES:
            t0 = time.perf_counter()
            missing = ORDER_LINES - have
            start = bulk.next_ids(Order, missing).start
            line_start = bulk.next_ids(OrderLine, missing).start
            now = bench_now()
            today = timezone.localdate(now)
            amount = "round((-150 * (" + " + ".join(["ln(1 - random())"] * 6) + "))::numeric, 2)"
            with connection.cursor() as cursor, bulk_load(cursor, ["sales_order", "sales_orderline"]):
                cursor.execute("SELECT setseed(0.17)")
                cursor.execute(
                    "CREATE TEMP TABLE bench_buyers AS SELECT row_number() OVER (ORDER BY id) AS k, id, owner_id "
                    "FROM customers_customer WHERE random() < 0.6 ORDER BY id"
                )
                cursor.execute("CREATE UNIQUE INDEX ON bench_buyers (k)")
                cursor.execute("ANALYZE bench_buyers")
                cursor.execute("SELECT count(*) FROM bench_buyers")
                buyers = cursor.fetchone()[0]
                cursor.execute(
                    f"""
                    INSERT INTO sales_order (id, number, kind, customer_id, order_date, status, status_changed_at,
                        currency, net_amount, tax_amount, total, shipping_address, notes, owner_id, created_at,
                        updated_at, version)
                    SELECT d.i, 'B' || lpad(d.i::text, 10, '0'), 'sale', b.id, d.day, 'paid', %s, 'CNY', d.amount,
                        0, d.amount, '', '', b.owner_id, %s, %s, 1
                    FROM (
                        SELECT g.i, 1 + floor(%s * power(random(), 2.5))::bigint AS k,
                            %s::date - floor(random() * 1095)::int AS day, {amount} AS amount
                        FROM generate_series(%s::bigint, %s::bigint) AS g(i)
                    ) AS d
                    JOIN bench_buyers AS b ON b.k = d.k
                    ORDER BY d.i
                    """,  # noqa: S608 - no user input
                    [now, now, now, buyers, today, start, start + missing - 1],
                )
                cursor.execute(
                    """
                    INSERT INTO sales_orderline (id, order_id, line_no, description, quantity, unit_price,
                        discount_percent, tax_rate, amount, tax_amount, delivered_quantity, serial_numbers,
                        customer_id, order_date, currency, counted)
                    SELECT id - %s + %s, id, 1, 'bench', 1, total, 0, 13, total, 0, 1, '', customer_id, order_date,
                        'CNY', true
                    FROM sales_order WHERE id BETWEEN %s AND %s
                    """,
                    [start, line_start, start, start + missing - 1],
                )
                cursor.execute("DROP TABLE bench_buyers")
            bulk.reset_sequences(Order, OrderLine)
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE sales_order")
                cursor.execute("VACUUM ANALYZE sales_orderline")
            print(f"BENCH generated {missing} orders and lines in {time.perf_counter() - t0:.0f}s")
    return {"order_lines": ORDER_LINES}


def test_scoring_every_customer_end_to_end(order_dataset):
    from kehu.analytics.services import scoring_run

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        customers = cursor.fetchone()[0]
    with PeakMemory() as memory:
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        run = scoring_run()
        total = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    split = ", ".join(f"{k} {v:.2f}s" for k, v in run.timings.items())
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    line = (
        f"BENCH analytics scoring: {customers} customers, {run.customers} scored, "
        f"{order_dataset['order_lines']} order lines: total {total:.2f}s (process CPU {cpu:.2f}s; {split}); "
        f"{memory}; models {run.purchase_model}/{run.spend_model}; load average {load}"
    )
    print(line)
    with open(os.environ.get("BENCH_LOG", "var/bench.log"), "a", encoding="utf-8") as log:
        log.write(f"{timezone.now():%Y-%m-%d %H:%M} {connection.vendor} {line}\n")
    assert run.customers > 0


def test_bgnbd_fit_on_the_cdnow_cohort():
    from kehu.analytics import clv

    d = np.genfromtxt(CDNOW, delimiter=",", names=True)
    report(
        "analytics BG/NBD fit, CDNOW (2,357 customers)",
        timed(lambda: clv.bgnbd_fit(d["x"], d["t_x"], d["T"]), 20),
    )
    report(
        "analytics Gamma-Gamma fit, CDNOW (946 repeat buyers)",
        timed(lambda: clv.gamma_gamma_fit(d["x"], d["zbar"]), 20),
    )
