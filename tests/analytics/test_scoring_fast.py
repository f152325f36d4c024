"""The scoring run's PostgreSQL fast paths (issue #11 performance, ADR 0011 "Scoring addendum") give exactly
what the portable statements give: the aggregation read as binary columns, the staged write-back of scores,
value segments, churn reasons and the cycle's snapshot, and the report summary moved customer by customer
instead of rebuilt. Each test runs both on the same data and compares the tables row by row."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from kehu.analytics import pgcopy, services
from kehu.analytics.models import CustomerScore
from kehu.analytics.models_value import CustomerValue, ValueSnapshot
from kehu.analytics.services import purchase_history, scoring_run

from .conftest import buy
from .test_value import history  # noqa: F401 - the 60-customer fixture

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL fast paths"),
]

SCORE_FIELDS = [f.attname for f in CustomerScore._meta.concrete_fields if f.attname not in {"id", "run_id", "computed_at"}]  # fmt: skip
VALUE_FIELDS = [f.attname for f in CustomerValue._meta.concrete_fields if f.attname not in {"id", "run_id", "computed_at"}]  # fmt: skip


def _tables() -> dict:
    return {
        "scores": sorted(CustomerScore.objects.values_list(*SCORE_FIELDS)),
        "values": sorted(CustomerValue.objects.values_list(*VALUE_FIELDS)),
        "snapshot": sorted(
            ValueSnapshot.objects.filter(cycle__run=CustomerScore.objects.values("run_id")[:1]).values_list(
                "customer_id", "segment", "clv", "monetary"
            )
        ),
    }


def _summary() -> list:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT month, segment, currency, counted, owner_id, lines, amount, quantity "
            "FROM analytics_orderlinemonth ORDER BY 1, 2, 3, 4, 5"
        )
        return cursor.fetchall()


def _rebuilt() -> list:
    with connection.cursor() as cursor:
        cursor.execute("SELECT analytics_linemonth_rebuild()")
    return _summary()


@pytest.fixture
def odd(org, make_customer):
    """Bad-input customers next to the 60: one purchase, zero spend, refunds larger than purchases, same-day
    orders, a future-dated order, another currency."""

    def ago(n):
        return timezone.localdate() - dt.timedelta(days=n)

    buy(make_customer("一次性客户", owner=org.rep1), ago(30), 120)
    buy(make_customer("零消费客户", owner=org.rep1), ago(10), 0.01)
    refunded = make_customer("退款大于购买", owner=org.rep3)
    sale = buy(refunded, ago(60), 100)
    buy(refunded, ago(40), 300, returns=sale)
    same = make_customer("同日多单", owner=org.rep3)
    buy(same, ago(3), 50)
    buy(same, ago(3), 70)
    buy(make_customer("未来客户", owner=org.rep1), ago(-3), 80)
    buy(make_customer("Acme Inc.", owner=org.rep1), ago(5), 50, currency="USD")


def test_the_binary_aggregation_equals_the_portable_one(history, odd, monkeypatch):  # noqa: F811
    today = timezone.localdate()
    cut = today - dt.timedelta(days=90)
    fast = purchase_history(currency="CNY", as_of=today, cut=cut)
    monkeypatch.setattr(services, "FAST_PATHS", False)
    plain = purchase_history(currency="CNY", as_of=today, cut=cut)
    for a, b in ((fast, plain), (fast.at_cut, plain.at_cut)):
        for name in ("customer_id", "days", "first", "last", "monetary"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert len(fast.at_cut.customer_id) < len(fast.customer_id)


def test_the_staged_write_back_writes_what_the_portable_path_writes(history, odd, monkeypatch):  # noqa: F811
    monkeypatch.setattr(services, "FAST_PATHS", False)
    plain_run = scoring_run()
    plain = _tables()
    monkeypatch.setattr(services, "FAST_PATHS", True)
    fast_run = scoring_run()  # over the plain run's rows: updates every row
    assert fast_run.customers == plain_run.customers == len(plain["scores"])
    assert _tables() == plain
    assert (
        fast_run.purchase_model == plain_run.purchase_model
        and fast_run.value_cycle.churn == plain_run.value_cycle.churn
    )
    # reasons: lists of [code, weight] as the churn model ranked them, some customers with fewer than three
    reasons = [r[-1] for r in plain["values"]]
    assert all(isinstance(r, list) and len(r) <= 3 for r in reasons) and any(reasons)
    # into empty tables (first run) and again with customers gone: the same rows
    CustomerScore.objects.all().delete()
    CustomerValue.objects.all().delete()
    scoring_run()
    assert _tables() == plain


def test_customers_without_purchases_any_more_lose_their_rows(history, monkeypatch):  # noqa: F811
    scoring_run()
    gone = history["stayed"][0]
    from kehu.sales.models import OrderLine

    OrderLine.objects.filter(customer=gone).update(counted=False)
    fast = scoring_run()
    fast_tables = _tables()
    assert not CustomerScore.objects.filter(customer=gone).exists()
    assert not CustomerValue.objects.filter(customer=gone).exists()
    monkeypatch.setattr(services, "FAST_PATHS", False)
    plain = scoring_run()
    assert fast.customers == plain.customers == 59 and _tables() == fast_tables


def test_the_report_summary_moves_only_changed_customers_and_equals_a_rebuild(history, odd, monkeypatch):  # noqa: F811
    first = scoring_run()
    assert first.timings["report_summary"] >= 0
    summary = _summary()
    assert summary == _rebuilt()
    again = scoring_run()  # nothing changed: no customer moves, the summary stays as it is
    assert again.summary_moves == 0 and _summary() == summary
    # months later many customers change segment; forced through the move path, it equals a rebuild
    monkeypatch.setattr(services, "SUMMARY_MOVE_SHARE", 1.0)
    later = scoring_run(as_of=timezone.localdate() + dt.timedelta(days=200))
    assert later.summary_moves > 0
    moved = _summary()
    assert moved == _rebuilt()
    with connection.cursor() as cursor:
        cursor.execute("SELECT valid FROM analytics_linemonth_state")
        assert cursor.fetchone()[0] is True


def test_a_stale_summary_is_rebuilt_not_moved(history):  # noqa: F811
    scoring_run()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE analytics_linemonth_state SET valid = false")
    run = scoring_run()
    assert getattr(run, "summary_moves", None) is None
    assert _summary() == _rebuilt()


def test_the_run_and_cycle_references_carry_no_database_constraint():
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT conrelid::regclass::text, a.attname FROM pg_constraint c
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
               WHERE c.contype = 'f' AND conrelid::regclass::text IN
                 ('analytics_customerscore', 'analytics_customervalue', 'analytics_valuesnapshot')"""
        )
        fks = sorted(cursor.fetchall())
    # the customer stays a real foreign key; run and cycle do not (0008)
    assert fks == [("analytics_customerscore", "customer_id"), ("analytics_customervalue", "customer_id")]


def test_binary_copy_refuses_nulls_damaged_streams_and_non_finite_values():
    with connection.cursor() as cursor:
        assert [
            a.tolist()
            for a in pgcopy.copy_out(cursor, "SELECT 1::int8, %s::float8", [2.5], ["int8", "float8"])
        ] == [[1], [2.5]]
        with pytest.raises(pgcopy.CopyFormatError):
            pgcopy.copy_out(cursor, "SELECT 1::int8, NULL::float8", [], ["int8", "float8"])
        with pytest.raises(pgcopy.CopyFormatError):
            pgcopy.copy_out(cursor, "SELECT 1::int4", [], ["int8"])
    with pytest.raises(pgcopy.CopyFormatError):
        pgcopy.decode(b"not a copy stream", ["int8"])
    with pytest.raises(ValueError, match="non-finite"):
        pgcopy.encode([(np.array([1.0, np.nan]), "float8")])
