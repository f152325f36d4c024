"""ROI, NPV and IRR of CRM initiatives (seeds ch.10: 净现值法、投资收益率、内部收益率). Plain NumPy/SciPy, no
Django. Cash flows are per period (index 0 = the first period, not discounted); the discount rate is annual and
converted to the period's rate ((1 + r)^(months/12) − 1).

IRR: the rates where NPV is zero are the roots of the polynomial Σ cf_t · x^t with x = 1 / (1 + r). All real
roots with x > 0 (r > −100 %) are found by `numpy.roots` and polished by `scipy.optimize.brentq` on a sign
change around each. Cash flows that never change sign have no IRR; several sign changes may give several
IRRs (Descartes' rule) — both cases come back as a sentence in `message`, never NaN or infinity."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq


class FinanceError(ValueError):
    """The measure is undefined for these cash flows; the message says why."""


def period_rate(annual_rate: float, months: int) -> float:
    if annual_rate <= -1:
        raise FinanceError("The discount rate must be above −100 %.")
    return (1.0 + annual_rate) ** (months / 12.0) - 1.0


def npv(rate: float, flows) -> float:
    """Net present value at a per-period rate; flows[0] is today's (undiscounted)."""
    flows = np.asarray(flows, dtype=float)
    if rate <= -1:
        raise FinanceError("The discount rate must be above −100 %.")
    factors = (1.0 + rate) ** -np.arange(len(flows))
    return float(np.dot(flows, factors))


def sign_changes(flows) -> int:
    signs = [1 if f > 0 else -1 for f in flows if f != 0]
    return sum(1 for a, b in zip(signs, signs[1:], strict=False) if a != b)


def irr_all(flows) -> list[float]:
    """Every real per-period IRR (> −100 %), ascending."""
    flows = np.asarray(flows, dtype=float)
    nonzero = np.nonzero(flows)[0]
    if len(nonzero) < 2 or sign_changes(flows) == 0:
        return []
    # trailing zeros add roots at x = 0 and leading ones shift the powers: trim both, they do not change IRR
    flows = flows[: nonzero[-1] + 1]
    lead = nonzero[0]
    trimmed = flows[lead:]
    # numpy.roots wants the highest power first: Σ cf_t x^t → coefficients cf_n … cf_0
    roots = np.roots(trimmed[::-1])
    rates = []
    for x in roots:
        if abs(x.imag) > 1e-9 * max(1.0, abs(x.real)) or x.real <= 0:
            continue
        guess = 1.0 / x.real - 1.0
        rates.append(_polish(trimmed, guess))
    rates = sorted(r for r in rates if r is not None and math.isfinite(r) and r > -1)
    unique: list[float] = []
    for r in rates:
        if not unique or abs(r - unique[-1]) > 1e-7:
            unique.append(r)
    return unique


def _polish(flows: np.ndarray, guess: float) -> float | None:
    """Refine a root with brentq on a small bracket with a sign change; the root itself if none is found."""

    def f(r: float) -> float:
        return npv(r, flows)

    for width in (1e-6, 1e-4, 1e-2):
        lo, hi = max(guess - width, -1 + 1e-12), guess + width
        try:
            a, b = f(lo), f(hi)
        except (FloatingPointError, OverflowError, FinanceError):
            continue
        if a == 0:
            return lo
        if b == 0:
            return hi
        if a * b < 0:
            return float(brentq(f, lo, hi, xtol=1e-12, maxiter=200))
    return guess if math.isfinite(guess) else None


@dataclass
class Evaluation:
    invested: float  # total outflows (positive)
    returned: float  # total inflows
    net: float
    roi: float | None  # (inflows − outflows) / outflows
    npv: float | None
    irr: float | None  # per period
    irr_annual: float | None
    irrs: list[float] = field(default_factory=list)  # every IRR, when there are several
    payback_period: int | None = None  # first period index where the cumulative flow is ≥ 0
    messages: list[str] = field(default_factory=list)


def evaluate(
    outflows, inflows, *, annual_rate: float, months: int, messages: dict | None = None
) -> Evaluation:
    """ROI, NPV, IRR and payback of per-period outflows (costs, ≥ 0) and inflows (benefits, ≥ 0).

    `messages` may translate the sentences (keys: no_flows, no_investment, no_sign_change, multiple,
    no_root, bad_rate)."""
    text = {
        "no_flows": "There are no cash flows yet.",
        "no_investment": "Nothing was invested, so the return on investment is undefined.",
        "no_sign_change": "The cash flows never change sign (only costs or only benefits), so there is no "
        "internal rate of return.",
        "multiple": "The cash flows change sign several times and have more than one internal rate of return; "
        "judge by the net present value.",
        "no_root": "The net present value is never zero for these cash flows, so there is no internal rate "
        "of return.",
        "bad_rate": "The discount rate must be above −100 %.",
    } | (messages or {})
    outflows = np.asarray(outflows, dtype=float)
    inflows = np.asarray(inflows, dtype=float)
    flows = inflows - outflows
    invested, returned = float(outflows.sum()), float(inflows.sum())
    result = Evaluation(invested, returned, returned - invested, None, None, None, None)
    if len(flows) == 0 or not np.any(flows):
        result.messages.append(text["no_flows"])
        return result
    if invested > 0:
        result.roi = (returned - invested) / invested
    else:
        result.messages.append(text["no_investment"])
    try:
        rate = period_rate(annual_rate, months)
        result.npv = npv(rate, flows)
    except FinanceError:
        result.messages.append(text["bad_rate"])
    cumulative = np.cumsum(flows)
    reached = np.nonzero(cumulative >= 0)[0]
    if invested > 0 and len(reached) and cumulative[0] < 0:
        result.payback_period = int(reached[0])
    if sign_changes(flows) == 0:
        result.messages.append(text["no_sign_change"])
        return result
    rates = irr_all(flows)
    if not rates:
        result.messages.append(text["no_root"])
    elif len(rates) > 1:
        result.irrs = rates
        result.messages.append(text["multiple"])
    else:
        result.irr = rates[0]
        annual = (1.0 + rates[0]) ** (12.0 / months) - 1.0
        result.irr_annual = annual if math.isfinite(annual) else None
    return result
