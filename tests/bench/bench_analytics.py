"""Analytics benchmarks (issue #11): RFM + BG/NBD + Gamma-Gamma + scoring of every customer end to end, with
the split into SQL aggregation / fit / scoring / write-back; and the BG/NBD fit on the CDNOW cohort.

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/kehubench make bench BENCH_ARGS="-k analytics"
    BENCH_ORDER_LINES=10000000 (default; one line per order, over 60% of the customers, skewed)

Figures are printed (and appended to var/bench.log); nothing asserts wall-clock times.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from tests.bench.conftest import report, timed

pytestmark = pytest.mark.django_db

ORDER_LINES = int(os.environ.get("BENCH_ORDER_LINES", "10000000"))
CDNOW = Path(__file__).parents[1] / "analytics" / "data" / "cdnow_summary.csv"


@pytest.fixture(scope="session")
def order_dataset(big_dataset, django_db_blocker):
    """ORDER_LINES sale orders with one line each over three years (COPY), generated once and reused."""
    from kehu.core import bulk
    from kehu.customers.models import Customer
    from kehu.sales.models import Order, OrderLine

    with django_db_blocker.unblock():
        have = OrderLine.objects.count()
        if have < ORDER_LINES:
            t0 = time.perf_counter()
            rows = np.array(Customer.objects.order_by("pk").values_list("pk", "owner_id"), dtype=np.int64)
            rng = np.random.default_rng(17)
            buyers = rows[rng.random(len(rows)) < 0.6]
            missing = ORDER_LINES - have
            # skewed: a customer's weight is gamma distributed (a few buy often, most once or twice)
            weights = rng.gamma(0.5, 1.0, len(buyers))
            pick = rng.choice(len(buyers), size=missing, p=weights / weights.sum())
            today = timezone.localdate()
            days = rng.integers(0, 365 * 3, missing)
            amounts = np.round(rng.gamma(6.0, 150.0, missing), 2)
            start = bulk.next_ids(Order, missing).start
            now = timezone.now()
            order_fields = [
                "id", "number", "kind", "customer", "order_date", "status", "status_changed_at", "currency",
                "net_amount", "tax_amount", "total", "shipping_address", "notes", "owner", "created_at",
                "updated_at", "version",
            ]  # fmt: skip
            line_fields = [
                "id", "order", "line_no", "description", "quantity", "unit_price", "discount_percent", "tax_rate",
                "amount", "tax_amount", "delivered_quantity", "serial_numbers", "customer", "order_date",
                "currency", "counted",
            ]  # fmt: skip
            dates = [today - dt.timedelta(days=int(d)) for d in range(365 * 3)]

            def orders():
                for i in range(missing):
                    pk, owner = buyers[pick[i]]
                    a = f"{amounts[i]:.2f}"
                    yield (start + i, f"B{start + i:010d}", "sale", int(pk), dates[days[i]], "paid", now, "CNY",
                           a, "0", a, "", "", int(owner), now, now, 1)  # fmt: skip

            def lines():
                for i in range(missing):
                    a = f"{amounts[i]:.2f}"
                    yield (start + i, start + i, 1, "bench", "1", a, "0", "13", a, "0", "1", "",
                           int(buyers[pick[i]][0]), dates[days[i]], "CNY", True)  # fmt: skip

            bulk.insert_rows(Order, order_fields, orders())
            bulk.insert_rows(OrderLine, line_fields, lines())
            bulk.reset_sequences(Order, OrderLine)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE sales_order")
                cursor.execute("ANALYZE sales_orderline")
            print(f"BENCH generated {missing} orders and lines in {time.perf_counter() - t0:.0f}s")
    return {"order_lines": ORDER_LINES}


def test_scoring_every_customer_end_to_end(order_dataset):
    from kehu.analytics.services import scoring_run

    t0 = time.perf_counter()
    run = scoring_run()
    total = time.perf_counter() - t0
    split = ", ".join(f"{k} {v:.2f}s" for k, v in run.timings.items())
    line = (
        f"BENCH analytics scoring: {run.customers} customers, {order_dataset['order_lines']} order lines: "
        f"total {total:.2f}s ({split}); models {run.purchase_model}/{run.spend_model}"
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
