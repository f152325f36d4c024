"""Report builder benchmark (issue #11): a report grouping the order lines by month and the customer's RFM
segment (sum of the net amount, counted lines), compiled to one SQL statement, for the executive (all
records) and for a sales rep (own records). Target: < 2 s at 10M order lines on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/kehubench make bench BENCH_ARGS="-k reports"
    BENCH_ORDER_LINES=10000000 (default; the data set of bench_analytics.py, scored once here if not yet)

Figures are printed (and appended to var/bench.log) with the query plan; nothing asserts wall-clock times.
"""

from __future__ import annotations

import os
import time

import pytest
from django.db import connection
from django.utils import timezone

from tests.bench.bench_analytics import order_dataset  # noqa: F401 - the shared order-line data set
from tests.bench.conftest import PeakMemory, report, timed

pytestmark = pytest.mark.django_db

SPEC = {
    "model": "sales.orderline",
    "group_by": [{"field": "order_date", "bucket": "month"}, {"field": "customer__analytics_score__segment"}],
    "measures": [{"agg": "sum", "field": "amount"}, {"agg": "count"}],
    "filters": [{"field": "counted", "op": "eq", "value": True}],
    "chart": "bar",
}


@pytest.fixture(scope="session")
def scored(order_dataset, django_db_blocker):  # noqa: F811 - fixture from bench_analytics
    """Scores and the order-line summary, committed (reused by later runs): a scoring run when there are no
    scores yet or the summary is stale (the generator loads lines without triggers)."""
    from kehu.analytics.models import CustomerScore
    from kehu.analytics.reports_summary import is_valid
    from kehu.analytics.services import scoring_run

    with django_db_blocker.unblock():
        if not CustomerScore.objects.exists() or not is_valid():
            with PeakMemory() as memory:
                t0 = time.perf_counter()
                run = scoring_run()
            split = ", ".join(f"{k} {v:.2f}s" for k, v in run.timings.items())
            _log(
                f"BENCH analytics scoring (committed, for the reports): {run.customers} scored, "
                f"{order_dataset['order_lines']} order lines: total {time.perf_counter() - t0:.2f}s ({split}); "
                f"{memory}; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
            )
    return order_dataset


def _log(line: str) -> None:
    print(line)
    with open(os.environ.get("BENCH_LOG", "var/bench.log"), "a", encoding="utf-8") as log:
        log.write(f"{timezone.now():%Y-%m-%d %H:%M} {connection.vendor} {line}\n")


def _plan(qs) -> str:
    with connection.cursor() as cursor:
        sql, params = qs.query.sql_with_params()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_report_by_month_and_rfm_segment(scored):
    """The plain statement and the fast one (`reports.compile_query(plain=…)`) alternating on the same data in
    the same minutes (A/B), and the results compared."""
    from kehu.analytics import reports
    from kehu.core.models import User

    lines = scored["order_lines"]
    runs = int(os.environ.get("BENCH_REPORT_RUNS", "5"))
    for username in ("admin", "rep1"):
        user = User.objects.get(username=username)
        spec = reports.parse_spec(SPEC, user=user)
        fast = reports.run(spec, user=user)
        assert fast == reports.run(spec, user=user, plain=True)
        modes = {"plain": {"plain": True}, "direct join": {"summary": False}, "fast": {}}
        for name, kw in modes.items():
            qs, _measures = reports.compile_query(spec, user=user, **kw)
            _log(f"BENCH reports plan ({username}, {name}):\n{_plan(qs)}")
        samples: dict[str, list[float]] = {name: [] for name in modes}
        for _ in range(runs):  # alternating: the same minutes of load for each
            for name, kw in modes.items():
                samples[name] += timed(
                    lambda spec=spec, user=user, kw=kw: reports.run(spec, user=user, **kw), 1
                )
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        for name in modes:
            report(
                f"reports month x RFM segment, {lines} order lines, as {username} ({len(fast['rows'])} groups), "
                f"{name}; load average {load}",
                samples[name],
            )
        assert fast["rows"]


