"""Churn's contact gap without a per-customer loop (an11): one aggregation over the interactions for today and
the churn cut together, local dates taken after grouping, customers looked up in the sorted account ids. The
result equals the old per-row reading (the reference below), on PostgreSQL the binary-COPY path equals the
portable one, and one statement serves both days."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kehu.analytics import churn, services
from kehu.interactions.models import Interaction

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 5, 20)
CUT = dt.date(2026, 2, 19)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


@pytest.fixture
def contacts(org, make_customer):
    account = make_customer("北京联系有限公司", owner=org.rep1)
    late = make_customer("深夜联系客户", owner=org.rep1)
    twice = make_customer("两次联系客户", owner=org.rep1)
    never = make_customer("从未联系客户", owner=org.rep1)
    events = make_customer("只有事件客户", owner=org.rep1)
    after_cut = make_customer("截点后联系客户", owner=org.rep1)
    future = make_customer("未来联系客户", owner=org.rep1)

    def touch(customer, when, channel="call", account=None):
        Interaction.objects.create(
            customer=customer, account=account or customer, channel=channel, direction="out", subject="s",
            user=org.rep1, occurred_at=when,
        )  # fmt: skip

    # 00:30 local on 11 May is 16:30 UTC on 10 May: the local date counts (gap 9, not 10)
    touch(late, _at(dt.date(2026, 5, 11), 0, 30))
    touch(twice, _at(dt.date(2026, 5, 18), 9))
    touch(twice, _at(dt.date(2026, 1, 5), 9))
    touch(events, _at(dt.date(2026, 5, 19), 9), channel="event")
    touch(after_cut, _at(dt.date(2026, 3, 1), 9))
    touch(future, _at(dt.date(2026, 5, 21), 0, 5))  # after the as-of day: left out
    touch(account, _at(dt.date(2025, 12, 1), 9))
    return [account, late, twice, never, events, after_cut, future]


def _reference(ids, *, as_of, fallback) -> np.ndarray:
    """The pre-an11 reading: every interaction up to the day, the latest per account in Python."""
    last: dict[int, dt.date] = {}
    end = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))
    for account_id, when, channel in Interaction.objects.values_list("account_id", "occurred_at", "channel"):
        if when < end and channel != "event":
            day = timezone.localtime(when).date()
            last[account_id] = max(day, last.get(account_id, day))
    gap = np.array(fallback, dtype=float)
    for i, cid in enumerate(ids.tolist()):
        if cid in last:
            gap[i] = max((as_of - last[cid]).days, 0)
    return np.clip(gap, 0, churn.CONTACT_GAP_CAP)


def test_contact_gaps_for_today_and_the_cut_equal_the_per_row_reading(contacts):
    ids = np.array(sorted(c.pk for c in contacts), dtype=np.int64)
    fallback = np.full(len(ids), 400.0)
    with CaptureQueriesContext(connection) as queries:
        both = churn.last_contacts([AS_OF, CUT])
    assert len([q for q in queries.captured_queries if "interactions_interaction" in q["sql"]]) == 1
    for day in (AS_OF, CUT):
        gap, any_contact = churn._contact_gap(ids, as_of=day, fallback=fallback, contacts=both)
        assert gap.tolist() == _reference(ids, as_of=day, fallback=fallback).tolist()
        assert any_contact
    by_id = dict(
        zip(
            ids.tolist(),
            churn._contact_gap(ids, as_of=AS_OF, fallback=fallback, contacts=both)[0],
            strict=True,
        )
    )
    account, late, twice, never, events, after_cut, future = contacts
    assert by_id[late.pk] == 9 and by_id[twice.pk] == 2 and by_id[after_cut.pk] == 80
    assert by_id[never.pk] == by_id[events.pk] == by_id[future.pk] == 400  # the fallback (tenure)
    cut_by_id = dict(
        zip(
            ids.tolist(), churn._contact_gap(ids, as_of=CUT, fallback=fallback, contacts=both)[0], strict=True
        )
    )
    assert cut_by_id[twice.pk] == (CUT - dt.date(2026, 1, 5)).days and cut_by_id[after_cut.pk] == 400


def test_no_interactions_at_all_gives_the_fallback_and_says_so(org, make_customer):
    c = make_customer("孤立客户", owner=org.rep1)
    gap, any_contact = churn._contact_gap(np.array([c.pk]), as_of=AS_OF, fallback=np.array([12.0]))
    assert gap.tolist() == [12.0] and not any_contact
    empty, _ = churn._contact_gap(np.zeros(0, np.int64), as_of=AS_OF, fallback=np.zeros(0))
    assert empty.tolist() == []


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_binary_copy_path_equals_the_portable_one(contacts, monkeypatch):
    fast = churn.last_contacts([AS_OF, CUT])
    monkeypatch.setattr(services, "FAST_PATHS", False)
    plain = churn.last_contacts([AS_OF, CUT])
    assert fast.accounts.tolist() == plain.accounts.tolist()
    for day in (AS_OF, CUT):
        assert fast.last[day].tolist() == plain.last[day].tolist()
