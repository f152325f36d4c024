"""Customer lifetime value: the BG/NBD purchase model (Fader, Hardie & Lee 2005, "Counting your customers the
easy way") and the Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves";
Fader & Hardie's note "The Gamma-Gamma model of monetary value", 2013).

Pure NumPy/SciPy, no Django: every function works on whole arrays (one entry per customer), so fitting and
scoring a million customers is a handful of vectorised passes, never a per-customer Python loop.

Inputs per customer, in one time unit (the scoring service uses weeks):
    x   — repeat purchases (purchase days after the first one)
    t_x — time of the last purchase, counted from the first purchase
    T   — age: time from the first purchase to the end of the calibration period
    (a customer whose first purchase is on the last day has T = 0: no information, but valid)
    m   — average value of the repeat purchases (Gamma-Gamma only; customers with x > 0 and m > 0)

Parameters are fitted by maximum likelihood on log-parameters (so they stay positive without bounds) with
scipy.optimize.minimize. A fit that cannot run (too few customers, no repeat purchases) or does not converge
raises FitError with a message a person can act on; the caller falls back (scoring.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

#: fewer customers than this cannot identify four parameters in any useful way
MIN_CUSTOMERS = 30
#: Gamma-Gamma needs this many repeat buyers with a positive average spend
MIN_REPEAT_BUYERS = 10
#: population parameters are fitted on a random sample of at most this many customers (scoring uses them all):
#: the likelihood's cost grows with the distinct histories, the estimates' precision hardly beyond this
MAX_FIT_CUSTOMERS = 100_000


class FitError(Exception):
    """The model could not be fitted; the message says why (shown on the diagnostics page)."""


@dataclass
class FitResult:
    params: dict[str, float]
    log_likelihood: float
    iterations: int
    converged: bool
    message: str
    n: int
    extra: dict = field(default_factory=dict)


def _as_arrays(*arrays) -> list[np.ndarray]:
    return [np.asarray(a, dtype=float) for a in arrays]


def _distinct_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of equal-length columns, in lexicographic order: (the index of one row of each
    distinct row, the distinct row of every row). A lexsort: np.unique(axis=0) is ~7× slower on 600k rows."""
    n = columns[0].size
    if n == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    order = np.lexsort(columns[::-1])
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for column in columns:
        ordered = column[order]
        new[1:] |= ordered[1:] != ordered[:-1]
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse


