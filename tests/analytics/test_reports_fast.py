"""The report builder's faster statements (issue #11 performance): the RFM segment joined on the record's own
customer key, date buckets truncated as dates. Each test runs the same report through the plain statement and
the fast one on the same data and requires identical results, for a reader who sees everything and one who
sees their own records only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kehu.analytics import reports
from kehu.analytics.services import scoring_run
from kehu.core.access import Access
from tests.analytics.conftest import buy

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(org, make_customer):
    """Five customers of two reps over 14 months (month, quarter, year and ISO-week boundaries), with a return,
    a cancelled order, and a customer whose only order is cancelled (no score: segment empty)."""
    today = timezone.localdate()
    first = dt.date(today.year - 1, 1, 1)
    days = [first + dt.timedelta(days=d) for d in (0, 30, 31, 58, 89, 90, 180, 364, 365, 400)]
    days = [d for d in days if d < today]
    a = make_customer("北京优选贸易有限公司", owner=org.rep1)
    b = make_customer("广州旧客户有限公司", owner=org.rep1)
    c = make_customer("杭州东方电子有限公司", owner=org.rep3)
    d = make_customer("上海一次客户", owner=org.rep3)
    e = make_customer("只取消的客户", owner=org.rep1)
    for i, day in enumerate(days):
        buy(a, day, 100 + i)
        if i % 2:
            buy(b, day, 40 + i)
        if i % 3 == 0:
            sale = buy(c, day, 1000 + 10 * i)
            buy(c, day, 100, returns=sale)
    buy(d, days[-1], 77)
    buy(e, days[2], 500, cancelled=True)
    buy(c, days[3], 400, cancelled=True)
    scoring_run()
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


SEGMENT = {"field": "customer__analytics_score__segment"}
SPECS = [
    {"group_by": [{"field": "order_date", "bucket": "month"}, SEGMENT], "filters": [{"field": "counted"}]},
    {"group_by": [{"field": "order_date", "bucket": "quarter"}, SEGMENT]},
    {"group_by": [{"field": "order_date", "bucket": "year"}]},
    {"group_by": [{"field": "order_date", "bucket": "week"}]},
    {"group_by": [{"field": "order_date", "bucket": "day"}, SEGMENT]},
    {"group_by": [SEGMENT], "measures": [{"agg": "avg", "field": "amount"}, {"agg": "distinct", "field": "customer"}]},
    # the customer table is still needed (its name) — joined once, the segment from the line's customer key
    {"group_by": [SEGMENT, {"field": "customer"}]},
    {"group_by": [{"field": "customer__name"}], "filters": [{"field": "customer__analytics_score__segment", "op": "isnull", "value": False}]},
    {"group_by": [SEGMENT], "filters": [{"field": "customer__analytics_score__segment", "op": "isnull", "value": True}]},
    {"group_by": [{"field": "order__owner__department", "level": 2}, SEGMENT]},
    {},
]  # fmt: skip


def _spec(extra: dict) -> dict:
    data = {"model": "sales.orderline", "measures": [{"agg": "sum", "field": "amount"}, {"agg": "count"}]}
    data.update(extra)
    for flt in data.get("filters", []):
        flt.setdefault("op", "eq")
        flt.setdefault("value", True)
    return data


def test_fast_statement_gives_the_plain_statements_results(history, org):
    for n, extra in enumerate(SPECS):
        for user in (org.exec, org.rep1, org.rep3):
            spec = reports.parse_spec(_spec(extra), user=user)
            fast = reports.run(spec, user=user)
            plain = reports.run(spec, user=user, plain=True)
            assert fast == plain, (n, user.username)
            assert fast["rows"] or user != org.exec, n
    # not vacuous: the rep's figures differ from the executive's, the segments include "none"
    spec = reports.parse_spec(_spec(SPECS[0]), user=org.exec)
    everything = reports.run(spec, user=org.exec)
    mine = reports.run(reports.parse_spec(_spec(SPECS[0]), user=org.rep1), user=org.rep1)
    assert sum(r["values"][1] for r in mine["rows"]) < sum(r["values"][1] for r in everything["rows"])


def test_the_segment_is_joined_on_the_lines_customer_without_the_customer_table(history, org):
    spec = reports.parse_spec(_spec(SPECS[0]), user=org.rep1)
    fast_sql = str(reports.compile_query(spec, user=org.rep1, summary=False)[0].query)
    plain_sql = str(reports.compile_query(spec, user=org.rep1, plain=True)[0].query)
    assert '"customers_customer"' in plain_sql
    assert '"customers_customer"' not in fast_sql
    assert '"sales_orderline"."customer_id" = "analytics_customerscore"."customer_id"' in fast_sql
    if connection.vendor == "postgresql":
        assert "::timestamp)::date" in fast_sql and "::timestamp)::date" not in plain_sql
    # still one statement
    with CaptureQueriesContext(connection) as queries:
        reports.run(spec, user=org.rep1, summary=False)
    assert len([q for q in queries.captured_queries if "sales_orderline" in q["sql"]]) == 1


def test_customer_table_kept_when_the_report_also_uses_it(history, org):
    spec = reports.parse_spec(_spec(SPECS[6]), user=org.exec)
    fast_sql = str(reports.compile_query(spec, user=org.exec)[0].query)
    assert "analytics_orderlinemonth" not in fast_sql  # a customer is no dimension of the summary
    assert '"customers_customer"' in fast_sql
    result = reports.run(spec, user=org.exec)
    names = {r["labels"][1] for r in result["rows"]}
    assert {"北京优选贸易有限公司", "只取消的客户"} <= names


def test_segment_empty_for_customers_without_a_score(history, org):
    spec = reports.parse_spec(_spec(SPECS[8]), user=org.exec)
    result = reports.run(spec, user=org.exec)
    assert len(result["rows"]) == 1 and result["rows"][0]["keys"] == [None]
    assert result["rows"][0]["values"] == [500.0, 1]  # the cancelled-only customer's line


# ------------------------------------------------------------------ the order-line summary (PostgreSQL only)
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the summary is kept by PostgreSQL triggers (0007_anperf)"
)
MONTH_SEGMENT = SPECS[0]
SUMMARY_SPECS = [
    MONTH_SEGMENT,
    {"group_by": [{"field": "order_date", "bucket": "quarter"}, SEGMENT], "filters": [{"field": "counted", "op": "ne"}]},
    {"group_by": [{"field": "order_date", "bucket": "year"}, {"field": "currency"}],
     "measures": [{"agg": "sum", "field": "quantity"}, {"agg": "count"}],
     "filters": [{"field": "currency", "op": "in", "value": ["CNY", "USD"]}]},
    {"group_by": [SEGMENT], "chart": "pie"},
    {"group_by": [{"field": "counted"}, {"field": "order_date", "bucket": "month"}]},
]  # fmt: skip


def _uses_summary(spec, user) -> bool:
    sql = str(reports.compile_query(spec, user=user)[0].query)
    return "analytics_orderlinemonth" in sql and "sales_orderline" not in sql


def _same_both_ways(org, user=None):
    user = user or org.exec
    for extra in SUMMARY_SPECS:
        spec = reports.parse_spec(_spec(dict(extra)), user=user)
        assert reports.run(spec, user=user) == reports.run(spec, user=user, plain=True), extra


@postgres_only
def test_summary_answers_the_executive_with_the_plain_results(history, org):
    for extra in SUMMARY_SPECS:
        spec = reports.parse_spec(_spec(dict(extra)), user=org.exec)
        assert _uses_summary(spec, org.exec), extra
    _same_both_ways(org)
    # one statement over the summary, none over the lines
    spec = reports.parse_spec(_spec(MONTH_SEGMENT), user=org.exec)
    with CaptureQueriesContext(connection) as queries:
        result = reports.run(spec, user=org.exec)
    assert not [q for q in queries.captured_queries if "sales_orderline" in q["sql"]]
    assert len([q for q in queries.captured_queries if "analytics_orderlinemonth" in q["sql"]]) == 1
    assert result["rows"]
    by_segment = reports.run(reports.parse_spec(_spec(dict(SUMMARY_SPECS[3])), user=org.exec), user=org.exec)
    assert None in {r["keys"][0] for r in by_segment["rows"]}  # the customer without a score


@postgres_only
def test_summary_for_an_owner_scope_and_not_for_other_shapes(history, org):
    for user in (org.rep1, org.rep3):
        spec = reports.parse_spec(_spec(MONTH_SEGMENT), user=user)
        assert _uses_summary(spec, user)
        _same_both_ways(org, user)
    for extra in (
        {"group_by": [{"field": "order_date", "bucket": "week"}, SEGMENT]},  # a week crosses months
        {"group_by": [SEGMENT], "measures": [{"agg": "avg", "field": "amount"}]},
        {"group_by": [SEGMENT], "filters": [{"field": "amount", "op": "gt", "value": 10}]},
        {"group_by": [{"field": "customer"}]},
    ):
        spec = reports.parse_spec(_spec(extra), user=org.exec)
        assert not _uses_summary(spec, org.exec), extra


def _summary_with_lines(spec, user) -> bool:
    """the summary of the reader's owners plus the lines of their shared orders, in one statement"""
    rows = reports.compile_query(spec, user=user)[0]
    sql = str(rows.query)
    return "analytics_orderlinemonth" in sql and "sales_orderline" in sql and "UNION ALL" in sql


