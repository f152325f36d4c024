"""Value segments by CLV and churn risk, computed with every scoring run (called from services.scoring_run).

    value_step(run=run, history=history, scores=scores)

1. **margin** — net revenue × the gross margin rate − tickets (up to the as-of date) × the cost to serve per
   ticket (both set by an administrator; by default revenue counts as margin and tickets cost nothing);
2. **segments** — customers with a margin below zero are *below zero*; the others are ranked by CLV (ties by
   customer id): the first `top_share` of them are *most valuable*, the next `core_share` *core*, the rest
   *standard* (shares of the customer count, rounded up, so one customer is never "nobody");
3. **churn** — churn.churn_scores with the calibration/holdout cut one churn period back;
4. **write** — CustomerValue replaced in bulk; a ValueCycle row with the settings, the strategies in force,
   the segment figures, the churn report and the Pareto curves; a per-customer snapshot for cycle starts
   (the first run of each churn period) and the latest run — other runs' snapshots are pruned.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from dataclasses import dataclass

import numpy as np
from django.db.models import Count

from kehu.core import bulk

from . import churn
from .models_value import (
    CustomerValue,
    RelationshipStrategy,
    ValueCycle,
    ValueSegment,
    ValueSettings,
    ValueSnapshot,
)

SEGMENT_ORDER = [ValueSegment.TOP, ValueSegment.CORE, ValueSegment.STANDARD, ValueSegment.BELOW_ZERO]


def _finite(values, low=None, high=None) -> np.ndarray:
    out = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(out, low, high) if (low is not None or high is not None) else out


def segment_by_clv(
    clv: np.ndarray, margin: np.ndarray, customer_id: np.ndarray, *, top_share: float, core_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """(segment codes, CLV rank 1…n) — vectorised; see the module docstring for the rules."""
    n = len(clv)
    segment = np.full(n, ValueSegment.STANDARD.value, dtype=object)
    rank = np.zeros(n, dtype=np.int64)
    if n == 0:
        return segment.astype(str), rank
    clv = _finite(clv)
    order = np.lexsort((customer_id, -clv))  # CLV descending, then customer id
    rank[order] = np.arange(1, n + 1)
    below = _finite(margin) < 0
    eligible = order[~below[order]]
    m = len(eligible)
    top_n = min(m, math.ceil(top_share * m - 1e-9))
    core_n = min(m, math.ceil((top_share + core_share) * m - 1e-9))
    segment[eligible[:top_n]] = ValueSegment.TOP.value
    segment[eligible[top_n:core_n]] = ValueSegment.CORE.value
    segment[below] = ValueSegment.BELOW_ZERO.value
    return segment.astype(str), rank


def pareto_curve(values, points: int = 20) -> dict:
    """The 80/20 curve: share of the total held by the top x % of customers (values sorted descending, negative
    values counted as 0), at `points` + 1 steps; plus the share of the top 20 %. Always finite."""
    v = np.sort(np.maximum(_finite(values), 0.0))[::-1]
    total = float(v.sum())
    xs = [round(100 * i / points, 1) for i in range(points + 1)]
    if len(v) == 0 or total <= 0:
        return {"x": xs, "y": [0.0] * len(xs), "top20": 0.0, "customers": int(len(v)), "total": 0.0}
    cum = np.concatenate([[0.0], np.cumsum(v)]) / total
    idx = [min(len(v), math.ceil(len(v) * i / points - 1e-9)) for i in range(points + 1)]
    ys = [round(100 * float(cum[i]), 1) for i in idx]
    top20 = float(cum[min(len(v), math.ceil(len(v) * 0.2 - 1e-9))])
    return {
        "x": xs,
        "y": ys,
        "top20": round(100 * top20, 1),
        "customers": int(len(v)),
        "total": round(total, 2),
    }


def _tickets_to_date(ids: np.ndarray, *, as_of: dt.date) -> np.ndarray:
    from kehu.service.models import Ticket

    out = np.zeros(len(ids))
    if not len(ids):
        return out
    index = {int(c): i for i, c in enumerate(ids.tolist())}
    rows = (
        Ticket.objects.filter(
            customer__isnull=False, created_at__lt=churn._day_start(as_of + dt.timedelta(days=1))
        )
        .order_by()
        .values("customer_id")
        .annotate(n=Count("id"))
        .values_list("customer_id", "n")
    )
    for cid, n in rows:
        i = index.get(int(cid))
        if i is not None:
            out[i] = float(n)
    return out


def _money(values) -> list[str]:
    return [f"{v:.2f}" for v in np.round(_finite(values), 2).tolist()]


def churn_cut(as_of: dt.date) -> dt.date:
    """The churn model's calibration cut: one churn period before `as_of`."""
    return as_of - dt.timedelta(days=ValueSettings.current().churn_period_days)


@dataclass
class ValueResult:
    """What `value_prepare` computed, for `value_write`."""

    conf: ValueSettings
    cut: dt.date
    segment: np.ndarray
    rank: np.ndarray
    margin: np.ndarray
    churn: churn.ChurnResult


def value_step(*, run, history, scores, computed_at: dt.datetime) -> None:
    """Segment, score churn and write (inside the scoring run's transaction). Adds timings and messages."""
    value_write(run=run, history=history, scores=scores, result=value_prepare(run=run, history=history,
                scores=scores), computed_at=computed_at)  # fmt: skip


