"""Churn's calibration history (the purchase summary one churn period back) comes from the scoring run's own
aggregation (`purchase_history(..., cut=)`), not from a second scan of the order lines — and equals what a
separate aggregation at the cut gives, also for refunds, cancellations, same-day orders, other currencies and
customers who bought only after the cut."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kehu.analytics.models_value import CustomerValue
from kehu.analytics.services import purchase_history, scoring_run
from kehu.analytics.value import churn_cut

from .conftest import buy
from .test_value import history  # noqa: F401 - the 60-customer fixture

pytestmark = pytest.mark.django_db


def _same(a, b) -> None:
    assert a.customer_id.tolist() == b.customer_id.tolist()
    assert a.days.tolist() == b.days.tolist()
    assert a.first.tolist() == b.first.tolist() and a.last.tolist() == b.last.tolist()
    assert np.allclose(a.monetary, b.monetary)


def test_the_cut_summary_equals_a_separate_aggregation(history, org, make_customer):  # noqa: F811
    today = timezone.localdate()
    cut = churn_cut(today)
    odd = make_customer("退款客户", owner=org.rep1)
    order = buy(odd, cut - dt.timedelta(days=10), 500)
    buy(
        odd, cut - dt.timedelta(days=5), 800, returns=order
    )  # refund larger than the purchase, before the cut
    buy(odd, cut, 100)  # on the cut day itself: counts up to the cut
    buy(odd, cut, 50)  # same day: one purchase (two purchase days: -10 and the cut; the refund day is none)
    buy(odd, cut - dt.timedelta(days=3), 999, cancelled=True)
    buy(odd, cut - dt.timedelta(days=2), 300, currency="USD")
    late = make_customer("新客户", owner=org.rep1)
    buy(late, cut + dt.timedelta(days=1), 200)  # bought only after the cut: not in the cut summary
    combined = purchase_history(currency="CNY", as_of=today, cut=cut)
    _same(combined, purchase_history(currency="CNY", as_of=today))
    _same(combined.at_cut, purchase_history(currency="CNY", as_of=cut))
    assert combined.cut == cut
    assert late.pk in combined.customer_id.tolist() and late.pk not in combined.at_cut.customer_id.tolist()
    i = combined.at_cut.customer_id.tolist().index(odd.pk)
    assert combined.at_cut.days[i] == 2 and combined.at_cut.monetary[i] == pytest.approx(500 - 800 + 150)
    # a cut after as_of is ignored (no cut summary) rather than reading the future
    assert purchase_history(currency="CNY", as_of=cut, cut=today).at_cut is None


def test_a_scoring_run_scans_the_order_lines_once(history):  # noqa: F811
    with CaptureQueriesContext(connection) as queries:
        run = scoring_run()
    scans = [q["sql"] for q in queries.captured_queries if "GROUP BY customer_id, order_date" in q["sql"]]
    assert len(scans) == 1, scans
    assert run.status == "done" and CustomerValue.objects.count() == 60
    assert not any("not updated" in m for m in run.messages)
