"""Churn risk per customer: P(alive) plus behaviour, a scikit-learn logistic regression where history allows.

Training uses a calibration/holdout cut one churn period before the as-of date: features are computed from
what was known at the cut, the label is "bought nothing in the period after the cut". The fitted model then
scores every customer on the features as of today. A model needs at least MIN_TRAIN customers and
MIN_CLASS of each class; otherwise (tiny data sets, one class only, a failing fit) the risk is
1 − P(alive) from the BG/NBD model (or its heuristic) and the reasons are read from simple rules.

Reasons are per-feature contributions of the logistic regression: coefficient × standardised value, the
strongest positive ones first. Everything returned is finite and clipped (risk in [0, 1]).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import clv

MIN_TRAIN = 40
MIN_CLASS = 8
HOLDOUT_MIN = 100  # from this many training customers a holdout AUC is reported
SERVICE_WINDOW_DAYS = 180  # tickets and complaints counted over this window before the reference date
CONTACT_GAP_CAP = 730.0
DAYS_PER_WEEK = 7.0

#: feature code → label (the same codes are the reasons shown to users)
REASONS = {
    "p_dead": _("Low probability of still being active"),
    "recency": _("Long since the last purchase"),
    "recency_trend": _("Silent for longer than their usual purchase rhythm"),
    "frequency": _("Few purchases"),
    "monetary": _("Low spend"),
    "tickets": _("Many service tickets lately"),
    "complaints": _("Recent complaints"),
    "contact_gap": _("No contact for a long time"),
}
FEATURES = list(REASONS)
#: features where a high value lowers the risk: their contribution sign is as the model fits it, but the
#: fallback rules read them inverted
_DESCENDING = {"frequency", "monetary"}


@dataclass
class ChurnResult:
    customer_id: np.ndarray
    risk: np.ndarray
    #: per customer the top reasons as arrays (n × 3): feature number + 1 (0 = no further reason), contribution
    reason_codes: np.ndarray
    reason_values: np.ndarray
    model: str  # "logistic" or "p_alive"
    report: dict = field(default_factory=dict)

    @property
    def reasons(self) -> list[list]:
        """per customer: [[code, contribution], …], strongest first (built on demand: one list per customer)"""
        return _reason_lists(self.reason_codes, self.reason_values)


def _finite(values, low=None, high=None) -> np.ndarray:
    out = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    if low is not None or high is not None:
        out = np.clip(out, low, high)
    return out


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _service_counts(ids: np.ndarray, *, as_of: dt.date) -> tuple[np.ndarray, np.ndarray, bool]:
    """(tickets, complaints) in the window before `as_of`, and whether any ticket exists at all."""
    from kehu.service.models import Ticket, TicketKind

    rows = (
        Ticket.objects.filter(
            customer__isnull=False,
            created_at__gte=_day_start(as_of - dt.timedelta(days=SERVICE_WINDOW_DAYS)),
            created_at__lt=_day_start(as_of + dt.timedelta(days=1)),
        )
        .order_by()
        .values("customer_id")
        .annotate(n=Count("id"), c=Count("id", filter=Q(kind=TicketKind.COMPLAINT)))
        .values_list("customer_id", "n", "c")
    )
    tickets = np.zeros(len(ids))
    complaints = np.zeros(len(ids))
    index = {int(c): i for i, c in enumerate(ids.tolist())}
    for cid, n, c in rows:
        i = index.get(int(cid))
        if i is not None:
            tickets[i], complaints[i] = float(n or 0), float(c or 0)
    return tickets, complaints, Ticket.objects.exists()


@dataclass
class Contacts:
    """The last contact per timeline account on or before each reference day: `accounts` (sorted ids) and, per
    day, the local date of that account's last contact (`NO_CONTACT` where none by then)."""

    accounts: np.ndarray
    last: dict[dt.date, np.ndarray]


NO_CONTACT = np.datetime64("0001-01-01", "D")


