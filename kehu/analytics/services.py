"""The scoring run: RFM + BG/NBD + Gamma-Gamma for every customer with purchases, written back in bulk.

    run = scoring_run(by=user)          # the task, the management command and the analytics page call this

Phases (timed into ScoringRun.timings):
1. **aggregate** — one SQL statement over `sales_orderline` (counted lines of the base currency up to the
   as-of date): per customer and day the net amount, then per customer the purchase days (days with a positive
   net amount), first and last purchase day and net revenue. Returns and refunds are negative lines and net
   out; cancelled orders are `counted = false` (ADR 0006).
2. **fit** — BG/NBD on (x, t_x, T) in weeks, Gamma-Gamma on the repeat buyers' average spend (clv.py).
3. **score** — RFM quantile bins and segments, P(alive), expected purchases, expected spend and CLV, all
   vectorised.
4. **write** — the score table is replaced in one transaction (`COPY` on PostgreSQL).

A model that cannot be fitted falls back (heuristic purchase rate, each customer's own mean spend) with a
message on the run; nothing non-finite is ever written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from kehu.core import audit, bulk
from kehu.core.models import AuditAction

from . import clv, rfm
from .models import CustomerScore, RunStatus, ScoringRun

log = logging.getLogger(__name__)

DAYS_PER_WEEK = 7.0
#: PostgreSQL's fast paths (binary aggregation read, staged write-back, incremental report summary); False
#: runs the portable statements instead — tests compare both and require identical tables
FAST_PATHS = True


@dataclass
class Config:
    currency: str = "CNY"
    bins: int = 5
    horizon_months: int = 12
    discount_rate: float = 0.10

    @classmethod
    def from_settings(cls, **overrides) -> Config:
        base = getattr(settings, "KEHU_ANALYTICS", {})
        values = {
            "currency": base.get("CURRENCY", "CNY"),
            "bins": int(base.get("RFM_BINS", 5)),
            "horizon_months": int(base.get("CLV_HORIZON_MONTHS", 12)),
            "discount_rate": float(base.get("CLV_ANNUAL_DISCOUNT_RATE", 0.10)),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        config = cls(**values)
        if not 2 <= config.bins <= 10:
            raise ValueError("RFM bins must be between 2 and 10")
        if not 1 <= config.horizon_months <= 120:
            raise ValueError("the CLV horizon must be between 1 and 120 months")
        if not 0 <= config.discount_rate < 1:
            raise ValueError("the annual discount rate must be between 0 and 1")
        return config


@dataclass
class History:
    customer_id: np.ndarray
    days: np.ndarray  # purchase days (days with a positive net amount)
    first: np.ndarray  # datetime64[D]
    last: np.ndarray
    monetary: np.ndarray  # net revenue (can be ≤ 0 when refunds exceed purchases)
    #: the same summary at an earlier date (churn's calibration cut), from the same aggregation, when asked for
    at_cut: History | None = None
    cut: dt.date | None = None


_AGGREGATE_SQL = """
SELECT d.customer_id,
       SUM(CASE WHEN d.amount > 0 THEN 1 ELSE 0 END),
       MIN(CASE WHEN d.amount > 0 THEN d.order_date END),
       MAX(CASE WHEN d.amount > 0 THEN d.order_date END),
       SUM(d.amount)
FROM (SELECT customer_id, order_date, SUM(amount) AS amount
      FROM sales_orderline
      WHERE counted AND currency = %s AND order_date <= %s
      GROUP BY customer_id, order_date) d
