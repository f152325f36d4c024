"""The calibration/holdout check of the BG/NBD model (issue #11 item 2; `clv.bgnbd_holdout`, shown on the
diagnostics page): on purchases simulated from a known BG/NBD world, the model fitted on the calibration period
predicts the holdout period's repeat purchases — in total and per calibration frequency — and bad input gives a
clear error, never NaN."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from django.utils import timezone

from kehu.analytics import clv

CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def bgnbd_world(n: int, *, holdout: float = 39.0, seed: int = 3):
    """n customers of a BG/NBD world with the CDNOW parameters (weeks): first purchase 27–39 weeks before the
    cut, then exponential gaps at a gamma rate and a beta chance of dropping out after each purchase.
    Returns x, t_x, T of the calibration period and the repeat purchases in the `holdout` weeks after it."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(CDNOW["r"], 1 / CDNOW["alpha"], n)
    p = rng.beta(CDNOW["a"], CDNOW["b"], n)
    T = rng.uniform(27, 39, n)
    x, t_x, after = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        t, alive = 0.0, True
        while alive:
            t += rng.exponential(1 / lam[i])
            if t > T[i] + holdout:
                break
            if t <= T[i]:
                x[i], t_x[i] = x[i] + 1, t
            else:
                after[i] += 1
            alive = rng.random() >= p[i]
    return x, t_x, T, after


def test_the_holdout_purchases_are_predicted_in_total_and_by_frequency():
    x, t_x, T, after = bgnbd_world(6000)
    result = clv.bgnbd_holdout(x, t_x, T, after, 39.0)
    assert result["customers"] == 6000 and result["weeks"] == 39.0
    assert result["actual"] == after.sum() > 1000
    assert result["expected"] == pytest.approx(result["actual"], rel=0.1)
    rows = {r["x"]: r for r in result["rows"]}
    assert list(rows) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(r["customers"] for r in rows.values()) == 6000
    # frequent buyers buy more after the cut too, and the model says so
    assert rows["0"]["expected"] < rows["2"]["expected"] < rows["7+"]["expected"]
    for k in ("0", "1", "2"):
        assert rows[k]["expected"] == pytest.approx(rows[k]["actual"], rel=0.25, abs=0.05), k
    assert 0 < result["mae"] < 3
    for name, value in CDNOW.items():  # the calibration fit recovers the world it came from
        assert result["params"][name] == pytest.approx(value, rel=0.35), name


def test_bad_input_gives_a_clear_error_and_never_nan():
    x, t_x, T, after = bgnbd_world(300)
    with pytest.raises(clv.FitError, match="holdout period is empty"):
        clv.bgnbd_holdout(x, t_x, T, after, 0.0)
    with pytest.raises(clv.FitError):
        clv.bgnbd_holdout(x[:5], t_x[:5], T[:5], after[:5], 39.0)  # too few customers to fit
    with pytest.raises(clv.FitError):
        clv.bgnbd_holdout(np.zeros(100), np.zeros(100), np.full(100, 30.0), np.zeros(100), 10.0)  # no repeats
    result = clv.bgnbd_holdout(x, t_x, T, after, 39.0)
    flat = [result["actual"], result["expected"], result["mae"]]
    flat += [v for r in result["rows"] for v in (r["actual"], r["expected"])]
    assert all(math.isfinite(v) for v in flat)


@pytest.mark.django_db
def test_the_scoring_run_records_the_check_and_the_diagnostics_page_shows_it(org, admin_user, client_for):
    from kehu.analytics.services import scoring_run
    from kehu.customers.models import Customer

    from .test_scoring import simulate

    customers = [Customer.objects.create(name=f"客户{i}", owner=org.rep1) for i in range(150)]
    simulate(customers, random.Random(5))
    run = scoring_run()
    holdout = run.bgnbd["holdout"]
    assert "error" not in holdout, holdout
    assert holdout["cut"] < timezone.localdate().isoformat() and holdout["weeks"] > 0
    assert holdout["customers"] <= run.customers and holdout["actual"] >= 0
    assert math.isfinite(holdout["expected"]) and len(holdout["rows"]) == 8
    page = client_for(admin_user).get("/analytics/diagnostics/").content.decode()
    assert 'data-testid="holdout-table"' in page and 'data-testid="holdout-expected"' in page
    assert "nan" not in page.lower().replace("nana", "")


@pytest.mark.django_db
def test_too_little_history_before_the_cut_says_so(org, admin_user, client_for):
    import datetime as dt

    from kehu.analytics.services import scoring_run
    from kehu.customers.models import Customer

    from .conftest import buy

    today = timezone.localdate()
    for i in range(40):  # every purchase after the cut: nobody to calibrate on
        c = Customer.objects.create(name=f"新客户{i}", owner=org.rep1)
        buy(c, today - dt.timedelta(days=1 + i % 20), 100 + i)
        buy(c, today - dt.timedelta(days=25 + i % 10), 80 + i)
    run = scoring_run()
    assert run.purchase_model == "bgnbd", run.messages  # the main fit runs on the whole history
    assert run.bgnbd["holdout"] == {"error": "fewer than 30 customers bought before the cut"}
    page = client_for(admin_user).get("/analytics/diagnostics/").content.decode()
    assert 'data-testid="holdout-error"' in page and 'data-testid="holdout-table"' not in page
