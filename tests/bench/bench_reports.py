"""Report builder benchmark (issue #11): a report grouping the order lines by month and the customer's RFM
segment (sum of the net amount, counted lines), compiled to one SQL statement, for the executive (all
records) and for a sales rep (own records). Target: < 2 s at 10M order lines on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/kehubench make bench BENCH_ARGS="-k reports"
    BENCH_ORDER_LINES=10000000 (default; the data set of bench_analytics.py, scored once here if not yet)

Figures are printed (and appended to var/bench.log) with the query plan; nothing asserts wall-clock times.
"""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.utils import timezone

from tests.bench.bench_analytics import order_dataset  # noqa: F401 - the shared order-line data set
from tests.bench.conftest import report, timed

pytestmark = pytest.mark.django_db

SPEC = {
    "model": "sales.orderline",
    "group_by": [{"field": "order_date", "bucket": "month"}, {"field": "customer__analytics_score__segment"}],
    "measures": [{"agg": "sum", "field": "amount"}, {"agg": "count"}],
    "filters": [{"field": "counted", "op": "eq", "value": True}],
    "chart": "bar",
}


@pytest.fixture
def scored(order_dataset):  # noqa: F811 - fixture from bench_analytics
    from kehu.analytics.models import CustomerScore
    from kehu.analytics.services import scoring_run

    if not CustomerScore.objects.exists():
        scoring_run()
    return order_dataset


def _log(line: str) -> None:
    print(line)
    with open(os.environ.get("BENCH_LOG", "var/bench.log"), "a", encoding="utf-8") as log:
        log.write(f"{timezone.now():%Y-%m-%d %H:%M} {connection.vendor} {line}\n")


def test_report_by_month_and_rfm_segment(scored):
    from kehu.analytics import reports
    from kehu.core.models import User

    lines = scored["order_lines"]
    for username in ("admin", "rep1"):
        user = User.objects.get(username=username)
        spec = reports.parse_spec(SPEC, user=user)
        result = reports.run(spec, user=user)
        qs, _measures = reports.compile_query(spec, user=user)
        with connection.cursor() as cursor:
            sql, params = qs.query.sql_with_params()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        _log(f"BENCH reports plan ({username}):\n{plan}")
        report(
            f"reports month x RFM segment, {lines} order lines, as {username} ({len(result['rows'])} groups)",
            timed(lambda spec=spec, user=user: reports.run(spec, user=user), 5),
        )
        assert result["rows"]