GROUP BY d.customer_id
HAVING SUM(CASE WHEN d.amount > 0 THEN 1 ELSE 0 END) > 0
ORDER BY d.customer_id
"""


#: the same per-customer summary up to `as_of` and, in the same pass over the daily amounts, up to an earlier
#: `cut` (churn's calibration date): columns 6–9 repeat 2–5 for the days on or before the cut
_AGGREGATE_WITH_CUT_SQL = """
SELECT d.customer_id,
       SUM(CASE WHEN d.amount > 0 THEN 1 ELSE 0 END),
       MIN(CASE WHEN d.amount > 0 THEN d.order_date END),
       MAX(CASE WHEN d.amount > 0 THEN d.order_date END),
       SUM(d.amount),
       SUM(CASE WHEN d.amount > 0 AND d.order_date <= %s THEN 1 ELSE 0 END),
       MIN(CASE WHEN d.amount > 0 AND d.order_date <= %s THEN d.order_date END),
       MAX(CASE WHEN d.amount > 0 AND d.order_date <= %s THEN d.order_date END),
       SUM(CASE WHEN d.order_date <= %s THEN d.amount ELSE 0 END)
FROM (SELECT customer_id, order_date, SUM(amount) AS amount
      FROM sales_orderline
      WHERE counted AND currency = %s AND order_date <= %s
      GROUP BY customer_id, order_date) d
GROUP BY d.customer_id
HAVING SUM(CASE WHEN d.amount > 0 THEN 1 ELSE 0 END) > 0
ORDER BY d.customer_id
"""


def _history(rows) -> History:
    if not rows:
        empty = np.zeros(0)
        return History(empty.astype(np.int64), empty, empty.astype("datetime64[D]"),
                       empty.astype("datetime64[D]"), empty)  # fmt: skip
    ids, days, first, last, money = zip(*rows, strict=True)
    return History(
        customer_id=np.array(ids, dtype=np.int64),
        days=np.array(days, dtype=float),
        first=np.array([str(v)[:10] for v in first], dtype="datetime64[D]"),
        last=np.array([str(v)[:10] for v in last], dtype="datetime64[D]"),
        monetary=np.array([float(v) for v in money], dtype=float),
    )


#: PostgreSQL: the same statements with every column fixed-width and non-null, read as arrays (pgcopy.copy_out)
#: rather than as a Python tuple per customer — money as float8 (what `_history` makes of the Decimal: both
#: conversions round correctly), dates as `date`; no purchase before the cut reads 0 days and 2000-01-01
_PG_AGGREGATE_SQL = """
SELECT d.customer_id::int8,
       SUM(CASE WHEN d.amount > 0 THEN 1 ELSE 0 END)::int8,
       MIN(CASE WHEN d.amount > 0 THEN d.order_date END),
       MAX(CASE WHEN d.amount > 0 THEN d.order_date END),
       SUM(d.amount)::float8{cut_columns}
FROM (SELECT customer_id, order_date, SUM(amount) AS amount
      FROM sales_orderline
      WHERE counted AND currency = %s AND order_date <= %s
      GROUP BY customer_id, order_date) d
