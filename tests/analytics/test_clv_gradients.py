"""The analytic gradients of the BG/NBD and Gamma-Gamma log-likelihoods against central finite differences, on
the CDNOW cohort and on a synthetic one (weighted, with first-day buyers T = 0 and many repeat buyers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kehu.analytics import clv

DATA = Path(__file__).parent / "data" / "cdnow_summary.csv"


@pytest.fixture(scope="module")
def cdnow():
    return np.genfromtxt(DATA, delimiter=",", names=True)


def numerical_gradient(f, params, step=1e-6):
    params = np.asarray(params, dtype=float)
    grad = np.zeros_like(params)
    for i in range(params.size):
        h = step * max(1.0, abs(params[i]))
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    return grad


def synthetic(seed=3, n=3000):
    rng = np.random.default_rng(seed)
    T = np.round(rng.uniform(0, 150, n), 1)
    T[:50] = 0.0  # first purchase on the last day
    x = rng.poisson(rng.gamma(0.8, 2.0, n)).astype(float)
    t_x = np.where(x > 0, np.round(T * rng.uniform(0, 1, n), 1), 0.0)
    m = rng.gamma(5.0, 20.0, n)
    weights = rng.integers(1, 5, n).astype(float)
    return x, t_x, T, m, weights


@pytest.mark.parametrize(
    "params",
    [[0.243, 4.414, 0.793, 2.426], [1.0, 1.0, 1.0, 1.0], [2.5, 12.0, 0.05, 7.0], [0.05, 0.3, 4.0, 0.4]],
)
def test_bgnbd_gradient_matches_finite_differences(cdnow, params):
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    value, grad = clv.bgnbd_log_likelihood_and_gradient(params, x, t_x, T)
    assert value == pytest.approx(clv.bgnbd_log_likelihood(params, x, t_x, T).sum(), rel=1e-12)
    expected = numerical_gradient(lambda p: clv.bgnbd_log_likelihood(p, x, t_x, T).sum(), params)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-4)


def test_bgnbd_weighted_gradient_on_a_synthetic_cohort():
    x, t_x, T, _m, w = synthetic()
    params = [0.7, 3.0, 0.4, 1.8]
    value, grad = clv.bgnbd_log_likelihood_and_gradient(params, x, t_x, T, weights=w)
    assert value == pytest.approx(np.dot(w, clv.bgnbd_log_likelihood(params, x, t_x, T)), rel=1e-12)
    expected = numerical_gradient(lambda p: np.dot(w, clv.bgnbd_log_likelihood(p, x, t_x, T)), params)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("params", [[6.25, 3.74, 15.44], [1.0, 1.0, 1.0], [0.5, 8.0, 120.0]])
def test_gamma_gamma_gradient_matches_finite_differences(cdnow, params):
    keep = cdnow["x"] > 0
    x, m = cdnow["x"][keep], cdnow["zbar"][keep]
    value, grad = clv.gamma_gamma_log_likelihood_and_gradient(params, x, m)
    assert value == pytest.approx(clv.gamma_gamma_log_likelihood(params, x, m).sum(), rel=1e-12)
    expected = numerical_gradient(lambda p: clv.gamma_gamma_log_likelihood(p, x, m).sum(), params)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-4)


def test_gamma_gamma_gradient_on_a_synthetic_cohort():
    x, _t_x, _T, m, _w = synthetic(seed=8)
    keep = x > 0
    x, m = x[keep], m[keep]
    params = [3.0, 4.0, 60.0]
    _value, grad = clv.gamma_gamma_log_likelihood_and_gradient(params, x, m)
    expected = numerical_gradient(lambda p: clv.gamma_gamma_log_likelihood(p, x, m).sum(), params)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-4)


def test_the_fits_converge_with_the_analytic_gradients_in_few_iterations(cdnow):
    fit = clv.bgnbd_fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert fit.extra["method"] == "BFGS"
    gg = clv.gamma_gamma_fit(cdnow["x"], cdnow["zbar"])
    assert gg.extra["method"] == "BFGS"
    # at the optimum the analytic gradient vanishes
    _value, grad = clv.bgnbd_log_likelihood_and_gradient(
        [fit.params[k] for k in ("r", "alpha", "a", "b")], cdnow["x"], cdnow["t_x"], cdnow["T"]
    )
    assert np.all(np.abs(grad * np.array([fit.params[k] for k in ("r", "alpha", "a", "b")])) < 1e-2)


def test_expected_purchases_shared_per_distinct_history_equal_the_row_by_row_values():
    # more than 1,000 customers: the hypergeometric term is computed per distinct (x, T) and shared
    x, t_x, T, m, _w = synthetic(seed=5, n=4000)
    params = [0.243, 4.414, 0.793, 2.426]
    shared = clv.bgnbd_expected_purchases(params, 39, x, t_x, T)
    chunked = np.concatenate(
        [clv.bgnbd_expected_purchases(params, 39, x[i : i + 500], t_x[i : i + 500], T[i : i + 500]) for i in
         range(0, 4000, 500)]
    )  # fmt: skip
    np.testing.assert_allclose(shared, chunked, rtol=1e-12)
    # a horizon per customer (nothing shared)
    horizons = np.where(np.arange(4000) % 2 == 0, 39.0, 20.0)
    per_customer = clv.bgnbd_expected_purchases(params, horizons, x, t_x, T)
    at_20 = clv.bgnbd_expected_purchases(params, 20, x, t_x, T)
    np.testing.assert_allclose(per_customer, np.where(horizons == 39.0, shared, at_20), rtol=1e-12)
    expected, value = clv.discounted_clv(params, x, t_x, T, m, months=12, annual_discount_rate=0.1)
    assert np.all(np.isfinite(value)) and np.all(expected >= 0)
    assert expected == pytest.approx(
        clv.bgnbd_expected_purchases(params, 12 * 365.25 / 12 / 7, x, t_x, T), rel=1e-12
    )