def value_prepare(*, run, history, scores) -> ValueResult:
    """Segments and churn risk (no writes: the scoring run computes everything before its write phase)."""
    from .services import purchase_history  # the same aggregation as the scores, one period back

    t0 = time.perf_counter()
    conf = ValueSettings.current()
    ids = history.customer_id
    tickets = _tickets_to_date(ids, as_of=run.as_of) if conf.cost_per_ticket else np.zeros(len(ids))
    margin = _finite(scores.monetary) * conf.margin_rate - tickets * float(conf.cost_per_ticket)
    segment, rank = segment_by_clv(
        scores.clv, margin, ids, top_share=conf.top_share, core_share=conf.core_share
    )
    run.timings["value_segments"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    cut = run.as_of - dt.timedelta(days=conf.churn_period_days)
    params = None
    if run.purchase_model == "bgnbd" and (run.bgnbd or {}).get("params"):
        params = [run.bgnbd["params"][k] for k in ("r", "alpha", "a", "b")]
    if len(ids):
        # the scoring run's aggregation read the cut too; a second scan only when called without it
        if history.at_cut is not None and history.cut == cut:
            history_cut = history.at_cut
        else:
            history_cut = purchase_history(currency=run.currency, as_of=cut)
        result = churn.churn_scores(
            history_now=history, history_cut=history_cut, as_of=run.as_of, cut=cut, bgnbd_params=params
        )
    else:
        empty = churn._top_reasons(np.zeros((0, len(churn.FEATURES))))
        result = churn.ChurnResult(ids, np.zeros(0), *empty, "p_alive", {"messages": []})
    run.messages.extend(result.report.get("messages", []))
    run.timings["churn"] = time.perf_counter() - t0
    for part, seconds in result.report.pop("seconds", {}).items():  # the churn phase's own split (an11)
        run.timings[f"churn_{part}"] = seconds
    return ValueResult(conf=conf, cut=cut, segment=segment, rank=rank, margin=margin, churn=result)


def value_write(*, run, history, scores, result: ValueResult, computed_at: dt.datetime, fast=None) -> None:
    """Replace the value rows, record the cycle and its snapshot (inside the scoring run's transaction).
    `fast` (PostgreSQL): the scoring run's staged write-back (writeback.py) writes the per-customer rows."""
    t0 = time.perf_counter()
    conf, segment, rank, margin, cut = result.conf, result.segment, result.rank, result.margin, result.cut
    ids = history.customer_id
    risk = _finite(result.churn.risk, 0.0, 1.0)
    if fast is not None:
        fast.write_values(segment=segment, rank=rank, margin=margin, risk=risk, churn=result.churn,
                          computed_at=computed_at)  # fmt: skip
    else:
        CustomerValue.objects.all()._raw_delete(CustomerValue.objects.db)
        rows = zip(
            ids.tolist(),
            [run.pk] * len(ids),
            segment.tolist(),
            rank.tolist(),
            _money(margin),
            np.round(risk, 6).tolist(),
            [result.churn.model] * len(ids),
            [json.dumps(r) for r in result.churn.reasons],
            [computed_at] * len(ids),
            strict=True,
        )
        fields = ["customer", "run", "segment", "clv_rank", "margin", "churn_risk", "churn_model",
                  "churn_reasons", "computed_at"]  # fmt: skip
        bulk.insert_rows(CustomerValue, fields, rows)

    figures = {}
    for seg in SEGMENT_ORDER:
        mask = segment == seg.value
        figures[seg.value] = {
            "customers": int(mask.sum()),
            "clv": round(float(_finite(scores.clv)[mask].sum()), 2),
            "revenue": round(float(_finite(scores.monetary)[mask].sum()), 2),
            "churn_risk": round(float(risk[mask].mean()), 4) if mask.any() else 0.0,
        }
    strategies = {s.segment: s.summary() for s in RelationshipStrategy.objects.select_related("sla_policy")}
    start = not ValueCycle.objects.filter(cycle_start=True, as_of__gt=cut, as_of__lte=run.as_of).exists()
    report = result.churn.report
    cycle = ValueCycle.objects.create(
        run=run,
        as_of=run.as_of,
        cycle_start=start,
        settings={
            "top_share": conf.top_share,
            "core_share": conf.core_share,
            "margin_rate": conf.margin_rate,
            "cost_per_ticket": str(conf.cost_per_ticket),
            "churn_period_days": conf.churn_period_days,
            "at_risk_threshold": conf.at_risk_threshold,
        },
        strategies=strategies,
        segments=figures,
        churn={k: v for k, v in report.items() if k != "messages"} | {"model": result.churn.model},
        pareto={"revenue": pareto_curve(scores.monetary), "clv": pareto_curve(scores.clv)},
        messages=list(report.get("messages", [])),
    )
    ValueSnapshot.objects.filter(
        cycle__in=ValueCycle.objects.filter(cycle_start=False).exclude(pk=cycle.pk)
    ).delete()
    if fast is not None:
        fast.write_snapshot(cycle=cycle, segment=segment)
    else:
        snap = zip(
            [cycle.pk] * len(ids),
            ids.tolist(),
            segment.tolist(),
            _money(scores.clv),
            [f"{v:.2f}" for v in np.round(_finite(scores.monetary), 2).tolist()],
            strict=True,
        )
        bulk.insert_rows(ValueSnapshot, ["cycle", "customer_id", "segment", "clv", "monetary"], snap)
    run.timings["value_write"] = time.perf_counter() - t0