GROUP BY d.customer_id
HAVING SUM(CASE WHEN d.amount > 0 THEN 1 ELSE 0 END) > 0
"""
_PG_CUT_COLUMNS = """,
       SUM(CASE WHEN d.amount > 0 AND d.order_date <= %s THEN 1 ELSE 0 END)::int8,
       COALESCE(MIN(CASE WHEN d.amount > 0 AND d.order_date <= %s THEN d.order_date END), DATE '2000-01-01'),
       COALESCE(MAX(CASE WHEN d.amount > 0 AND d.order_date <= %s THEN d.order_date END), DATE '2000-01-01'),
       SUM(CASE WHEN d.order_date <= %s THEN d.amount ELSE 0 END)::float8"""


def _history_arrays(ids, days, first, last, money) -> History:
    return History(
        customer_id=ids.astype(np.int64),
        days=days.astype(float),
        first=first.astype("datetime64[D]"),
        last=last.astype("datetime64[D]"),
        monetary=money.astype(float),
    )


#: PostgreSQL: split the aggregation into this many ranges of customer ids, each read on its own connection in
#: the same snapshot (`pg_export_snapshot`) — the statement is one process per connection, and the groups are
#: nearly as many as the lines, so PostgreSQL's own parallel plans do not help (ADR 0011, an11). 1 = one
#: statement. `KEHU_ANALYTICS["AGGREGATE_WORKERS"]`; ranges only from SPLIT_MIN_LINES order lines.
SPLIT_MIN_LINES = 500_000


def _aggregate_workers() -> int:
    return max(1, int(getattr(settings, "KEHU_ANALYTICS", {}).get("AGGREGATE_WORKERS", 2)))


def _split_points(cursor, parts: int) -> list[int]:
    """Customer ids cutting the order lines into `parts` ranges of about equal lines, from a block sample
    (purchases are skewed: a few customers carry many lines); [] when the table is small or the sample empty."""
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'sales_orderline'::regclass")
    row = cursor.fetchone()
    if parts < 2 or not row or row[0] < SPLIT_MIN_LINES:
        return []
    quantiles = [k / parts for k in range(1, parts)]
    cursor.execute(
        "SELECT percentile_disc(%s::float8[]) WITHIN GROUP (ORDER BY customer_id) "
        "FROM sales_orderline TABLESAMPLE SYSTEM (0.5) REPEATABLE (11)",
        [quantiles],
    )
    points = (cursor.fetchone() or [None])[0] or []
    return sorted({int(p) for p in points if p is not None})


def _copy_history(cursor, sql: str, params: list, types: list[str]) -> list[np.ndarray]:
    """One aggregation statement read as arrays, with hash aggregation off for it (inside a transaction)."""
    from . import pgcopy

    # a streaming aggregation over ix_orderline_customer_date (customer, date order; amount, counted and
    # currency included): no hash table of every customer-day that spills to disk — 3× faster at 1M
    # lines. The planner still picks its best plan without hashing (a sort when the index cannot serve).
    cursor.execute("SELECT current_setting('enable_hashagg'), set_config('enable_hashagg', 'off', true)")
    before = cursor.fetchone()[0]
    try:
        return pgcopy.copy_out(cursor, sql, params, types)
    finally:
        cursor.execute("SELECT set_config('enable_hashagg', %s, true)", [before])


def _in_snapshot(snapshot: str, work: Callable[[Any], Any]) -> Any:
    """Run `work(cursor)` on this thread's own connection, in the leader's exported snapshot (read only)."""
    from django.db import connections

    own = connections["default"]
    try:
        with transaction.atomic(using="default"), own.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
            return work(cursor)
    finally:
        own.close()


def _purchase_history_pg(
    *, currency: str, as_of: dt.date, cut: dt.date | None, warnings: list | None = None
) -> History:
    """The aggregation on PostgreSQL, read as binary columns. With AGGREGATE_WORKERS > 1, outside a transaction
    and with enough lines, the customers are cut into ranges read concurrently on their own connections in one
    exported snapshot (the same rows as one statement: ranges of whole customers, concatenated in id order);
    `warnings` (a list) receives `_data_warnings` read concurrently in the same snapshot."""
    from concurrent.futures import ThreadPoolExecutor

    with_cut = cut is not None
    sql = _PG_AGGREGATE_SQL.format(cut_columns=_PG_CUT_COLUMNS if with_cut else "")
    params = [cut, cut, cut, cut, currency, as_of] if with_cut else [currency, as_of]
    types = ["int8", "int8", "date", "date", "float8"] + (
        ["int8", "date", "date", "float8"] if with_cut else []
    )
    workers = _aggregate_workers()
    parallel = workers > 1 and not connection.in_atomic_block
    points: list[int] = []
    if parallel:  # before the transaction: its isolation level must be set before its first query
        with connection.cursor() as cursor:
            points = _split_points(cursor, workers)
    with transaction.atomic(), connection.cursor() as cursor:  # SET LOCAL needs a transaction
        if not points:
            if warnings is not None:
                warnings.extend(_data_warnings(currency=currency, as_of=as_of, cursor=cursor))
            cols = _copy_history(cursor, sql + " ORDER BY d.customer_id", params, types)
        else:
            # this transaction is the leader: its snapshot is exported and every range reads it
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            bounds = [None, *points, None]
            ranged = (
                sql.replace(
                    "WHERE counted AND currency = %s AND order_date <= %s",
                    "WHERE counted AND currency = %s AND order_date <= %s AND customer_id >= %s AND customer_id < %s",
                )
                + " ORDER BY d.customer_id"
            )
            lowest, highest = -(2**63), 2**63 - 1

            def part(k: int) -> list:
                lo = bounds[k] if bounds[k] is not None else lowest
                hi = bounds[k + 1] if bounds[k + 1] is not None else highest
                return [*params, lo, hi]

            with ThreadPoolExecutor(max_workers=len(bounds) - 1) as pool:
                futures = [
                    pool.submit(
                        _in_snapshot,
                        snapshot,
                        partial(_copy_history, sql=ranged, params=part(k), types=types),
                    )
                    for k in range(1, len(bounds) - 1)
                ]
                if warnings is not None:
                    found = pool.submit(
                        _in_snapshot,
                        snapshot,
                        lambda c: _data_warnings(currency=currency, as_of=as_of, cursor=c),
                    )
                first = _copy_history(cursor, ranged, part(0), types)
                pieces = [first, *(f.result() for f in futures)]
                if warnings is not None:
                    warnings.extend(found.result())
            cols = [np.concatenate([p[j] for p in pieces]) for j in range(len(types))]
    history = _history_arrays(*cols[:5])
    if with_cut:
        keep = cols[5] > 0
        history.at_cut = _history_arrays(*(c[keep] for c in (cols[0], *cols[5:])))
        history.cut = cut
    return history


def purchase_history(
    *, currency: str, as_of: dt.date, cut: dt.date | None = None, warnings: list | None = None
) -> History:
    """Per-customer purchase summary (phase 1): one aggregation in the database. With `cut` (≤ as_of), the
    summary up to the cut comes from the same statement (`History.at_cut`): the churn model's calibration
    history costs no second scan of the order lines. On PostgreSQL the result is read as binary columns."""
    if cut is not None and cut > as_of:
        cut = None
    if connection.vendor == "postgresql" and FAST_PATHS:
        return _purchase_history_pg(currency=currency, as_of=as_of, cut=cut, warnings=warnings)
    if warnings is not None:
        warnings.extend(_data_warnings(currency=currency, as_of=as_of))
    if cut is not None:
        with connection.cursor() as cursor:
            cursor.execute(_AGGREGATE_WITH_CUT_SQL, [cut, cut, cut, cut, currency, as_of])
            rows = cursor.fetchall()
        history = _history([r[:5] for r in rows])
        history.at_cut = _history([(r[0], *r[5:]) for r in rows if r[5]])
        history.cut = cut
        return history
    with connection.cursor() as cursor:
        cursor.execute(_AGGREGATE_SQL, [currency, as_of])
        rows = cursor.fetchall()
    return _history(rows)


def _data_warnings(*, currency: str, as_of: dt.date, cursor=None) -> list[str]:
    """What the aggregation leaves out, said plainly (future-dated lines, other currencies): one pass over the
    lines for both counts (`cursor`: read on that connection)."""
    messages = []
    with contextlib.ExitStack() as stack:
        if cursor is None:
            cursor = stack.enter_context(connection.cursor())
        cursor.execute(
            "SELECT COUNT(DISTINCT CASE WHEN order_date > %s THEN customer_id END), "
            "COUNT(DISTINCT CASE WHEN currency <> %s THEN customer_id END) "
            "FROM sales_orderline WHERE counted AND (order_date > %s OR currency <> %s)",
            [as_of, currency, as_of, currency],
        )
        future, other = cursor.fetchone()
    if future:
        messages.append(f"{future} customers have orders dated after {as_of}; those orders were left out.")
    if other:
        messages.append(
            f"{other} customers have orders in currencies other than {currency}; without exchange rates those "
            "orders were left out."
        )
    return messages


@dataclass
class Scores:
    recency_days: np.ndarray
    frequency: np.ndarray
    monetary: np.ndarray
    r: np.ndarray
    f: np.ndarray
    m: np.ndarray
    segment: np.ndarray
    p_alive: np.ndarray
    expected_purchases: np.ndarray
    expected_spend: np.ndarray
    clv: np.ndarray


def _finite(values, *, low: float | None = 0.0, high: float | None = None) -> np.ndarray:
    out = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(out, low, high) if (low is not None or high is not None) else out


def score_history(history: History, *, as_of: dt.date, config: Config, run: ScoringRun) -> Scores:
    """Fit and score (phases 2 and 3); records parameters, fallbacks and the frequency table on `run`."""
    today = np.datetime64(as_of, "D")
    recency = (today - history.last).astype(float)
    age = (today - history.first).astype(float)
    span = (history.last - history.first).astype(float)
    x = np.maximum(history.days - 1, 0)
    T, t_x = age / DAYS_PER_WEEK, span / DAYS_PER_WEEK
    avg_spend = np.where(history.days > 0, history.monetary / np.maximum(history.days, 1), 0.0)

    t0 = time.perf_counter()
    params = None
    try:
        fit = clv.bgnbd_fit(x, t_x, T)
        params = [fit.params[k] for k in ("r", "alpha", "a", "b")]
        run.purchase_model = "bgnbd"
        run.bgnbd = {
            "params": fit.params,
            "log_likelihood": fit.log_likelihood,
            "iterations": fit.iterations,
            "message": fit.message,
            "n": fit.n,
            "sampled": fit.extra.get("sampled", False),
        }
        run.frequency_table = clv.bgnbd_frequency_table(params, x, T)
    except clv.FitError as exc:
        run.purchase_model = "heuristic"
        run.bgnbd = {"error": str(exc)}
        run.messages.append(
            f"BG/NBD not fitted: {exc}. P(alive) and expected purchases use a simple heuristic."
        )
    gg = None
    try:
        gg_fit = clv.gamma_gamma_fit(x, avg_spend)
        gg = [gg_fit.params[k] for k in ("p", "q", "gamma")]
        run.spend_model = "gamma_gamma"
        run.gamma_gamma = {
            "params": gg_fit.params,
            "log_likelihood": gg_fit.log_likelihood,
            "iterations": gg_fit.iterations,
            "message": gg_fit.message,
            "n": gg_fit.n,
        }
    except clv.FitError as exc:
        run.spend_model = "mean"
        run.gamma_gamma = {"error": str(exc)}
        run.messages.append(f"Gamma-Gamma not fitted: {exc}. Expected spend is each customer's own average.")
    run.timings["fit"] = time.perf_counter() - t0
    if params is not None and history.at_cut is not None:
        t0 = time.perf_counter()
        run.bgnbd["holdout"] = holdout_check(history, as_of=as_of)
        run.timings["holdout"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    r, f, m, segment = rfm.rfm_scores(recency, history.days, history.monetary, bins=config.bins)
    spend = clv.gamma_gamma_expected_spend(gg, x, avg_spend) if gg is not None else np.maximum(avg_spend, 0.0)
    spend = _finite(spend)
    if params is not None:
        p_alive = clv.bgnbd_p_alive(params, x, t_x, T)
        expected, value = clv.discounted_clv(
            params,
            x,
            t_x,
            T,
            spend,
            months=config.horizon_months,
            annual_discount_rate=config.discount_rate,
        )
    else:
        p_alive, expected, value = _heuristic(x, t_x, T, spend, config)
    run.timings["score"] = time.perf_counter() - t0
    return Scores(
        recency_days=_finite(recency),
        frequency=_finite(history.days),
        monetary=_finite(history.monetary, low=None),
        r=r,
        f=f,
        m=m,
        segment=segment,
        p_alive=_finite(p_alive, high=1.0),
        expected_purchases=_finite(expected),
        expected_spend=spend,
        clv=_finite(value),
    )


#: fewer customers with purchases before the cut than this: no calibration/holdout check
HOLDOUT_MIN_CUSTOMERS = 30


def holdout_check(history: History, *, as_of: dt.date) -> dict:
    """The calibration/holdout check of the diagnostics page (`clv.bgnbd_holdout`): the BG/NBD model fitted on
    the purchases up to the churn cut (one churn period back, `History.at_cut` — the same aggregation), its
    expected repeat purchases after the cut against the actual ones. A dictionary with an `error` sentence
    instead when it cannot be made."""
    cal, cut = history.at_cut, history.cut
    if cal is None or cut is None or cal.customer_id.size < HOLDOUT_MIN_CUSTOMERS:
        return {"error": f"fewer than {HOLDOUT_MIN_CUSTOMERS} customers bought before the cut"}
    weeks = (as_of - cut).days / DAYS_PER_WEEK
    cut_day = np.datetime64(cut, "D")
    # the calibration customers' purchase days up to the as-of date (at_cut is a subset of the history)
    order = np.argsort(history.customer_id, kind="stable")
    where = order[np.searchsorted(history.customer_id, cal.customer_id, sorter=order)]
    after = np.maximum(history.days[where] - cal.days, 0)
    try:
        return clv.bgnbd_holdout(
            np.maximum(cal.days - 1, 0),
            (cal.last - cal.first).astype(float) / DAYS_PER_WEEK,
            (cut_day - cal.first).astype(float) / DAYS_PER_WEEK,
            after,
            weeks,
        ) | {"cut": cut.isoformat()}
    except clv.FitError as exc:
        return {"error": str(exc), "cut": cut.isoformat()}


def _heuristic(x, t_x, T, spend, config: Config):
    """Without a fitted model: purchase rate (x + 1) / (T + 1 week); P(alive) = the chance of the silence since
    the last purchase at that rate; expected purchases = P(alive) × rate × horizon; CLV discounted as a level
    monthly stream."""
    rate = (x + 1) / (T + 1)
    p_alive = np.exp(-rate * (T - t_x))
    weeks = config.horizon_months * 365.25 / 12 / DAYS_PER_WEEK
    expected = p_alive * rate * weeks
    monthly = (1 + config.discount_rate) ** (1 / 12) - 1
    months = np.arange(1, config.horizon_months + 1)
    factor = float(np.sum(1 / (1 + monthly) ** months)) / config.horizon_months
    return p_alive, expected, expected * spend * factor


_FIELDS = [
    "customer", "run", "currency", "first_purchase", "last_purchase", "recency_days", "frequency", "monetary",
    "r_score", "f_score", "m_score", "segment", "p_alive", "expected_purchases", "expected_spend", "clv",
    "computed_at",
]  # fmt: skip


def _money(values: np.ndarray) -> list[str]:
    return [f"{v:.2f}" for v in np.round(values, 2).tolist()]


def write_scores(
    *, history: History, scores: Scores, run: ScoringRun, computed_at: dt.datetime, fast=None
) -> int:
    """Replace every score row (phase 4) inside the caller's transaction: on PostgreSQL the staged write-back
    (writeback.FastWrite), elsewhere DELETE + bulk insert."""
    if fast is not None:
        return fast.write_scores(scores=scores, computed_at=computed_at)
    CustomerScore.objects.all()._raw_delete(CustomerScore.objects.db)
    rows = zip(
        history.customer_id.tolist(),
        [run.pk] * len(history.customer_id),
        [run.currency] * len(history.customer_id),
        history.first.astype(str).tolist(),
        history.last.astype(str).tolist(),
        scores.recency_days.astype(np.int64).tolist(),
        scores.frequency.astype(np.int64).tolist(),
        _money(scores.monetary),
        scores.r.tolist(),
        scores.f.tolist(),
        scores.m.tolist(),
        scores.segment.tolist(),
        np.round(scores.p_alive, 6).tolist(),
        np.round(scores.expected_purchases, 6).tolist(),
        _money(scores.expected_spend),
        _money(scores.clv),
        [computed_at] * len(history.customer_id),
        strict=True,
    )
    return bulk.insert_rows(CustomerScore, _FIELDS, rows)


def scoring_run(
    *,
    by=None,
    as_of: dt.date | None = None,
    bins: int | None = None,
    horizon_months: int | None = None,
    discount_rate: float | None = None,
    currency: str | None = None,
) -> ScoringRun:
    """Score every customer with purchases and replace the score table. Returns the finished run.

    Safe to run while people work: readers see the previous scores until the run commits. Two runs at once are
    harmless (the later commit wins); the task queue normally runs one at a time."""
    config = Config.from_settings(
        bins=bins, horizon_months=horizon_months, discount_rate=discount_rate, currency=currency
    )
    as_of = as_of or timezone.localdate()
    run = ScoringRun.objects.create(
        started_by=by if getattr(by, "pk", None) else None,
        as_of=as_of,
        currency=config.currency,
        bins=config.bins,
        horizon_months=config.horizon_months,
        discount_rate=config.discount_rate,
        messages=[],
        timings={},
    )
    try:
        t0 = time.perf_counter()
        warnings: list[str] = []
        history = purchase_history(
            currency=config.currency, as_of=as_of, cut=_churn_cut(as_of), warnings=warnings
        )
        run.messages.extend(warnings)
        run.timings["aggregate"] = time.perf_counter() - t0
        if history.customer_id.size == 0:
            run.messages.append("No purchases to score yet.")
        scores = score_history(history, as_of=as_of, config=config, run=run)
        # everything else is computed before the write phase, so that its locks are held for the writes only
        prepared = {step: PREPARE[step](run=run, history=history, scores=scores)
                    for step in AFTER_SCORING if step in PREPARE}  # fmt: skip
        fast = None
        if connection.vendor == "postgresql" and FAST_PATHS:
            from .writeback import FastWrite

            fast = FastWrite(run=run, history=history)
        outermost = not connection.in_atomic_block
        t0 = time.perf_counter()
        with transaction.atomic():
            _hold(run)
            computed_at = timezone.now()
            run.customers = write_scores(
                history=history, scores=scores, run=run, computed_at=computed_at, fast=fast
            )
            run.timings["write"] = time.perf_counter() - t0
            for step in AFTER_SCORING:  # value segments and churn (value.py), the report summary, …
                step(run=run, history=history, scores=scores, computed_at=computed_at, fast=fast,
                     prepared=prepared.get(step))  # fmt: skip
            run.status = RunStatus.DONE
            run.finished_at = timezone.now()
            run.save()
            audit.log(
                actor=by,
                action=AuditAction.CREATE,
                model="analytics.scoringrun",
                object_id=run.pk,
                object_repr=str(run),
                changes={"customers": run.customers, "purchase_model": run.purchase_model},
                note="RFM and CLV scores recomputed",
            )
            t0 = time.perf_counter()
        if outermost:  # the commit (deferred constraint checks included) is part of the run's time
            run.timings["commit"] = time.perf_counter() - t0
            ScoringRun.objects.filter(pk=run.pk).update(timings=run.timings)
    except Exception as exc:
        log.exception("scoring run %s failed", run.pk)
        run.status = RunStatus.FAILED
        run.finished_at = timezone.now()
        run.messages.append(f"The run failed: {exc}")
        try:
            with transaction.atomic():  # a savepoint: a caller's transaction stays usable
                run.save(force_update=True)
        except DatabaseError:  # the run row itself was deleted: nothing to record the failure on
            log.warning("scoring run %s: its row is gone", run.pk)
        raise
    return run


def _hold(run: ScoringRun) -> None:
    """Lock the run's row until the write transaction ends, or fail when it is gone. The score, value and
    snapshot rows point at their run without a database constraint (migration 0008); the run row was committed
    before this transaction, so a deletion could come in between. The UPDATE takes the row lock a foreign-key
    check would (stronger: a deletion waits for the commit, and then its trigger — migration 0009 — clears the
    references of the rows just written) and, on SQLite, the database's write lock."""
    if not ScoringRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING):
        raise RuntimeError(f"scoring run {run.pk} was deleted before its results were written")