# ---------------------------------------------------------------------------------------------- BG/NBD
def bgnbd_log_likelihood(params, x, t_x, T) -> np.ndarray:
    """Per-customer log-likelihood of BG/NBD (FHL 2005, eq. 6), vectorised."""
    r, alpha, a, b = params
    x, t_x, T = _as_arrays(x, t_x, T)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    has = x > 0
    # the second term exists only for repeat buyers; b + x - 1 > 0 there
    a4 = np.where(
        has,
        np.log(a) - np.log(np.where(has, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return a1 + a2 + np.logaddexp(a3, a4)


class _BgnbdData:
    """The (x, t_x, T) histories of a fit, indexed by their distinct values: the gamma and digamma functions
    of x (a few hundred distinct values) and the logarithms of alpha + T and alpha + t_x (a few thousand) are
    computed once per distinct value, the rest is a handful of vectorised passes over the rows."""

    def __init__(self, x, t_x, T, weights=None) -> None:
        x, t_x, T = _as_arrays(x, t_x, T)
        self.w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
        self.x, self.has = x, x > 0
        self.xu, self.xi = np.unique(x, return_inverse=True)
        self.Tu, self.Ti = np.unique(T, return_inverse=True)
        self.tu, self.ti = np.unique(t_x, return_inverse=True)
        self.xi, self.Ti, self.ti = self.xi.ravel(), self.Ti.ravel(), self.ti.ravel()
        self.wx = np.bincount(self.xi, weights=self.w, minlength=self.xu.size)  # weight per distinct x
        self.total = float(self.w.sum())

    def value_and_gradient(self, params) -> tuple[float, np.ndarray]:
        r, alpha, a, b = (float(v) for v in params)
        xu, xi, has = self.xu, self.xi, self.has
        hasu = xu > 0
        b_x1 = np.where(hasu, b + xu - 1, 1.0)
        # A1 + A2 of the likelihood (FHL 2005, eq. 6) per distinct x
        head = (
            special.gammaln(r + xu)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.gammaln(a + b)
            + special.gammaln(b + xu)
            - special.gammaln(b)
            - special.gammaln(a + b + xu)
        )
        lT, lt = np.log(alpha + self.Tu), np.log(alpha + self.tu)
        rx = r + self.x
        lT_rows, lt_rows = lT[self.Ti], lt[self.ti]
        a3 = -rx * lT_rows
        a4 = np.where(has, np.log(a) - np.log(b_x1)[xi] - rx * lt_rows, -np.inf)
        tail = np.logaddexp(a3, a4)
        w = self.w
        value = float(np.dot(self.wx, head) + np.dot(w, tail))
        # the share of each of the two terms of exp(tail): d tail = s3 d a3 + s4 d a4
        s3 = np.exp(a3 - tail)
        s4 = np.where(has, np.exp(a4 - tail), 0.0)
        ws3, ws4 = w * s3, w * s4
        d_ab, d_abx = special.digamma(a + b), special.digamma(a + b + xu)
        grad_r = (
            np.dot(self.wx, special.digamma(r + xu) - special.digamma(r) + np.log(alpha))
            - np.dot(ws3, lT_rows)
            - np.dot(ws4, lt_rows)
        )
        grad_alpha = self.total * r / alpha - np.dot(
            rx, ws3 * (1.0 / (alpha + self.Tu))[self.Ti] + ws4 * (1.0 / (alpha + self.tu))[self.ti]
        )
        sum_s4 = ws4.sum()
        grad_a = np.dot(self.wx, d_ab - d_abx) + sum_s4 / a
        inv_b_x1 = np.where(hasu, 1.0 / b_x1, 0.0)
        grad_b = np.dot(self.wx, d_ab + special.digamma(b + xu) - special.digamma(b) - d_abx) - np.dot(
            np.bincount(xi, weights=ws4, minlength=xu.size), inv_b_x1
        )
        return value, np.array([grad_r, grad_alpha, grad_a, grad_b])


def bgnbd_log_likelihood_and_gradient(params, x, t_x, T, *, weights=None) -> tuple[float, np.ndarray]:
    """The (weighted) sum of the BG/NBD log-likelihoods of the customers and its analytic gradient with respect
    to (r, alpha, a, b)."""
    return _BgnbdData(x, t_x, T, weights).value_and_gradient(params)


def _fit(neg_ll_and_grad, x0: np.ndarray, names: tuple[str, ...], n: int) -> FitResult:
    """Minimise from x0, `neg_ll_and_grad` returning the objective and its gradient: BFGS first (fast on these
    smooth surfaces), Nelder-Mead on the objective alone when BFGS gives up."""

    def neg_ll(log_params):
        return neg_ll_and_grad(log_params)[0]

    with np.errstate(all="ignore"):
        res = optimize.minimize(neg_ll_and_grad, x0, jac=True, method="BFGS", options={"gtol": 1e-6})
        method = "BFGS"
        # BFGS often stops with "precision loss" at the optimum of a flat direction (a parameter drifting to a
        # boundary, e.g. a -> 0 when nobody drops out): a small gradient there is convergence
        jac = getattr(res, "jac", None)
        if not res.success and jac is not None and np.isfinite(res.fun) and np.linalg.norm(jac) < 1e-3:
            res.success = True
        if not res.success or not np.isfinite(res.fun):
            retry = optimize.minimize(
                neg_ll, x0, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-10}
            )
            if retry.success or retry.fun < res.fun:
                res, method = retry, "Nelder-Mead"
    values = np.exp(res.x)
    ll = -float(res.fun)
    if not (res.success and np.isfinite(ll) and ll > -1e299 and np.all(np.isfinite(values))):
        raise FitError(f"the optimiser did not converge ({res.message})")
    return FitResult(
        params={k: float(v) for k, v in zip(names, values, strict=True)},
        log_likelihood=ll,
        iterations=int(res.nit),
        converged=True,
        message=str(res.message),
        n=n,
        extra={"method": method},
    )


def bgnbd_fit(x, t_x, T, *, weights=None, penalizer: float = 0.0) -> FitResult:
    """Maximum-likelihood BG/NBD parameters r, alpha, a, b. Raises FitError when the data cannot support a fit."""
    x, t_x, T = _as_arrays(x, t_x, T)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    n = int(w.sum())
    if n < MIN_CUSTOMERS:
        raise FitError(f"too little data: {n} customers (at least {MIN_CUSTOMERS} are needed)")
    bad = ~np.isfinite(x) | ~np.isfinite(t_x) | ~np.isfinite(T) | (x < 0) | (t_x < 0) | (T < 0) | (t_x > T)
    if bad.any():
        raise FitError(f"{int(bad.sum())} customers have inconsistent purchase histories")
    if not (x > 0).any():
        raise FitError("no customer has bought twice: repeat-purchase behaviour cannot be estimated")
    sampled = n > MAX_FIT_CUSTOMERS
    if sampled:
        keep = np.random.default_rng(0).choice(x.size, size=MAX_FIT_CUSTOMERS, replace=False)
        x, t_x, T, w = x[keep], t_x[keep], T[keep], w[keep]
        n = int(w.sum())
    # customers with the same (x, t_x, T) share one likelihood term: fit on the distinct rows, weighted
    rows, inverse = _distinct_rows(x, t_x, T)
    w = np.bincount(inverse, weights=w, minlength=rows.size)
    data = _BgnbdData(x[rows], t_x[rows], T[rows], w)

    def neg_ll_and_grad(log_params):
        # on log-parameters: d/d log p = p d/dp
        params = np.exp(log_params)
        ll, grad = data.value_and_gradient(params)
        value = -ll / n + penalizer * float(np.sum(params**2))
        gradient = -grad * params / n + 2 * penalizer * params**2
        if not (np.isfinite(value) and np.all(np.isfinite(gradient))):
            return 1e300, np.zeros_like(log_params)
        return value, gradient

    result = _fit(neg_ll_and_grad, np.zeros(4), ("r", "alpha", "a", "b"), n)
    result.log_likelihood *= n
    result.extra["sampled"] = sampled
    return result


def bgnbd_p_alive(params, x, t_x, T) -> np.ndarray:
    r, alpha, a, b = params
    x, t_x, T = _as_arrays(x, t_x, T)
    has = x > 0
    with np.errstate(all="ignore"):
        log_ratio = (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        term = np.where(has, np.exp(np.log(a) - np.log(np.where(has, b + x - 1, 1.0)) + log_ratio), 0.0)
        p = 1.0 / (1.0 + term)
    return np.where(np.isfinite(p), p, 0.0)


def bgnbd_expected_purchases(params, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next t time units (FHL 2005, eq. 10).

    Where the Gauss hypergeometric function overflows (very long horizons, very frequent buyers) the value is
    replaced by P(alive) × posterior mean rate × t — close there and always finite."""
    x, t_x, T = _as_arrays(x, t_x, T)
    t = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
    if t.size and np.all(t == t.flat[0]):
        return _ExpectedPurchases(params, x, t_x, T).at(float(t.flat[0]))
    return _ExpectedPurchases(params, x, t_x, T, share=False).at(t)


class _ExpectedPurchases:
    """E[Y(t) | x, t_x, T] for one set of customers at several horizons t. The hypergeometric term — the
    costly part — depends on (x, T) only, so it is computed once per distinct (x, T) pair (a few tens of
    thousands for a million customers whose histories are counted in days); the terms that do not depend on
    t are computed once."""

    def __init__(self, params, x, t_x, T, *, share: bool = True) -> None:
        r, alpha, a, b = params
        self.params = params
        if share and x.size > 1000:
            rows, self.inverse = _distinct_rows(x, T)
            self.xu, self.Tu = x[rows], T[rows]
        else:
            self.xu, self.Tu, self.inverse = x, T, None
        with np.errstate(all="ignore"):
            has = x > 0
            denom = 1 + np.where(
                has,
                np.exp(
                    np.log(a)
                    - np.log(np.where(has, b + x - 1, 1.0))
                    + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
                ),
                0.0,
            )
            self.factor = (a + b + x - 1) / (a - 1) / denom
            # the fallback where the hypergeometric function overflows: P(alive) × posterior mean rate × t
            self.rate = bgnbd_p_alive(params, x, t_x, T) * (r + x) / (alpha + T)

    def at(self, t) -> np.ndarray:
        r, alpha, a, b = self.params
        xu, Tu = self.xu, self.Tu
        with np.errstate(all="ignore"):
            z = t / (alpha + Tu + t)
            hyp = special.hyp2f1(r + xu, b + xu, a + b + xu - 1, z)
            body = 1 - np.exp((r + xu) * (np.log(alpha + Tu) - np.log(alpha + Tu + t))) * hyp
            if self.inverse is not None:
                body = body[self.inverse]
            value = self.factor * body
            fallback = self.rate * t
        ok = np.isfinite(value) & (value >= 0)
        return np.where(ok, value, np.where(np.isfinite(fallback), fallback, 0.0))


def bgnbd_probability_of_n(params, t, n: int) -> np.ndarray:
    """P(X(t) = n) for a customer of age t (FHL 2005, eq. 8), vectorised over t."""
    r, alpha, a, b = params
    t = np.asarray(t, dtype=float)
    with np.errstate(all="ignore"):
        base = r * np.log(alpha / (alpha + t))
        first = (
            special.betaln(a, b + n)
            - special.betaln(a, b)
            + special.gammaln(r + n)
            - special.gammaln(r)
            - special.gammaln(n + 1)
            + base
            + n * np.log(t / (alpha + t))
        )
        value = np.exp(first)
        if n > 0:
            j = np.arange(n)[:, None]
            terms = np.exp(
                special.gammaln(r + j)
                - special.gammaln(r)
                - special.gammaln(j + 1)
                + j * np.log(t / (alpha + t))[None, :]
            )
            partial = 1 - np.exp(base) * terms.sum(axis=0)
            value = value + np.exp(special.betaln(a + 1, b + n - 1) - special.betaln(a, b)) * partial
    return np.where(np.isfinite(value), value, 0.0)


def bgnbd_frequency_table(params, x, T, *, max_x: int = 7) -> list[dict]:
    """Actual vs expected number of customers with 0, 1, …, max_x+ repeat purchases in the calibration period
    (FHL 2005, figure 2): expected counts sum P(X(T_i) = k) over the customers' own ages."""
    x, T = _as_arrays(x, T)
    rows = []
    cumulative = np.zeros_like(T)
    for k in range(max_x):
        p = bgnbd_probability_of_n(params, T, k)
        cumulative += p
        rows.append({"x": str(k), "actual": int((x == k).sum()), "expected": float(p.sum())})
    rows.append(
        {
            "x": f"{max_x}+",
            "actual": int((x >= max_x).sum()),
            "expected": float(np.clip(1 - cumulative, 0, 1).sum()),
        }
    )
    return rows


# ---------------------------------------------------------------------------------------------- Gamma-Gamma
def gamma_gamma_log_likelihood(params, x, m) -> np.ndarray:
    p, q, gamma = params
    x, m = _as_arrays(x, m)
    return (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(gamma + m * x)
    )


class _GammaGammaData:
    """Repeat buyers' (x, m) for a fit: the terms that do not depend on the parameters are summed once, the
    gamma functions are computed per distinct x; one logarithm per customer remains per evaluation."""

    def __init__(self, x, m) -> None:
        x, m = _as_arrays(x, m)
        self.x, self.m, self.n = x, m, float(x.size)
        self.xu, xi = np.unique(x, return_inverse=True)
        self.cx = np.bincount(xi.ravel(), minlength=self.xu.size).astype(float)  # customers per distinct x
        log_m = np.log(m)
        self.sum_x_log_m, self.sum_log_m = float(np.dot(x, log_m)), float(log_m.sum())
        self.sum_x_log_x, self.sum_x = float(np.dot(x, np.log(x))), float(x.sum())

    def value_and_gradient(self, params) -> tuple[float, np.ndarray]:
        p, q, gamma = (float(v) for v in params)
        xu, cx, n, x = self.xu, self.cx, self.n, self.x
        log_gm = np.log(gamma + self.m * x)
        sum_log_gm, sum_x_log_gm = float(log_gm.sum()), float(np.dot(x, log_gm))
        pxq, px = p * xu + q, p * xu
        value = (
            np.dot(cx, special.gammaln(pxq) - special.gammaln(px))
            - n * special.gammaln(q)
            + n * q * np.log(gamma)
            + p * self.sum_x_log_m
            - self.sum_log_m
            + p * self.sum_x_log_x
            - p * sum_x_log_gm
            - q * sum_log_gm
        )
        d_pxq = special.digamma(pxq)
        grad_p = (
            np.dot(cx * xu, d_pxq - special.digamma(px)) + self.sum_x_log_m + self.sum_x_log_x - sum_x_log_gm
        )
        grad_q = np.dot(cx, d_pxq) - n * special.digamma(q) + n * np.log(gamma) - sum_log_gm
        grad_gamma = n * q / gamma - np.sum((p * x + q) / (gamma + self.m * x))
        return float(value), np.array([grad_p, grad_q, grad_gamma])


def gamma_gamma_log_likelihood_and_gradient(params, x, m) -> tuple[float, np.ndarray]:
    """The sum of the Gamma-Gamma log-likelihoods of repeat buyers (x > 0, m > 0) and its analytic gradient with
    respect to (p, q, gamma)."""
    return _GammaGammaData(x, m).value_and_gradient(params)


def gamma_gamma_fit(x, m, *, penalizer: float = 0.0) -> FitResult:
    """Maximum-likelihood p, q, γ on repeat buyers (x > 0) with a positive average spend m."""
    x, m = _as_arrays(x, m)
    keep = (x > 0) & np.isfinite(m) & (m > 0)
    x, m = x[keep], m[keep]
    if x.size > MAX_FIT_CUSTOMERS:
        pick = np.random.default_rng(0).choice(x.size, size=MAX_FIT_CUSTOMERS, replace=False)
        x, m = x[pick], m[pick]
    n = int(x.size)
    if n < MIN_REPEAT_BUYERS:
        raise FitError(
            f"too little data: {n} repeat buyers with a positive spend (at least {MIN_REPEAT_BUYERS} are needed)"
        )

    data = _GammaGammaData(x, m)

    def neg_ll_and_grad(log_params):
        params = np.exp(log_params)
        ll, grad = data.value_and_gradient(params)
        value = -ll / n + penalizer * float(np.sum(params**2))
        gradient = -grad * params / n + 2 * penalizer * params**2
        if not (np.isfinite(value) and np.all(np.isfinite(gradient))):
            return 1e300, np.zeros_like(log_params)
        return value, gradient

    result = _fit(neg_ll_and_grad, np.zeros(3), ("p", "q", "gamma"), n)
    result.log_likelihood *= n
    if result.params["q"] <= 1:
        raise FitError(f"q = {result.params['q']:.3f} ≤ 1: the expected spend is undefined for these data")
    return result


def gamma_gamma_expected_spend(params, x, m) -> np.ndarray:
    """E[M | p, q, γ, x, m̄] — the customer's expected average spend per purchase; for a customer without
    repeat purchases (x = 0) it is the population mean pγ/(q − 1)."""
    p, q, gamma = params
    x, m = _as_arrays(x, m)
    m = np.where(np.isfinite(m) & (m > 0), m, 0.0)
    with np.errstate(all="ignore"):
        value = (gamma + m * x) * p / (p * x + q - 1)
    population = p * gamma / (q - 1)
    return np.where(np.isfinite(value) & (value >= 0), value, population)


# ---------------------------------------------------------------------------------------------- CLV
def discounted_clv(
    params, x, t_x, T, spend, *, months: int, annual_discount_rate: float, weeks_per_unit: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(expected purchases over the horizon, discounted CLV): expected spend × the expected purchases of each
    month, discounted monthly at the rate equivalent to the annual rate. Loops over months, not customers."""
    x, t_x, T, spend = _as_arrays(x, t_x, T, spend)
    monthly = (1 + annual_discount_rate) ** (1 / 12) - 1
    month_units = 365.25 / 12 / 7 / weeks_per_unit
    clv = np.zeros_like(x)
    previous = np.zeros_like(x)
    expected = _ExpectedPurchases(params, x, t_x, T)
    for i in range(1, months + 1):
        current = expected.at(i * month_units)
        clv += spend * (current - previous) / (1 + monthly) ** i
        previous = current
    clv = np.where(np.isfinite(clv), clv, 0.0)
    return previous, clv


def bgnbd_holdout(x_cal, t_x_cal, T_cal, x_holdout, t_holdout: float, *, max_x: int = 7) -> dict:
    """Calibration/holdout validation of the BG/NBD model (FHL 2005, figure 4): fitted on the customers' history
    up to a cut (x, t_x, T of the calibration period), the model's conditional expectation E[Y(t) | x, t_x, T]
    for the `t_holdout` weeks after the cut is set against the repeat purchases each customer actually made
    then (`x_holdout`). Per calibration frequency 0 … max_x−1 and max_x+: customers, mean actual and mean
    expected holdout purchases; the totals and the mean absolute error per customer. Raises FitError when the
    calibration fit cannot run. Every figure is finite."""
    x_cal, t_x_cal, T_cal, x_holdout = _as_arrays(x_cal, t_x_cal, T_cal, x_holdout)
    if not (np.isfinite(t_holdout) and t_holdout > 0):
        raise FitError("the holdout period is empty")
    fit = bgnbd_fit(x_cal, t_x_cal, T_cal)
    params = [fit.params[k] for k in ("r", "alpha", "a", "b")]
    expected = bgnbd_expected_purchases(params, t_holdout, x_cal, t_x_cal, T_cal)
    expected = np.where(np.isfinite(expected), expected, 0.0)
    rows = []
    for k in range(max_x + 1):
        mask = x_cal == k if k < max_x else x_cal >= max_x
        n = int(mask.sum())
        rows.append(
            {
                "x": str(k) if k < max_x else f"{max_x}+",
                "customers": n,
                "actual": float(x_holdout[mask].mean()) if n else 0.0,
                "expected": float(expected[mask].mean()) if n else 0.0,
            }
        )
    return {
        "params": fit.params,
        "message": fit.message,
        "weeks": float(t_holdout),
        "customers": int(x_cal.size),
        "actual": float(x_holdout.sum()),
        "expected": float(expected.sum()),
        "mae": float(np.abs(expected - x_holdout).mean()) if x_cal.size else 0.0,
        "rows": rows,
    }
