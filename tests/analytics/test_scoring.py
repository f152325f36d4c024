"""The scoring run end to end on the database: aggregation (returns netted, cancellations and future dates
excluded, other currencies reported), fallbacks when the models cannot be fitted, the score table replaced,
and no non-finite value stored."""

from __future__ import annotations

import datetime as dt
import io
import math
import random
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from kehu.analytics.models import CustomerScore, RunStatus, ScoringRun
from kehu.analytics.services import purchase_history, scoring_run
from kehu.core.models import AuditEntry
from kehu.customers.models import Customer

from .conftest import buy

pytestmark = pytest.mark.django_db


def days_ago(n: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=n)


def test_returns_net_out_cancellations_and_future_orders_are_left_out(make_customer):
    c = make_customer("上海启明星科技有限公司")
    sale = buy(c, days_ago(100), 1000)
    buy(c, days_ago(90), 500, returns=sale)  # partial refund on another day: nets, not a purchase day
    buy(c, days_ago(50), 300)
    buy(c, days_ago(50), 200)  # two orders the same day are one purchase
    buy(c, days_ago(20), 9999, cancelled=True)
    buy(c, days_ago(-5), 777)  # future-dated
    h = purchase_history(currency="CNY", as_of=timezone.localdate())
    assert h.customer_id.tolist() == [c.pk]
    assert h.days.tolist() == [2]  # day -100 and day -50
    assert h.monetary.tolist() == [1000.0]  # 1000 - 500 + 300 + 200
    assert str(h.first[0]) == str(days_ago(100)) and str(h.last[0]) == str(days_ago(50))


def test_a_small_data_set_falls_back_with_messages_and_stores_only_finite_values(make_customer, admin_user):
    one = make_customer("一次性客户")
    buy(one, days_ago(30), 120)  # one purchase only
    zero = make_customer("零消费客户")
    buy(zero, days_ago(10), 0.01)
    refunded = make_customer("退款大于购买")
    sale = buy(refunded, days_ago(60), 100)
    buy(refunded, days_ago(40), 300, returns=sale)  # refunds larger than purchases
    dollars = make_customer("Acme Inc.")
    buy(dollars, days_ago(5), 50, currency="USD")
    buy(make_customer("未来客户"), days_ago(-3), 80)
    run = scoring_run(by=admin_user)
    assert run.status == RunStatus.DONE and run.customers == 3
    assert run.purchase_model == "heuristic" and run.spend_model == "mean"
    text = " ".join(run.messages)
    assert "BG/NBD not fitted: too little data: 3 customers" in text
    assert "Gamma-Gamma not fitted" in text
    assert "currencies other than CNY" in text and "dated after" in text
    scores = {s.customer_id: s for s in CustomerScore.objects.all()}
    assert set(scores) == {one.pk, zero.pk, refunded.pk}
    assert scores[refunded.pk].monetary == Decimal("-200.00")
    assert scores[refunded.pk].clv == Decimal("0.00")  # never a negative expected spend
    for s in scores.values():
        for value in (s.p_alive, s.expected_purchases, float(s.clv), float(s.expected_spend)):
            assert math.isfinite(value) and value >= 0
        assert 0 <= s.p_alive <= 1
    entry = AuditEntry.objects.get(model="analytics.scoringrun", object_id=str(run.pk))
    assert entry.actor == admin_user and entry.changes["customers"] == 3


def simulate(customers, rng, *, weeks=78):
    """Purchases of a BG/NBD world (gamma rates, beta dropout) over the last `weeks` weeks."""
    today = timezone.localdate()
    for c in customers:
        rate = rng.gammavariate(0.6, 1 / 6)  # purchases per day
        p_drop = rng.betavariate(1, 3)
        spend = rng.lognormvariate(5, 0.4)
        day = today - dt.timedelta(days=rng.randrange(7, weeks * 7))
        while day <= today:
            buy(c, day, round(spend * rng.uniform(0.6, 1.4), 2))
            if rng.random() < p_drop:
                break
            day += dt.timedelta(days=max(1, int(rng.expovariate(rate))))


def test_enough_history_fits_both_models_and_scores_every_buyer(org):
    rng = random.Random(11)
    customers = [
        Customer.objects.create(name=f"客户{i}", owner=org.rep1 if i % 2 else org.rep3) for i in range(150)
    ]
    simulate(customers, rng)
    run = scoring_run(horizon_months=6, discount_rate=0.12, bins=4)
    assert run.purchase_model == "bgnbd", run.messages
    assert run.spend_model == "gamma_gamma", run.messages
    assert set(run.bgnbd["params"]) == {"r", "alpha", "a", "b"}
    assert sum(row["actual"] for row in run.frequency_table) == run.customers == 150
    assert {"aggregate", "fit", "score", "write"} <= set(run.timings)  # + value segments and churn
    rows = list(CustomerScore.objects.all())
    assert len(rows) == 150
    assert {r.r_score for r in rows} <= {1, 2, 3, 4} and max(r.r_score for r in rows) == 4
    assert all(math.isfinite(r.p_alive) and 0 <= r.p_alive <= 1 for r in rows)
    assert all(r.clv >= 0 and r.expected_spend > 0 for r in rows)
    # the best customers by CLV are mostly alive, recent buyers
    best = sorted(rows, key=lambda r: r.clv, reverse=True)[:10]
    assert sum(r.p_alive for r in best) / 10 > 0.5

    # a second run replaces the table (one row per customer) and points at the new run
    again = scoring_run()
    assert CustomerScore.objects.count() == 150
    assert set(CustomerScore.objects.values_list("run", flat=True)) == {again.pk}


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="bins"):
        scoring_run(bins=1)
    with pytest.raises(ValueError, match="discount"):
        scoring_run(discount_rate=1.5)


def test_management_command(make_customer):
    buy(make_customer("命令行客户"), days_ago(3), 88)
    out = io.StringIO()
    call_command("analytics_score", "--bins", "3", "--horizon", "24", stdout=out)
    assert "scored 1 customers (heuristic/mean)" in out.getvalue()
    run = ScoringRun.objects.get()
    assert (run.bins, run.horizon_months) == (3, 24)
    with pytest.raises(CommandError):
        call_command("analytics_score", "--as-of", "yesterday")
    with pytest.raises(CommandError):
        call_command("analytics_score", "--bins", "0")
    call_command("analytics_score", "--enqueue", stdout=out)  # the immediate backend runs it at once
    assert ScoringRun.objects.filter(status=RunStatus.DONE).count() == 2
