"""ROI, NPV and IRR of CRM initiatives (kehu/analytics/finance.py): textbook values, every IRR of a cash flow with
several sign changes, and a sentence — never NaN or infinity — where a measure is undefined."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kehu.analytics import finance


def test_npv_and_irr_match_hand_computed_values():
    # −100 today, +60 and +60: NPV at 10 % = −100 + 54.545… + 49.586… = 4.132…; IRR solves 60/(1+r) + 60/(1+r)² = 100
    assert finance.npv(0.10, [-100, 60, 60]) == pytest.approx(4.1322314, rel=1e-7)
    (irr,) = finance.irr_all([-100, 60, 60])
    assert irr == pytest.approx(0.1306623863, rel=1e-9)
    assert finance.npv(irr, [-100, 60, 60]) == pytest.approx(0, abs=1e-9)


def test_evaluate_gives_roi_npv_irr_payback_and_converts_rates_between_periods():
    result = finance.evaluate([100, 0, 0], [0, 60, 60], annual_rate=0.10, months=12)
    assert result.roi == pytest.approx(0.2)
    assert result.npv == pytest.approx(4.1322314)
    assert result.irr == pytest.approx(0.1306623863)
    assert result.irr_annual == pytest.approx(0.1306623863)
    assert result.payback_period == 2
    assert result.messages == []
    quarterly = finance.evaluate([100, 0], [0, 110], annual_rate=0.10, months=3)
    assert quarterly.irr == pytest.approx(0.10)
    assert quarterly.irr_annual == pytest.approx(1.1**4 - 1)
    # 10 % a year is (1.1)^(1/4) − 1 a quarter
    assert quarterly.npv == pytest.approx(-100 + 110 / 1.1**0.25)


def test_several_sign_changes_give_every_irr_and_a_message():
    # −100, +230, −132 = −(1.1 − x)(1.2 − x)… : roots at 10 % and 20 %
    result = finance.evaluate([100, 0, 132], [0, 230, 0], annual_rate=0.15, months=12)
    assert result.irr is None
    assert result.irrs == [pytest.approx(0.10), pytest.approx(0.20)]
    assert any("more than one internal rate of return" in m for m in result.messages)
    assert result.npv is not None and math.isfinite(result.npv)


@pytest.mark.parametrize(
    ("outflows", "inflows", "fragment"),
    [
        ([100, 50, 25], [0, 0, 0], "never change sign"),  # costs only
        ([0, 0], [10, 20], "never change sign"),  # benefits only
        ([], [], "no cash flows"),
        ([0, 0, 0], [0, 0, 0], "no cash flows"),
    ],
)
def test_undefined_measures_come_with_a_sentence_not_nan(outflows, inflows, fragment):
    result = finance.evaluate(outflows, inflows, annual_rate=0.08, months=3)
    assert result.irr is None and result.irr_annual is None and result.irrs == []
    assert any(fragment in m for m in result.messages), result.messages
    for value in (result.roi, result.npv, result.invested, result.returned, result.net):
        assert value is None or math.isfinite(value)


def test_costs_only_still_have_a_negative_roi_and_npv():
    result = finance.evaluate([100, 50], [0, 0], annual_rate=0.0, months=12)
    assert result.roi == -1.0
    assert result.npv == -150.0


def test_no_investment_means_no_roi_and_a_bad_rate_no_npv():
    free = finance.evaluate([0, 0], [10, 20], annual_rate=0.1, months=12)
    assert free.roi is None and any("Nothing was invested" in m for m in free.messages)
    bad = finance.evaluate([100, 0], [0, 120], annual_rate=-1.5, months=12)
    assert bad.npv is None and any("above −100" in m for m in bad.messages)
    assert bad.irr == pytest.approx(0.2)


def test_leading_and_trailing_empty_periods_do_not_change_the_irr():
    assert finance.irr_all([0, -100, 0, 121, 0, 0]) == [pytest.approx(0.10)]


@given(
    st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=6),
    st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=10),
)
def test_a_single_irr_zeroes_the_npv_and_nothing_is_ever_nan(costs, benefits):
    # conventional project: costs first, then benefits — at most one sign change, so at most one IRR
    outflows = costs + [0] * len(benefits)
    inflows = [0] * len(costs) + benefits
    result = finance.evaluate(outflows, inflows, annual_rate=0.08, months=3)
    for value in (result.roi, result.npv, result.irr, result.irr_annual):
        assert value is None or math.isfinite(value)
    if result.irr is not None:
        flows = [i - o for o, i in zip(outflows, inflows, strict=True)]
        scale = max(abs(f) for f in flows)
        assert finance.npv(result.irr, flows) == pytest.approx(0, abs=1e-6 * scale)
    else:
        assert result.messages
