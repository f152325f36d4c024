"""The NBA engine's maths (kehu/analytics/nba.py): benefit index, shrinkage, eligibility and ranking — NumPy only."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from kehu.analytics import nba

S = 11  # RFM segments; index S = "no score"


def customers(n=3, **overrides):
    base = {
        "ids": np.arange(1, n + 1, dtype=np.int64),
        "segment": np.zeros(n, dtype=np.int64),
        "stage": np.full(n, -1, dtype=np.int64),
        "scored": np.ones(n, dtype=bool),
        "p_alive": np.full(n, 0.8),
        "spend": np.full(n, 1000.0),
        "clv": np.full(n, 5000.0),
        "yearly_value": np.full(n, 3000.0),
        "consent": {"phone": np.ones(n, dtype=bool)},
        "serviceable": np.zeros(n, dtype=bool),
        "owned": np.zeros((n, 0), dtype=bool),
        "product_price": np.zeros(0),
    }
    base.update(overrides)
    return nba.Customers(**base)


def actions(specs):
    """specs: list of dicts with basis, cost, rate (and optional kind, consent, share, default, max_p_alive,
    segments (bool list of S + 1), product_col)."""
    m = len(specs)
    allowed = np.ones((m, S + 1), dtype=bool)
    for j, s in enumerate(specs):
        if "segments" in s:
            allowed[j] = s["segments"]
    return nba.Actions(
        ids=np.arange(10, 10 + m, dtype=np.int64),
        kind=[s.get("kind", "call") for s in specs],
        basis=np.array([nba.BASES[s["basis"]] for s in specs]),
        share=np.array([s.get("share", 1.0) for s in specs]),
        default_value=np.array([s.get("default", 0.0) for s in specs]),
        cost=np.array([s["cost"] for s in specs], dtype=float),
        max_p_alive=np.array([s.get("max_p_alive", 1.0) for s in specs]),
        consent_channel=[s.get("consent", "") for s in specs],
        allowed_segments=allowed,
        allowed_stages=np.ones((m, 7), dtype=bool),
        product_col=np.array([s.get("product_col", -1) for s in specs], dtype=np.int64),
        rate=np.array([[s["rate"]] * (S + 1) for s in specs], dtype=float),
        value_factor=np.ones((m, S + 1)),
    )


def test_benefit_index_is_e_minus_c_over_c_and_a_free_action_divides_by_the_minimum_cost():
    idx = nba.benefit_index(
        np.array([150.0, 0.0, 50.0, 50.0]), np.array([50.0, 50.0, 0.0, 0.5]), min_cost=1.0
    )
    assert idx.tolist() == [2.0, -1.0, 50.0, 49.5]
    assert nba.benefit_index_scalar(0.0, 0.0) == 0.0


def test_non_finite_inputs_never_give_nan_or_infinity():
    idx = nba.benefit_index(np.array([np.nan, np.inf, -np.inf, 1e300]), np.array([np.nan, 0.0, np.inf, 0.0]))
    assert np.isfinite(idx).all()
    assert idx.max() <= nba.MAX_INDEX


@given(
    effect=st.floats(allow_nan=True, allow_infinity=True),
    cost=st.floats(allow_nan=True, allow_infinity=True),
    floor=st.floats(min_value=0.0, max_value=1e6),
)
def test_benefit_index_is_always_finite(effect, cost, floor):
    assert np.isfinite(nba.benefit_index_scalar(effect, cost, floor))


def test_shrinkage_starts_at_the_prior_and_moves_towards_the_observed_rate():
    prior, k = np.array([0.1, 0.1, 0.1]), np.array([20.0, 20.0, 20.0])
    rate = nba.shrink_rate(
        prior, k, successes=np.array([0.0, 10.0, 500.0]), taken=np.array([0.0, 20.0, 1000.0])
    )
    assert rate[0] == 0.1  # no history: the prior
    assert rate[1] == (20 * 0.1 + 10) / 40  # half way between 0.1 and 0.5
    assert abs(rate[2] - 0.5) < 0.01  # much history: the observed rate
    factor = nba.shrink_factor(k, realised=np.array([0.0, 400.0, 0.0]), expected=np.array([0.0, 200.0, 0.0]),
                               taken=np.array([0.0, 20.0, 5.0]))  # fmt: skip
    assert factor[0] == 1.0
    assert factor[1] == (20 + 20 * 2.0) / 40
    assert factor[2] == 1.0  # nothing was expected: the ratio counts as 1, not 0/0


def test_ranking_orders_by_benefit_index_and_keeps_top_n():
    c = customers(2)
    a = actions(
        [
            {"basis": "spend", "cost": 42.0, "rate": 0.08},  # E = .08·1000·.8 = 64 → (64-42)/42
            {"basis": "clv", "cost": 550.0, "rate": 0.3, "share": 0.15},  # E = .3·.15·5000·.8 = 180 → < 0
            {"basis": "spend", "cost": 20.05, "rate": 0.05},  # E = 40 → (40-20.05)/20.05
        ]
    )
    r = nba.rank(c, a, top_n=2)
    assert r.customer.tolist() == [0, 0, 1, 1]
    assert r.action.tolist() == [2, 0, 2, 0]
    assert r.rank.tolist() == [1, 2, 1, 2]
    assert np.allclose(r.effect[:2], [40.0, 64.0])
    assert np.allclose(r.index[:2], [(40 - 20.05) / 20.05, (64 - 42) / 42])


def test_consent_service_base_segments_and_p_alive_make_actions_ineligible():
    c = customers(
        3,
        consent={"phone": np.array([True, False, True])},
        serviceable=np.array([False, False, True]),
        p_alive=np.array([0.9, 0.9, 0.2]),
        segment=np.array([0, 7, 7]),
    )
    only_seg7 = [s == 7 for s in range(S + 1)]
    a = actions(
        [
            {"basis": "spend", "cost": 1.0, "rate": 0.5, "consent": "phone"},
            {"basis": "clv", "cost": 1.0, "rate": 0.5, "kind": "service_check"},
            {"basis": "at_risk", "cost": 1.0, "rate": 0.5, "segments": only_seg7, "max_p_alive": 0.5},
        ]
    )
    r = nba.rank(c, a, top_n=3)
    pairs = set(zip(r.customer.tolist(), r.action.tolist(), strict=True))
    assert pairs == {(0, 0), (2, 0), (2, 1), (2, 2)}


def test_cross_sell_picks_the_first_lacking_best_seller_or_the_fixed_product():
    owned = np.array([[True, False, False], [True, True, True], [False, True, False]])
    c = customers(3, owned=owned, product_price=np.array([100.0, 200.0, 300.0]))
    a = actions(
        [
            {"basis": "product", "cost": 1.0, "rate": 0.5},
            {"basis": "product", "cost": 1.0, "rate": 0.5, "product_col": 2},
        ]
    )
    r = nba.rank(c, a, top_n=2)
    got = {
        (ci, ai): p
        for ci, ai, p in zip(r.customer.tolist(), r.action.tolist(), r.product_col.tolist(), strict=True)
    }
    assert got == {(0, 0): 1, (0, 1): 2, (2, 0): 0, (2, 1): 2}  # customer 1 has everything: nothing to sell


def test_customers_without_a_score_take_the_default_value_and_suppressed_pairs_are_left_out():
    c = customers(
        2, scored=np.array([False, True]), segment=np.array([S, 0]), p_alive=np.array([np.nan, 0.5])
    )
    a = actions([{"basis": "spend", "cost": 10.0, "rate": 0.1, "default": 300.0}])
    r = nba.rank(c, a)
    assert r.effect.tolist() == [30.0, 50.0]  # unscored: 0.1 · 300 · P(alive) 1; scored: 0.1 · 1000 · 0.5
    r = nba.rank(c, a, suppressed=(np.array([1]), np.array([0])))
    assert r.customer.tolist() == [0]


def test_empty_inputs_give_an_empty_ranking():
    r = nba.rank(customers(0), actions([{"basis": "spend", "cost": 1.0, "rate": 0.1}]))
    assert r.customer.size == 0


def test_an_action_for_some_lifecycle_stages_skips_other_and_unknown_stages():
    c = customers(3, stage=np.array([0, 4, -1]))
    a = actions([{"basis": "spend", "cost": 1.0, "rate": 0.5}, {"basis": "spend", "cost": 1.0, "rate": 0.4}])
    a.allowed_stages[0] = [False, False, False, False, True, False, False]  # the first only for stage 4
    r = nba.rank(c, a, top_n=2)
    pairs = set(zip(r.customer.tolist(), r.action.tolist(), strict=True))
    assert pairs == {(0, 1), (1, 0), (1, 1), (2, 1)}