def last_contacts(days: list[dt.date]) -> Contacts:
    """One aggregation over the interactions (events from other apps left out) for every reference day at once:
    per account `MAX(occurred_at) FILTER (WHERE occurred_at < day + 1)`, converted to the local date after
    grouping. PostgreSQL reads the columns through binary COPY (pgcopy; ~1M accounts without a Python object per
    row); elsewhere the ORM's `Max(TruncDate(…))` and one array conversion. No per-customer Python loop (the loop
    it replaces took 31–47 s at 10M interactions: docs/benchmarks.md, an11)."""
    from django.db import connection

    from kehu.interactions.models import Interaction, InteractionChannel

    from . import services

    days = sorted(set(days))
    ends = [_day_start(d + dt.timedelta(days=1)) for d in days]
    if not days:
        return Contacts(np.zeros(0, np.int64), {})
    if connection.vendor == "postgresql" and services.FAST_PATHS:
        from . import pgcopy

        zone = timezone.get_current_timezone_name()
        columns = ", ".join(
            "COALESCE((MAX(occurred_at) FILTER (WHERE occurred_at < %s) AT TIME ZONE %s)::date, DATE '0001-01-01')"
            for _ in days
        )
        params: list = []
        for end in ends:
            params += [end, zone]
        sql = (
            f"SELECT account_id, {columns} FROM interactions_interaction "  # noqa: S608 - no user input # nosec B608
            "WHERE occurred_at < %s AND channel <> %s AND account_id IS NOT NULL "
            "GROUP BY account_id ORDER BY account_id"
        )
        params += [max(ends), InteractionChannel.EVENT]
        with connection.cursor() as cursor:
            arrays = pgcopy.copy_out(cursor, sql, params, ["int8", *(["date"] * len(days))])
        return Contacts(arrays[0].astype(np.int64), {d: arrays[1 + k] for k, d in enumerate(days)})
    aggregates = {
        f"d{k}": Max(TruncDate("occurred_at"), filter=Q(occurred_at__lt=end)) for k, end in enumerate(ends)
    }
    rows = list(
        Interaction.objects.filter(occurred_at__lt=max(ends), account_id__isnull=False)
        .exclude(channel=InteractionChannel.EVENT)
        .order_by()
        .values("account_id")
        .annotate(**aggregates)
        .order_by("account_id")
        .values_list("account_id", *aggregates)
    )
    accounts = np.array([r[0] for r in rows], dtype=np.int64)
    last = {
        d: np.array([r[1 + k] or dt.date(1, 1, 1) for r in rows], dtype="datetime64[D]") if rows
        else np.zeros(0, "datetime64[D]")
        for k, d in enumerate(days)
    }  # fmt: skip
    return Contacts(accounts, last)


def _contact_gap(
    ids: np.ndarray, *, as_of: dt.date, fallback: np.ndarray, contacts: Contacts | None = None
) -> tuple[np.ndarray, bool]:
    """Days since the last contact with the customer (events from other apps left out); customers never
    contacted get `fallback` (their tenure), capped. Vectorised: the customers are looked up in the sorted
    account ids (`searchsorted`)."""
    if contacts is None or as_of not in contacts.last:
        contacts = last_contacts([as_of])
    accounts, last = contacts.accounts, contacts.last[as_of]
    gap = np.array(fallback, dtype=float, copy=True)
    known = last > NO_CONTACT
    any_contact = bool(known.any())
    if len(accounts) and len(ids):
        pos = np.clip(np.searchsorted(accounts, ids), 0, len(accounts) - 1)
        hit = (accounts[pos] == ids) & known[pos]
        days = (np.datetime64(as_of, "D") - last[pos]).astype(float)
        gap = np.where(hit, np.maximum(days, 0.0), gap)
    return np.clip(gap, 0, CONTACT_GAP_CAP), any_contact


