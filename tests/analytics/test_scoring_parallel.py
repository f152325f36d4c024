"""The scoring aggregation in ranges of customers read concurrently on their own connections in one exported
snapshot (an11, PostgreSQL): the same arrays and data warnings as one statement, whatever the cut points; and
order lines committed by another session while the ranges are read are seen by none of them (one snapshot)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from kehu.analytics import services
from kehu.analytics.services import purchase_history

from .conftest import buy
from .test_scoring_fast import odd  # noqa: F401 - bad-input customers
from .test_value import history  # noqa: F401 - the 60-customer fixture

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL exported snapshots"),
]

FIELDS = ("customer_id", "days", "first", "last", "monetary")


def _read():
    warnings: list[str] = []
    today = timezone.localdate()
    h = purchase_history(currency="CNY", as_of=today, cut=today - dt.timedelta(days=90), warnings=warnings)
    return h, warnings


def _elsewhere(work) -> None:
    """Run `work` on a connection of its own (a thread), committed before returning."""
    import threading

    from django.db import connections

    def target():
        try:
            work()
        finally:
            connections["default"].close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()


def _same(a, b) -> None:
    for x, y in ((a, b), (a.at_cut, b.at_cut)):
        for name in FIELDS:
            u, v = getattr(x, name), getattr(y, name)
            assert u.dtype == v.dtype and np.array_equal(u, v), name


@pytest.mark.parametrize("cuts", [1, 2, 5])
def test_ranges_read_concurrently_equal_one_statement(history, odd, settings, monkeypatch, cuts):  # noqa: F811
    one, one_warnings = _read()
    ids = one.customer_id
    points = sorted({int(ids[len(ids) * k // (cuts + 1)]) for k in range(1, cuts + 1)})
    settings.KEHU_ANALYTICS = {**settings.KEHU_ANALYTICS, "AGGREGATE_WORKERS": cuts + 1}
    used = []

    def split(cursor, parts):
        used.append(parts)
        return points

    monkeypatch.setattr(services, "_split_points", split)
    many, many_warnings = _read()
    assert used == [cuts + 1]
    _same(one, many)
    assert many_warnings == one_warnings and len(one_warnings) == 2  # future-dated and other-currency lines
    assert np.all(np.diff(many.customer_id) > 0)


def test_the_ranges_share_one_snapshot(history, settings, monkeypatch, org, make_customer):  # noqa: F811
    before, _ = _read()
    late = make_customer("并发新客户", owner=org.rep1)
    settings.KEHU_ANALYTICS = {**settings.KEHU_ANALYTICS, "AGGREGATE_WORKERS": 2}
    points = [int(before.customer_id[len(before.customer_id) // 2])]
    copy = services._copy_history
    calls = []

    def copy_then_commit(cursor, sql, params, types):
        calls.append(1)
        if len(calls) == 1:  # while the first range is read, another session commits a purchase
            _elsewhere(lambda: buy(late, timezone.localdate() - dt.timedelta(days=1), 999))
        return copy(cursor, sql, params, types)

    monkeypatch.setattr(services, "_split_points", lambda cursor, parts: points)
    monkeypatch.setattr(services, "_copy_history", copy_then_commit)
    during, _ = _read()
    assert late.pk not in during.customer_id.tolist()  # the snapshot was taken before
    _same(before, during)
    monkeypatch.setattr(services, "_copy_history", copy)
    after, _ = _read()
    assert late.pk in after.customer_id.tolist()


def test_small_tables_and_open_transactions_read_in_one_statement(history, settings):  # noqa: F811
    from django.db import transaction

    settings.KEHU_ANALYTICS = {**settings.KEHU_ANALYTICS, "AGGREGATE_WORKERS": 4}
    with connection.cursor() as cursor:
        assert services._split_points(cursor, 4) == []  # far fewer lines than SPLIT_MIN_LINES
    with transaction.atomic():  # a caller's transaction: other connections could not see its rows
        h, _ = _read()
    assert len(h.customer_id) == 60