@postgres_only
def test_summary_serves_readers_with_shared_records_with_the_plain_results(history, org, make_customer):
    from kehu.core.models import RecordShare, Team
    from kehu.sales.models import Order

    spec = reports.parse_spec(_spec(MONTH_SEGMENT), user=org.rep1)
    before = reports.run(spec, user=org.rep1)
    # rep3's orders of c: one shared with rep1 in person, one with a team of rep1's, one twice (both ways)
    c_orders = list(Order.objects.filter(customer=history["c"], kind="sale").order_by("id"))
    team = Team.objects.create(name="大客户小组")
    team.members.add(org.rep1)
    RecordShare.objects.create(model="sales.order", object_id=c_orders[0].pk, user=org.rep1)
    RecordShare.objects.create(model="sales.order", object_id=c_orders[1].pk, team=team)
    RecordShare.objects.create(model="sales.order", object_id=c_orders[2].pk, user=org.rep1)
    RecordShare.objects.create(model="sales.order", object_id=c_orders[2].pk, team=team)
    # an order of rep1's own shared with rep1 again (counted once), an ownerless order shared with rep1, and
    # a cancelled line of rep3's shared (the report filters counted lines)
    own = Order.objects.filter(customer=history["a"]).first()
    RecordShare.objects.create(model="sales.order", object_id=own.pk, user=org.rep1)
    stray = buy(make_customer("无主客户", owner=None), c_orders[0].order_date, 55)
    Order.objects.filter(pk=stray.pk).update(owner=None)
    RecordShare.objects.create(model="sales.order", object_id=stray.pk, user=org.rep1)
    cancelled = Order.objects.get(customer=history["c"], status="cancelled")
    RecordShare.objects.create(model="sales.order", object_id=cancelled.pk, user=org.rep1)
    # a share of another model's record with the same id changes nothing
    RecordShare.objects.create(model="customers.customer", object_id=c_orders[3].pk, user=org.rep1)
    Access.forget(org.rep1)
    for extra in SUMMARY_SPECS:
        spec = reports.parse_spec(_spec(dict(extra)), user=org.rep1)
        assert _summary_with_lines(spec, org.rep1), extra
    _same_both_ways(org, org.rep1)
    spec = reports.parse_spec(_spec(MONTH_SEGMENT), user=org.rep1)
    after = reports.run(spec, user=org.rep1)
    # not vacuous: the shared lines are in the figures (rep3's three sales, the ownerless 55)
    shared_amount = sum(float(o.total) for o in c_orders[:3]) + 55
    assert sum(r["values"][0] for r in after["rows"]) == pytest.approx(
        sum(r["values"][0] for r in before["rows"]) + shared_amount
    )
    assert sum(r["values"][1] for r in after["rows"]) == sum(r["values"][1] for r in before["rows"]) + 4
    # one statement, over the summary and the lines; the limit applies to the grouped rows
    with CaptureQueriesContext(connection) as queries:
        reports.run(spec, user=org.rep1)
    assert len([q for q in queries.captured_queries if "analytics_orderlinemonth" in q["sql"]]) == 1
    rows = reports.compile_query(spec, user=org.rep1)[0]
    assert len(rows[:2]) == 2 and rows[:2] == list(rows)[:2]
    # the shared orders change: the figures follow without a scoring run
    from kehu.sales.models import OrderLine

    OrderLine.objects.filter(order=c_orders[0]).update(counted=False)
    Order.objects.filter(pk=c_orders[1].pk).update(owner=org.rep1)  # now rep1's own: counted once
    _same_both_ways(org, org.rep1)
    # rep3 (no shares) still reads the summary alone; the executive too
    assert _uses_summary(spec, org.rep3) or not _summary_with_lines(spec, org.rep3)
    exec_spec = reports.parse_spec(_spec(MONTH_SEGMENT), user=org.exec)
    assert _uses_summary(exec_spec, org.exec)