def _churn_cut(as_of: dt.date) -> dt.date | None:
    """The churn model's calibration date (one churn period back), read with the scores' aggregation."""
    from .value import churn_cut

    try:
        return churn_cut(as_of)
    except Exception:  # the value settings cannot be read: the value step says so, the scores go on
        log.exception("churn cut of %s", as_of)
        return None


def _value_step(*, run, prepared=None, fast=None, **kwargs) -> None:
    """Value segments and churn risk; a failure there leaves the scores written and says so on the run."""
    from .value import value_write

    if prepared is None:  # `prepare` failed and said so
        return
    try:
        with transaction.atomic():
            value_write(run=run, result=prepared, fast=fast, **kwargs)
    except Exception as exc:
        log.exception("value segments of run %s failed", run.pk)
        run.messages.append(f"Value segments and churn risk were not updated: {exc}")


def _value_prepare(*, run, history, scores):
    """Segments and churn computed before the write phase; None (and a message) when that fails."""
    from . import value

    try:
        return value.value_prepare(run=run, history=history, scores=scores)
    except Exception as exc:
        log.exception("value segments of run %s failed", run.pk)
        run.messages.append(f"Value segments and churn risk were not updated: {exc}")
        return None


#: above this share of the scored customers changing RFM segment, the report summary is rebuilt rather than
#: moved customer by customer (each moved customer's lines are read twice; a rebuild reads every line once)
SUMMARY_MOVE_SHARE = 1 / 3