def features(
    history, *, as_of: dt.date, bgnbd_params, contacts: Contacts | None = None
) -> tuple[np.ndarray, dict]:
    """The feature matrix (rows = history.customer_id, columns = FEATURES) as known on `as_of` (`contacts`: the
    last contacts already read for this day, see `last_contacts`)."""
    today = np.datetime64(as_of, "D")
    recency = (today - history.last).astype(float)
    age = (today - history.first).astype(float)
    span = (history.last - history.first).astype(float)
    x = np.maximum(history.days - 1, 0)
    T, t_x = age / DAYS_PER_WEEK, span / DAYS_PER_WEEK
    if bgnbd_params is not None:
        p_alive = clv.bgnbd_p_alive(bgnbd_params, x, t_x, T)
    else:
        rate = (x + 1) / (T + 1)
        p_alive = np.exp(-rate * (T - t_x))
    p_alive = _finite(p_alive, 0.0, 1.0)
    # the usual gap between purchases (the whole tenure for one-time buyers, at least a week)
    usual_gap = np.where(x > 0, span / np.maximum(x, 1), np.maximum(age, 7.0))
    trend = _finite(recency / np.maximum(usual_gap, 7.0), 0.0, 50.0)
    tickets, complaints, any_ticket = _service_counts(history.customer_id, as_of=as_of)
    gap, any_contact = _contact_gap(
        history.customer_id, as_of=as_of, fallback=np.minimum(age, CONTACT_GAP_CAP), contacts=contacts
    )
    matrix = np.column_stack(
        [
            1.0 - p_alive,
            _finite(recency, 0.0),
            trend,
            np.log1p(_finite(history.days, 0.0)),
            np.log1p(_finite(history.monetary, 0.0)),
            tickets,
            complaints,
            gap,
        ]
    )
    return _finite(matrix), {"p_alive": p_alive, "service_data": any_ticket, "contact_data": any_contact}