@postgres_only
def test_summary_answers_order_date_filters_on_month_boundaries(history, org):
    from kehu.core.models import RecordShare
    from kehu.sales.models import Order

    today = timezone.localdate()
    year = today.year - 1
    aligned = [
        [{"field": "order_date", "op": "gte", "value": f"{year}-02-01"},
         {"field": "order_date", "op": "lte", "value": f"{year}-11-30"}],
        [{"field": "order_date", "op": "gt", "value": f"{year}-01-31"},
         {"field": "order_date", "op": "lt", "value": f"{year + 1}-01-01"}],
    ]  # fmt: skip
    unaligned = [
        [{"field": "order_date", "op": "gte", "value": f"{year}-02-15"}],
        [{"field": "order_date", "op": "lt", "value": f"{year}-12-31"}],
        [{"field": "order_date", "op": "eq", "value": f"{year}-02-01"}],
    ]
    order = Order.objects.filter(customer=history["c"]).order_by("id")[1]  # rep3's, shared with rep2
    RecordShare.objects.create(model="sales.order", object_id=order.pk, user=org.rep2)
    for user in (org.exec, org.rep1, org.rep2):
        Access.forget(user)
        everything = reports.run(reports.parse_spec(_spec(dict(MONTH_SEGMENT)), user=user), user=user)
        for filters in aligned:
            extra = {**MONTH_SEGMENT, "filters": [{"field": "counted"}, *filters]}
            spec = reports.parse_spec(_spec(dict(extra)), user=user)
            assert _uses_summary(spec, user) or _summary_with_lines(spec, user), (user.username, filters)
            fast = reports.run(spec, user=user)
            assert fast == reports.run(spec, user=user, plain=True), (user.username, filters)
            months = {r["keys"][0] for r in fast["rows"]}
            assert all(f"{year}-02-01" <= m <= f"{year}-12-01" for m in months), months
            if user != org.rep2:  # rep2 sees one shared order: maybe none in the range
                assert months and len(fast["rows"]) < len(everything["rows"]), user.username
        for filters in unaligned:
            # an11: mid-month bounds use the summary for whole months and the lines for the partial ones
            spec = reports.parse_spec(_spec({**MONTH_SEGMENT, "filters": filters}), user=user)
            assert _summary_with_lines(spec, user), (user.username, filters)
            assert reports.run(spec, user=user) == reports.run(spec, user=user, plain=True)