def test_report_for_a_reader_with_shared_orders(scored):
    """A rep with orders of other reps shared with them (RecordShare): the summary of their own orders plus the
    shared orders' lines (`reports_summary.SummaryWithLines`, one statement) against the plain statement over
    their lines; results compared. The shares are made inside the test's transaction (rolled back)."""
    from kehu.analytics import reports
    from kehu.core.access import Access
    from kehu.core.models import RecordShare, Team, User

    user = User.objects.get(username="rep2")
    shared = int(os.environ.get("BENCH_SHARED_ORDERS", "1000"))
    with connection.cursor() as cursor:  # a 1 % block sample of the other owners' orders, by user and by team
        cursor.execute(
            """SELECT id FROM sales_order TABLESAMPLE SYSTEM (1) REPEATABLE (7)
               WHERE owner_id IS DISTINCT FROM %s LIMIT %s""",
            [user.pk, shared],
        )
        ids = [r[0] for r in cursor.fetchall()]
    team = Team.objects.create(name="bench shared")
    team.members.add(user)
    RecordShare.objects.bulk_create(
        [RecordShare(model="sales.order", object_id=pk, user=user) for pk in ids[::2]]
        + [RecordShare(model="sales.order", object_id=pk, team=team) for pk in ids[1::2]]
    )
    Access.forget(user)
    spec = reports.parse_spec(SPEC, user=user)
    fast = reports.run(spec, user=user)
    runs = int(os.environ.get("BENCH_REPORT_RUNS", "5"))
    modes = {"plain": {"plain": True}, "direct join": {"summary": False}, "fast": {}}
    for name, kw in modes.items():
        qs, _measures = reports.compile_query(spec, user=user, **kw)
        _log(f"BENCH reports plan (rep2 with {len(ids)} shared orders, {name}):\n{_plan(qs)}")
    assert fast == reports.run(spec, user=user, plain=True)
    samples: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(runs):
        for name, kw in modes.items():
            samples[name] += timed(lambda kw=kw: reports.run(spec, user=user, **kw), 1)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    for name in modes:
        report(
            f"reports month x RFM segment, {scored['order_lines']} order lines, as rep2 with {len(ids)} shared "
            f"orders ({len(fast['rows'])} groups), {name}; load average {load}",
            samples[name],
        )
    assert fast["rows"]


def test_report_with_mid_month_dates_and_three_groups(scored):
    """an11: order-date bounds in the middle of months (whole months from the summary, the partial months' days
    from the lines through `ix_orderline_date`, one statement) and a third group-by (counted), for admin
    and rep1; each compared with the direct statement over the lines (results asserted equal)."""
    from kehu.analytics import reports
    from kehu.core.models import User

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(order_date) FROM sales_orderline")
        last = cursor.fetchone()[0]
    lo = last.replace(day=15) - timezone.timedelta(days=365)
    hi = last.replace(day=10)
    shapes = {
        "mid-month dates": {
            **SPEC,
            "filters": [
                *SPEC["filters"],
                {"field": "order_date", "op": "gte", "value": lo.isoformat()},
                {"field": "order_date", "op": "lte", "value": hi.isoformat()},
            ],
        },  # fmt: skip
        "three groups": {
            **SPEC,
            "group_by": [*SPEC["group_by"], {"field": "currency"}],
            "filters": [],
        },
    }
    runs = int(os.environ.get("BENCH_REPORT_RUNS", "5"))
    for shape, data in shapes.items():
        for username in ("admin", "rep1"):
            user = User.objects.get(username=username)
            spec = reports.parse_spec(data, user=user)
            fast = reports.run(spec, user=user)
            assert fast["rows"] == reports.run(spec, user=user, summary=False)["rows"]
            qs, _measures = reports.compile_query(spec, user=user)
            _log(f"BENCH reports plan ({username}, {shape} {lo}..{hi}, fast):\n{_plan(qs)}")
            samples: dict[str, list[float]] = {"direct join": [], "fast": []}
            for _ in range(runs):
                for name, kw in (("direct join", {"summary": False}), ("fast", {})):
                    samples[name] += timed(
                        lambda spec=spec, user=user, kw=kw: reports.run(spec, user=user, **kw), 1
                    )
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            for name, values in samples.items():
                report(
                    f"reports {shape}, {scored['order_lines']} order lines, as {username} ({len(fast['rows'])} "
                    f"groups), {name}; load average {load}",
                    values,
                )