def _top_reasons(contrib: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Per row the k features with the largest positive contribution, as arrays (n × k): the feature's number
    + 1 (0 where the contribution is not positive: those come last, the kept ones are a prefix) and the
    contribution rounded to 4 places (0 where not kept). Vectorised."""
    if not len(contrib):
        return np.zeros((0, k), dtype=np.int64), np.zeros((0, k))
    order = np.argsort(-contrib, axis=1)[:, :k]
    values = np.round(np.take_along_axis(contrib, order, axis=1), 4)
    keep = values > 1e-9
    return np.where(keep, order + 1, 0), np.where(keep, values, 0.0)


def _reason_lists(codes: np.ndarray, values: np.ndarray) -> list[list]:
    """[[code, value], …] per row from `_top_reasons`' arrays (one Python pass over plain lists)."""
    names = [None, *FEATURES]
    return [
        [[names[c], v] for c, v in zip(cs, vs, strict=True) if c]
        for cs, vs in zip(codes.tolist(), values.tolist(), strict=True)
    ]


def _fallback_reasons(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reasons without a model: each feature's standing against the population (z-score, sign-corrected)."""
    if not len(X):
        return _top_reasons(np.zeros((0, len(FEATURES))))
    mean, std = X.mean(axis=0), X.std(axis=0)
    z = (X - mean) / np.where(std > 0, std, 1.0)
    for j, code in enumerate(FEATURES):
        if code in _DESCENDING:
            z[:, j] = -z[:, j]
    return _top_reasons(_finite(z))


def churn_scores(*, history_now, history_cut, as_of: dt.date, cut: dt.date, bgnbd_params) -> ChurnResult:
    """Churn risk of every customer in `history_now` (see the module docstring)."""
    # the last contacts as of today and as of the cut: one pass over the interactions for both
    t0 = time.perf_counter()
    contacts = last_contacts([as_of, cut])
    seconds = {"contacts": time.perf_counter() - t0}
    t0 = time.perf_counter()
    X_now, info = features(history_now, as_of=as_of, bgnbd_params=bgnbd_params, contacts=contacts)
    seconds["features"] = time.perf_counter() - t0
    report: dict = {
        "seconds": seconds,  # taken out into the run's timings (value.value_prepare)
        "cut": cut.isoformat(),
        "features": FEATURES,
        "service_data": info["service_data"],
        "contact_data": info["contact_data"],
    }
    messages = []
    if not info["service_data"]:
        messages.append("No service tickets yet: the tickets and complaints features are zero for everyone.")

    def fallback() -> ChurnResult:
        return ChurnResult(
            customer_id=history_now.customer_id,
            risk=_finite(1.0 - info["p_alive"], 0.0, 1.0),
            **dict(zip(("reason_codes", "reason_values"), _fallback_reasons(X_now), strict=True)),
            model="p_alive",
            report=report,
        )

    n = len(history_cut.customer_id)
    if n < MIN_TRAIN:
        messages.append(
            f"Churn model not trained: {n} customers had purchased before {cut} (at least {MIN_TRAIN} are "
            "needed). Churn risk is 1 − P(alive)."
        )
        report["messages"] = messages
        return fallback()
    # label: bought nothing after the cut (last purchase now is still on or before the cut)
    y = _churned_after(history_now, history_cut, cut)
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    report.update({"train": int(len(y)), "churned": positives, "stayed": negatives})
    if min(positives, negatives) < MIN_CLASS:
        messages.append(
            f"Churn model not trained: of {len(y)} customers {positives} churned and {negatives} stayed after "
            f"{cut}; each class needs at least {MIN_CLASS}. Churn risk is 1 − P(alive)."
        )
        report["messages"] = messages
        return fallback()
    t0 = time.perf_counter()
    X_cut, _info = features(history_cut, as_of=cut, bgnbd_params=bgnbd_params, contacts=contacts)
    seconds["features"] += time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        model, scaler, auc = _fit(X_cut, y)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        messages.append(f"Churn model could not be fitted ({exc}). Churn risk is 1 − P(alive).")
        report["messages"] = messages
        return fallback()
    seconds["model"] = time.perf_counter() - t0
    Z = _finite(scaler.transform(X_now))
    risk = _finite(model.predict_proba(Z)[:, 1], 0.0, 1.0)
    contrib = _finite(Z * model.coef_[0])
    report.update(
        {
            "auc": auc,
            "coefficients": {
                code: round(float(c), 4) for code, c in zip(FEATURES, model.coef_[0], strict=True)
            },
            "intercept": round(float(model.intercept_[0]), 4),
            "messages": messages,
        }
    )
    return ChurnResult(
        customer_id=history_now.customer_id,
        risk=risk,
        **dict(zip(("reason_codes", "reason_values"), _top_reasons(contrib), strict=True)),
        model="logistic",
        report=report,
    )


def _churned_after(history_now, history_cut, cut: dt.date) -> np.ndarray:
    """1 for each customer of `history_cut` whose last purchase (as known now) is still on or before the cut."""
    order = np.argsort(history_now.customer_id)
    ids_now = history_now.customer_id[order]
    last_now = history_now.last[order]
    pos = np.clip(np.searchsorted(ids_now, history_cut.customer_id), 0, max(len(ids_now) - 1, 0))
    found = (
        (ids_now[pos] == history_cut.customer_id)
        if len(ids_now)
        else np.zeros(len(history_cut.customer_id), bool)
    )
    cut_day = np.datetime64(cut, "D")
    bought_after = found & (last_now[pos] > cut_day) if len(ids_now) else found
    return (~bought_after).astype(int)


def _fit(X: np.ndarray, y: np.ndarray):
    """Standardise, report a holdout AUC where there are enough customers, then fit on all of them."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    auc = None
    if len(y) >= HOLDOUT_MIN:
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
        if len(set(y_tr.tolist())) == 2 and len(set(y_te.tolist())) == 2:
            scaler = StandardScaler().fit(X_tr)
            model = LogisticRegression(max_iter=1000).fit(scaler.transform(X_tr), y_tr)
            value = float(roc_auc_score(y_te, model.predict_proba(scaler.transform(X_te))[:, 1]))
            auc = round(value, 4) if np.isfinite(value) else None
    scaler = StandardScaler().fit(X)
    model = LogisticRegression(max_iter=1000).fit(scaler.transform(X), y)
    if not np.all(np.isfinite(model.coef_)):
        raise ValueError("non-finite coefficients")
    return model, scaler, auc