@postgres_only
def test_summary_not_used_for_shared_records_while_stale(history, org):
    from kehu.analytics.models import CustomerScore
    from kehu.core.models import RecordShare
    from kehu.sales.models import Order

    order = Order.objects.filter(customer=history["c"]).first()
    RecordShare.objects.create(model="sales.order", object_id=order.pk, user=org.rep1)
    Access.forget(org.rep1)
    CustomerScore.objects.filter(customer=history["c"]).update(segment="lost")
    spec = reports.parse_spec(_spec(MONTH_SEGMENT), user=org.rep1)
    rows = reports.compile_query(spec, user=org.rep1)[0]
    assert "analytics_orderlinemonth" not in str(rows.query)
    assert reports.run(spec, user=org.rep1) == reports.run(spec, user=org.rep1, plain=True)


@postgres_only
def test_summary_follows_order_changes_without_a_scoring_run(history, org, make_customer):
    from kehu.sales.models import Order, OrderLine

    a, c = history["a"], history["c"]
    today = timezone.localdate()
    buy(a, today, 123.45)  # insert
    buy(make_customer("新客户", owner=org.rep3), today, 10)  # a customer without a score
    line = OrderLine.objects.filter(customer=c, counted=True).first()
    OrderLine.objects.filter(pk=line.pk).update(counted=False)  # cancellation
    OrderLine.objects.filter(customer=a).order_by("id").first().delete()  # delete
    OrderLine.objects.filter(customer=history["b"]).update(customer=c)  # lines moved to another customer
    OrderLine.objects.filter(customer=a).update(order_date=today - dt.timedelta(days=40))  # redated
    spec = reports.parse_spec(_spec(MONTH_SEGMENT), user=org.exec)
    assert _uses_summary(spec, org.exec)
    for user in (org.exec, org.rep1, org.rep3):
        _same_both_ways(org, user)
    OrderLine.objects.filter(customer=history["d"]).delete()  # every line of a group gone: no empty group
    # orders handed from rep3 to rep1: their lines move between the reps' figures
    Order.objects.filter(customer=c).update(owner=org.rep1)
    for user in (org.exec, org.rep1, org.rep3):
        _same_both_ways(org, user)


@postgres_only
def test_summary_stale_after_scores_change_outside_a_run_until_the_next_run(history, org):
    from kehu.analytics.models import CustomerScore

    spec = reports.parse_spec(_spec(MONTH_SEGMENT), user=org.exec)
    before = reports.run(spec, user=org.exec)
    CustomerScore.objects.filter(customer=history["a"]).update(segment="lost")
    assert not _uses_summary(spec, org.exec)
    changed = reports.run(spec, user=org.exec)
    assert changed == reports.run(spec, user=org.exec, plain=True) and changed != before
    run = scoring_run()
    assert "report_summary" in run.timings
    assert _uses_summary(spec, org.exec)
    _same_both_ways(org)
