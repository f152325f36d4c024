"""The Next Best Activity engine: expected effect E, expected cost C and benefit index (E − C)/C for every
customer × action at once, as NumPy arrays (no Django, no per-customer Python loop).

Seeds (S4, CRM 实践 NBA 方法论): for a given customer at a given time rank every possible action by
活动效益指数 = (预计效果 − 预计花费) / 预计花费 and recommend the largest.

Definitions (docs/adr/0011-analytics.md §NBA, docs/user-guide.md):
- response rate r[a, s]: the action's prior rate shrunk towards the observed success rate of the action in the
  customer's RFM segment s — Beta posterior mean (k·prior + successes) / (k + taken), k = prior strength;
- value basis v[i, a]: expected spend per purchase, CLV, value at risk (yearly value × (1 − P(alive))) or the
  price of the product the customer lacks; a customer without a score takes the action's "value without a
  score" (and P(alive) 1);
- E = r × share × v × P(alive) × f[a, s] (P(alive) left out for the value-at-risk basis, which already holds it;
  f the realised/expected value factor, shrunk towards 1 the same way);
- C = channel cost + staff cost + incentive cost (≥ 0);
- benefit index = (E − C) / max(C, minimum cost): a free action (C = 0) divides by the minimum cost (default 1
  currency unit) instead of by zero, so it ranks by its effect and stays finite. Every figure is finite: NaN and
  infinity in inputs count as 0, the index is clipped to [−1, 1e9].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_INDEX = 1e9

BASIS_SPEND, BASIS_CLV, BASIS_AT_RISK, BASIS_PRODUCT = 0, 1, 2, 3
BASES = {"spend": BASIS_SPEND, "clv": BASIS_CLV, "at_risk": BASIS_AT_RISK, "product": BASIS_PRODUCT}


def benefit_index_scalar(effect: float, cost: float, min_cost: float = 1.0) -> float:
    """(E − C) / max(C, min_cost), finite (the initiatives' list uses the same definition)."""
    return float(benefit_index(np.array([effect], dtype=float), np.array([cost], dtype=float), min_cost)[0])


def benefit_index(effect: np.ndarray, cost: np.ndarray, min_cost: float = 1.0) -> np.ndarray:
    effect = np.nan_to_num(np.asarray(effect, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    cost = np.nan_to_num(np.asarray(cost, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    cost = np.maximum(cost, 0.0)
    floor = max(float(min_cost), 1e-9)
    return np.clip((effect - cost) / np.maximum(cost, floor), -MAX_INDEX, MAX_INDEX)


def shrink_rate(
    prior: np.ndarray, strength: np.ndarray, successes: np.ndarray, taken: np.ndarray
) -> np.ndarray:
    """Beta posterior mean of a response rate: (k·prior + successes) / (k + taken); the prior when k + n = 0."""
    prior = np.clip(np.nan_to_num(prior, nan=0.0), 0.0, 1.0)
    strength = np.maximum(np.nan_to_num(strength, nan=0.0), 0.0)
    denom = strength + taken
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(denom > 0, (strength * prior + successes) / np.where(denom > 0, denom, 1.0), prior)
    return np.clip(rate, 0.0, 1.0)


def shrink_factor(
    strength: np.ndarray, realised: np.ndarray, expected: np.ndarray, taken: np.ndarray
) -> np.ndarray:
    """Realised/expected value ratio over `taken` decisions, shrunk towards 1 with weight k: (k + n·ratio)/(k + n).
    The ratio is clipped to [0, 10] (one lucky large order must not multiply every E by a hundred)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(expected > 0, realised / np.where(expected > 0, expected, 1.0), 1.0)
    ratio = np.clip(np.nan_to_num(ratio, nan=1.0, posinf=10.0, neginf=0.0), 0.0, 10.0)
    strength = np.maximum(np.nan_to_num(strength, nan=0.0), 0.0)
    denom = strength + taken
    return np.where(denom > 0, (strength + taken * ratio) / np.where(denom > 0, denom, 1.0), 1.0)


@dataclass
class Customers:
    """Per customer (n rows). segment: index into the segment list, S (= len(segments)) for "no score"."""

    ids: np.ndarray  # int64
    segment: np.ndarray  # int
    stage: np.ndarray  # int, index into the stage list, -1 unknown
    scored: np.ndarray  # bool
    p_alive: np.ndarray
    spend: np.ndarray
    clv: np.ndarray
    yearly_value: np.ndarray
    consent: dict[str, np.ndarray]  # consent channel -> bool per customer
    serviceable: np.ndarray  # bool: installed base or recent tickets
    owned: np.ndarray  # bool (n, P): has bought / has installed product p of the candidate list
    product_price: np.ndarray  # float (P,)
    owner: np.ndarray | None = None  # int64 owner id (0: none); written onto the recommendations, not ranked


@dataclass
class Actions:
    """Per action (m rows). allowed_segments (m, S + 1) and allowed_stages (m, T) boolean matrices."""

    ids: np.ndarray
    kind: list[str]
    basis: np.ndarray  # int (BASIS_*)
    share: np.ndarray
    default_value: np.ndarray
    cost: np.ndarray
    max_p_alive: np.ndarray
    consent_channel: list[str]
    allowed_segments: np.ndarray
    allowed_stages: np.ndarray
    product_col: np.ndarray  # int: fixed product's column in Customers.owned, -1 = best-selling lacking one
    rate: np.ndarray  # (m, S + 1) calibrated response rate
    value_factor: np.ndarray  # (m, S + 1)


@dataclass
class Ranking:
    customer: np.ndarray  # customer index
    action: np.ndarray  # action index
    rank: np.ndarray
    product_col: np.ndarray  # -1 when not a product action
    rate: np.ndarray
    effect: np.ndarray
    cost: np.ndarray
    index: np.ndarray


def _finite(a: np.ndarray) -> np.ndarray:
    return np.nan_to_num(np.asarray(a, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)


def rank(
    c: Customers,
    a: Actions,
    *,
    suppressed: tuple[np.ndarray, np.ndarray] | None = None,
    top_n: int = 3,
    min_cost: float = 1.0,
) -> Ranking:
    """Score every customer × action, mask what is not eligible, keep the best `top_n` per customer (any sign:
    the page shows a negative index as "not worth it"; the worklist keeps index > 0)."""
    n, m = len(c.ids), len(a.ids)
    if n == 0 or m == 0:
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
        return Ranking(empty_i, empty_i, empty_i, empty_i, empty_f, empty_f, empty_f, empty_f)
    scored = c.scored.astype(bool)
    p_alive = np.where(scored, np.clip(_finite(c.p_alive), 0.0, 1.0), 1.0)
    spend, clv, yearly = (np.maximum(_finite(x), 0.0) for x in (c.spend, c.clv, c.yearly_value))
    at_risk = yearly * (1.0 - p_alive)

    # product the customer lacks, per action: the action's fixed product, or the first (best-selling) lacking one
    P = c.owned.shape[1] if c.owned.ndim == 2 else 0
    prices = _finite(c.product_price)
    if P:
        lacking = ~c.owned.astype(bool)
        any_lacking = lacking.any(axis=1)
        first = np.where(any_lacking, lacking.argmax(axis=1), -1)
    else:
        lacking = np.zeros((n, 0), dtype=bool)
        first = np.full(n, -1)
    prod = np.full((n, m), -1, dtype=np.int64)
    for jp in np.flatnonzero(a.basis == BASIS_PRODUCT).tolist():  # over actions (a handful), not customers
        col = int(a.product_col[jp])
        if col >= 0 and col < P:
            prod[:, jp] = np.where(lacking[:, col], col, -1)
        else:
            prod[:, jp] = first
    product_value = np.where(prod >= 0, prices[np.clip(prod, 0, max(P - 1, 0))] if P else 0.0, 0.0)

    basis_values = np.stack([spend, clv, at_risk], axis=1)  # (n, 3)
    b = np.clip(a.basis, 0, 2)
    value = basis_values[:, b]  # (n, m)
    value = np.where(a.basis[None, :] == BASIS_PRODUCT, product_value, value)
    value = np.where(scored[:, None], value, np.maximum(_finite(a.default_value), 0.0)[None, :])
    value = np.where((a.basis[None, :] == BASIS_PRODUCT) & (prod < 0), 0.0, value)

    seg = np.clip(c.segment, 0, a.rate.shape[1] - 1)
    rate = np.clip(_finite(a.rate), 0.0, 1.0)[:, seg].T  # (n, m)
    factor = np.clip(_finite(a.value_factor), 0.0, 10.0)[:, seg].T
    propensity = np.where(a.basis[None, :] == BASIS_AT_RISK, 1.0, p_alive[:, None])
    effect = rate * np.maximum(_finite(a.share), 0.0)[None, :] * value * propensity * factor
    effect = np.round(np.maximum(_finite(effect), 0.0), 2)
    cost = np.broadcast_to(np.maximum(_finite(a.cost), 0.0)[None, :], (n, m))
    index = benefit_index(effect, cost, min_cost)

    eligible = a.allowed_segments[:, seg].T.astype(bool)
    stage = np.asarray(c.stage)
    known: np.ndarray = np.asarray(stage >= 0)
    stage_ok: np.ndarray = np.where(
        known[:, None], a.allowed_stages[:, np.clip(stage, 0, a.allowed_stages.shape[1] - 1)].T, True
    )
    # an action restricted to some stages is not for a customer whose stage is unknown
    restricted: np.ndarray = np.asarray(~np.all(a.allowed_stages, axis=1))
    stage_ok &= ~(~known[:, None] & restricted[None, :])
    eligible &= stage_ok.astype(bool)
    eligible &= (p_alive[:, None] <= a.max_p_alive[None, :] + 1e-12) | (
        ~scored[:, None] & (a.max_p_alive[None, :] >= 1.0)
    )
    for j, channel in enumerate(a.consent_channel):
        if channel:
            eligible[:, j] &= c.consent.get(channel, np.zeros(n, dtype=bool))
        if a.kind[j] == "service_check":
            eligible[:, j] &= c.serviceable.astype(bool)
    eligible &= (a.basis[None, :] != BASIS_PRODUCT) | (prod >= 0)
    if suppressed is not None and len(suppressed[0]):
        eligible[suppressed[0], suppressed[1]] = False

    k = min(top_n, m)
    masked = np.where(eligible, index, -np.inf)
    # best k per row without sorting whole rows; ties broken by the action's position (stable, deterministic)
    order = np.argsort(-masked, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(masked, order, axis=1)
    keep = np.isfinite(top)
    rows = np.repeat(np.arange(n), k).reshape(n, k)[keep]
    cols = order[keep]
    ranks = np.tile(np.arange(1, k + 1), (n, 1))[keep]
    return Ranking(
        customer=rows,
        action=cols,
        rank=ranks,
        product_col=prod[rows, cols],
        rate=rate[rows, cols],
        effect=effect[rows, cols],
        cost=cost[rows, cols],
        index=index[rows, cols],
    )