def _line_summary_step(*, run, fast=None, **kwargs) -> None:
    """Bring the report builder's order-line summary to the new segments (PostgreSQL; migration 0007_anperf):
    last, because it holds the summary's lock until the run commits. When the summary was valid before the run
    (`fast.summary_moves`), only the lines of customers whose RFM segment changed move between groups (none
    when no segment changed); otherwise it is rebuilt from every line. On failure the summary stays marked
    stale (the score writes marked it) and reports read the order lines."""
    if connection.vendor != "postgresql":
        return
    t0 = time.perf_counter()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            moves = getattr(fast, "summary_moves", None)
            if moves is not None and moves <= SUMMARY_MOVE_SHARE * max(run.customers or 0, 1):
                fast.move_summary(cursor)
                run.summary_moves = moves  # not stored: for benchmarks and tests
            else:
                cursor.execute("SELECT analytics_linemonth_rebuild()")
    except Exception as exc:
        log.exception("order-line summary of run %s failed", run.pk)
        run.messages.append(f"The report summary was not rebuilt (reports read the order lines): {exc}")
    run.timings["report_summary"] = time.perf_counter() - t0


#: steps run after the scores are written, in the run's transaction: step(run=, history=, scores=, computed_at=)
AFTER_SCORING: list[Callable[..., None]] = [_value_step, _line_summary_step]
#: a step's computation before the write phase (its result reaches the step as `prepared`)
PREPARE: dict[Callable[..., None], Callable[..., Any]] = {_value_step: _value_prepare}
