"""Next Best Activity use cases (writes): the NBA run, taken/ignored decisions, outcome tracking, calibration.

    run = nba_run(by=user)                        # daily (after scoring), on demand, from the demo seeder
    nba_decide(customer=c, action=a, decision="taken", by=user)

The run (timed into NbaRun.timings):
1. **outcomes** — taken decisions whose window has ended are closed: success when the customer placed a counted
   order with a positive amount, or got in touch (an inbound interaction), within [decided, window end];
   the realised effect is the net order amount in the window.
2. **calibrate** — per action and RFM segment: taken, successes, Σ expected, Σ realised over closed decisions;
   rate = Beta posterior mean around the prior, value factor = realised/expected shrunk towards 1 (nba.py).
3. **rank** — a handful of SQL reads (customers, scores, consent, products owned, installed base and tickets),
   the vectorised ranking, and the best few actions per customer written in one transaction (COPY on
   PostgreSQL). Pairs with a decision whose window is still open are left out (not recommended again yet).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, Count, DecimalField, Exists, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit, bulk, records
from kehu.core.models import AuditAction
from kehu.core.selectors import get_visible

from . import nba, rfm
from .models import CustomerScore
from .models_nba import (
    Decision,
    NbaAction,
    NbaCalibration,
    NbaDecision,
    NbaRecommendation,
    NbaRun,
    Outcome,
    RecommendationState,
    ValueBasis,
)

log = logging.getLogger(__name__)

DEFAULTS = {
    "TOP_N": 3,  # recommendations kept per customer
    "MIN_COST": 1.0,  # benefit index denominator floor (currency units): (E − C) / max(C, MIN_COST)
    "CONTACT_MAX": 3,  # contact rule: at most this many outbound contacts ...
    "CONTACT_DAYS": 7,  # ... in this many days, else the customer is left off the worklist
    "WORKLIST_SIZE": 50,
    "POPULAR_PRODUCTS": 20,  # cross-sell candidates: the best-selling products of the last two years
}


def config() -> dict:
    values = dict(DEFAULTS)
    values.update(getattr(settings, "KEHU_NBA", {}) or {})
    return values


# ---------------------------------------------------------------------------------------------- decisions
def nba_decide(*, customer, action: NbaAction, decision: str, by, note: str = "") -> NbaDecision:
    """Record a rep's taken/ignored decision on one customer's recommended action (or on an action of the
    catalogue the customer is eligible for), through the record service: the user must be able to write the
    customer (scope), the entry is audited and attributed to `by`. The recommendation leaves the worklist and the
    customer's other open recommendations move up. A taken action is tracked for `action.window_days`."""
    if decision not in Decision.values:
        raise ValidationError({"decision": _("Choose taken or ignored.")})
    if not action.active:
        raise ValidationError({"action": _("This action is no longer in the catalogue.")})
    now = timezone.now()
    with transaction.atomic():
        rec = (
            NbaRecommendation.objects.select_for_update()
            .filter(customer_id=customer.pk, action_id=action.pk)
            .first()
        )
        score = (
            CustomerScore.objects.filter(customer_id=customer.pk).values_list("segment", flat=True).first()
        )
        open_pending = NbaDecision.objects.filter(
            customer_id=customer.pk, action_id=action.pk, decision=Decision.TAKEN, window_ends__gt=now
        ).exists()
        if open_pending and decision == Decision.TAKEN:
            raise ValidationError(
                _("This action was already taken for this customer and is still being tracked.")
            )
        data = {
            "customer": customer,
            "action": action,
            "decision": decision,
            "segment": score or "",
            "expected_effect": rec.expected_effect if rec else Decimal("0"),
            "expected_cost": rec.expected_cost if rec else action.cost,
            "benefit_index": rec.benefit_index
            if rec
            else nba.benefit_index_scalar(0.0, float(action.cost), config()["MIN_COST"]),
            "response_rate": rec.response_rate if rec else action.prior_rate,
            "decided_at": now,
            # an ignored action stays off the customer's list for the same period
            "window_ends": now + dt.timedelta(days=action.window_days),
            "note": note[:300],
            "outcome": Outcome.PENDING if decision == Decision.TAKEN else Outcome.NOT_TRACKED,
        }
        made = records.record_create(model=NbaDecision, data=data, by=by)
        if rec is not None:
            rec.state = decision
            rec.save(update_fields=["state"])
            _renumber(customer.pk)
    return made


def _renumber(customer_id: int) -> None:
    """Ranks 1..k over the customer's open recommendations (at most TOP_N rows), best benefit first."""
    open_recs = list(
        NbaRecommendation.objects.select_for_update()
        .filter(customer_id=customer_id)
        .order_by("state", "-benefit_index", "action_id")
    )
    opened = [r for r in open_recs if r.state == RecommendationState.OPEN]
    closed = [r for r in open_recs if r.state != RecommendationState.OPEN]
    for position, rec in enumerate([*opened, *closed], start=1):
        if rec.rank != position:
            rec.rank = position
            rec.save(update_fields=["rank"])


def decision_for(*, user, customer_id, action_id, decision: str, note: str = "") -> NbaDecision:
    """The views' and API's entry: the customer must be visible (404 otherwise), the action in the catalogue."""
    from kehu.customers.models import Customer

    customer = get_visible(Customer, user=user, pk=customer_id)
    action = NbaAction.objects.filter(pk=int(action_id)).first() if str(action_id).isdigit() else None
    if action is None:
        raise ValidationError({"action": _("Unknown action.")})
    return nba_decide(customer=customer, action=action, decision=decision, by=user, note=note)


# ---------------------------------------------------------------------------------------------- outcomes
def outcomes_close(*, now: dt.datetime | None = None) -> int:
    """Close taken decisions whose window has ended (set-based: one UPDATE per outcome group, the realised
    amounts from one aggregate query). Returns how many were closed."""
    from kehu.interactions.models import Interaction
    from kehu.sales.models import OrderLine

    now = now or timezone.now()
    due = NbaDecision.objects.filter(decision=Decision.TAKEN, outcome=Outcome.PENDING, window_ends__lte=now)
    tz = timezone.get_current_timezone()
    lines = OrderLine.objects.filter(
        customer_id=OuterRef("customer_id"),
        counted=True,
        order_date__gte=OuterRef("decided_on"),
        order_date__lte=OuterRef("ends_on"),
    )
    amount = lines.order_by().values("customer_id").annotate(total=Sum("amount")).values("total")[:1]
    positive = lines.filter(amount__gt=0)
    inbound = Interaction.objects.filter(
        customer_id=OuterRef("customer_id"),
        direction="in",
        occurred_at__gte=OuterRef("decided_at"),
        occurred_at__lte=OuterRef("window_ends"),
    )
    from django.db.models.functions import TruncDate

    rows = list(
        due.annotate(
            decided_on=TruncDate("decided_at", tzinfo=tz),
            ends_on=TruncDate("window_ends", tzinfo=tz),
        )
        .annotate(
            realised=Coalesce(
                Subquery(amount, output_field=DecimalField(max_digits=18, decimal_places=2)),
                Value(Decimal("0")),
                output_field=DecimalField(max_digits=18, decimal_places=2),
            ),
            bought=Exists(positive),
            replied=Exists(inbound),
        )
        .values_list("pk", "realised", "bought", "replied")
    )
    if not rows:
        return 0
    success = [
        (pk, max(realised, Decimal("0"))) for pk, realised, bought, replied in rows if bought or replied
    ]
    failed = [pk for pk, realised, bought, replied in rows if not (bought or replied)]
    with transaction.atomic():
        NbaDecision.objects.filter(pk__in=failed).update(
            outcome=Outcome.NO_RESPONSE, realised_effect=Decimal("0"), outcome_at=now
        )
        if success:
            NbaDecision.objects.filter(pk__in=[pk for pk, _r in success]).update(
                outcome=Outcome.SUCCESS,
                realised_effect=Case(
                    *[When(pk=pk, then=Value(r)) for pk, r in success],
                    output_field=DecimalField(max_digits=16, decimal_places=2),
                ),
                outcome_at=now,
            )
    return len(rows)


def calibration_refresh() -> int:
    """Recompute NbaCalibration from every closed taken decision (SQL aggregate, NumPy shrinkage)."""
    rows = list(
        NbaDecision.objects.filter(
            decision=Decision.TAKEN, outcome__in=[Outcome.SUCCESS, Outcome.NO_RESPONSE]
        )
        .order_by()
        .values("action_id", "segment")
        .annotate(
            taken=Count("id"),
            successes=Count("id", filter=Q(outcome=Outcome.SUCCESS)),
            expected=Sum("expected_effect"),
            realised=Sum("realised_effect"),
        )
    )
    actions = {a.pk: a for a in NbaAction.objects.all()}
    rows = [r for r in rows if r["action_id"] in actions]
    now = timezone.now()
    with transaction.atomic():
        NbaCalibration.objects.all().delete()
        if not rows:
            return 0
        prior = np.array([actions[r["action_id"]].prior_rate for r in rows], dtype=float)
        strength = np.array([actions[r["action_id"]].prior_strength for r in rows], dtype=float)
        taken = np.array([r["taken"] for r in rows], dtype=float)
        successes = np.array([r["successes"] for r in rows], dtype=float)
        expected = np.array([float(r["expected"] or 0) for r in rows])
        realised = np.array([float(r["realised"] or 0) for r in rows])
        rate = nba.shrink_rate(prior, strength, successes, taken)
        factor = nba.shrink_factor(strength, realised, expected, taken)
        NbaCalibration.objects.bulk_create(
            NbaCalibration(
                action_id=r["action_id"],
                segment=r["segment"] or "",
                taken=r["taken"],
                successes=r["successes"],
                expected_effect=r["expected"] or 0,
                realised_effect=r["realised"] or 0,
                rate=float(rate[i]),
                value_factor=float(factor[i]),
                updated_at=now,
            )
            for i, r in enumerate(rows)
        )
    return len(rows)


# ---------------------------------------------------------------------------------------------- ranking
def _load_actions(actions: list[NbaAction], product_cols: dict[int, int]) -> nba.Actions:
    from kehu.customers.models import Stage

    segments = list(rfm.Segment.values)
    stages = list(Stage.values)
    S = len(segments)
    m = len(actions)
    allowed_segments = np.ones((m, S + 1), dtype=bool)
    allowed_stages = np.ones((m, len(stages)), dtype=bool)
    rate = np.zeros((m, S + 1))
    factor = np.ones((m, S + 1))
    for j, a in enumerate(actions):  # over the catalogue (a handful of rows)
        if a.segments:
            allowed_segments[j] = [s in a.segments for s in segments] + [False]
        if a.stages:
            allowed_stages[j] = [s in a.stages for s in stages]
        rate[j] = a.prior_rate
    index = {a.pk: j for j, a in enumerate(actions)}
    seg_index = {s: i for i, s in enumerate(segments)}
    for cal in NbaCalibration.objects.filter(action_id__in=index):
        j = index[cal.action_id]
        s = seg_index.get(cal.segment, S)
        rate[j, s] = cal.rate
        factor[j, s] = cal.value_factor
    return nba.Actions(
        ids=np.array([a.pk for a in actions], dtype=np.int64),
        kind=[a.kind for a in actions],
        basis=np.array([nba.BASES[a.value_basis] for a in actions], dtype=np.int64),
        share=np.array([a.value_share for a in actions], dtype=float),
        default_value=np.array([float(a.default_value) for a in actions]),
        cost=np.array([float(a.cost) for a in actions]),
        max_p_alive=np.array([a.max_p_alive for a in actions], dtype=float),
        consent_channel=[a.consent_channel for a in actions],
        allowed_segments=allowed_segments,
        allowed_stages=allowed_stages,
        product_col=np.array([product_cols.get(a.product_id or 0, -1) for a in actions], dtype=np.int64),
        rate=rate,
        value_factor=factor,
    )


def _as_array(rows, dtype) -> np.ndarray:
    return np.array(rows, dtype=dtype) if rows else np.zeros(0, dtype=dtype)


def _load_customers(actions: list[NbaAction], *, as_of: dt.date) -> tuple[nba.Customers, list[int]]:
    """Every live customer that is not a contact person of an account, with score, consent and ownership —
    a few set-based queries, joined by id in NumPy."""
    from kehu.customers.models import Customer, Kind, Stage
    from kehu.products.models import InstalledProduct, Product, UnitStatus
    from kehu.sales.models import OrderLine
    from kehu.service.models import Ticket

    channels = sorted({a.consent_channel for a in actions if a.consent_channel})
    annotations = {
        f"c_{ch}": Case(When(**{f"consent__{ch}__status": "granted"}, then=Value(True)), default=Value(False))
        for ch in channels
    }
    qs = (
        Customer.objects.filter(merged_into__isnull=True)
        .exclude(kind=Kind.PERSON, account__isnull=False)
        .annotate(**annotations)
        .order_by("pk")
        .values_list("pk", "lifecycle_stage", "owner_id", *annotations.keys())
    )
    rows = list(qs)
    n = len(rows)
    ids = _as_array([r[0] for r in rows], np.int64)
    stage_index = {s: i for i, s in enumerate(Stage.values)}
    stage = _as_array([stage_index.get(r[1], -1) for r in rows], np.int64)
    # the owner (0: none) goes onto the recommendations for the per-rep worklist index (ADR 0011, an11)
    owner = _as_array([r[2] or 0 for r in rows], np.int64)
    consent = {ch: _as_array([bool(r[3 + k]) for r in rows], bool) for k, ch in enumerate(channels)}

    segments = {s: i for i, s in enumerate(rfm.Segment.values)}
    S = len(segments)
    score_rows = list(
        CustomerScore.objects.order_by().values_list(
            "customer_id", "segment", "p_alive", "expected_spend", "clv", "frequency", "first_purchase"
        )
    )
    segment = np.full(n, S, dtype=np.int64)
    scored = np.zeros(n, dtype=bool)
    p_alive = np.ones(n)
    spend = np.zeros(n)
    clv_v = np.zeros(n)
    yearly = np.zeros(n)
    if score_rows and n:
        sid = _as_array([r[0] for r in score_rows], np.int64)
        pos = np.searchsorted(ids, sid)
        ok = (pos < n) & (ids[np.clip(pos, 0, n - 1)] == sid)
        pos = pos[ok]
        segment[pos] = _as_array([segments.get(r[1], S) for r in score_rows], np.int64)[ok]
        scored[pos] = True
        p_alive[pos] = _as_array([r[2] for r in score_rows], float)[ok]
        spend[pos] = _as_array([float(r[3]) for r in score_rows], float)[ok]
        clv_v[pos] = _as_array([float(r[4]) for r in score_rows], float)[ok]
        freq = _as_array([r[5] for r in score_rows], float)[ok]
        first = np.array([r[6] for r in score_rows], dtype="datetime64[D]")[ok]
        tenure_years = np.maximum((np.datetime64(as_of, "D") - first).astype(float) / 365.25, 1.0)
        yearly[pos] = spend[pos] * freq / tenure_years

    # serviceable: an installed unit in use or a ticket in the last year
    since = timezone.now() - dt.timedelta(days=365)
    service_ids = set(
        InstalledProduct.objects.filter(status=UnitStatus.ACTIVE)
        .values_list("customer_id", flat=True)
        .distinct()
    ) | set(Ticket.objects.filter(created_at__gte=since).values_list("customer_id", flat=True).distinct())
    serviceable = np.isin(ids, _as_array(sorted(i for i in service_ids if i is not None), np.int64))

    # cross-sell candidates: the best-selling products (distinct buyers, two years) and each action's product
    cfg = config()
    two_years = as_of - dt.timedelta(days=730)
    popular = list(
        OrderLine.objects.filter(counted=True, amount__gt=0, product__isnull=False, order_date__gte=two_years)
        .order_by()
        .values("product_id")
        .annotate(buyers=Count("customer_id", distinct=True))
        .order_by("-buyers", "product_id")
        .values_list("product_id", flat=True)[: cfg["POPULAR_PRODUCTS"]]
    )
    fixed = [a.product_id for a in actions if a.product_id and a.value_basis == ValueBasis.PRODUCT]
    product_ids = list(dict.fromkeys([*popular, *fixed]))
    prices = dict(Product.objects.filter(pk__in=product_ids, active=True).values_list("pk", "list_price"))
    product_ids = [p for p in product_ids if p in prices]
    owned = np.zeros((n, len(product_ids)), dtype=bool)
    if product_ids and n:
        col = {p: j for j, p in enumerate(product_ids)}
        pairs = list(
            OrderLine.objects.filter(product_id__in=product_ids, counted=True, amount__gt=0)
            .order_by()
            .values_list("customer_id", "product_id")
            .distinct()
        ) + list(
            InstalledProduct.objects.filter(product_id__in=product_ids)
            .order_by()
            .values_list("customer_id", "product_id")
            .distinct()
        )
        if pairs:
            cid = _as_array([p[0] for p in pairs], np.int64)
            pcol = _as_array([col[p[1]] for p in pairs], np.int64)
            pos = np.searchsorted(ids, cid)
            ok = (pos < n) & (ids[np.clip(pos, 0, n - 1)] == cid)
            owned[pos[ok], pcol[ok]] = True
    customers = nba.Customers(
        ids=ids,
        segment=segment,
        stage=stage,
        scored=scored,
        p_alive=p_alive,
        spend=spend,
        clv=clv_v,
        yearly_value=yearly,
        consent=consent,
        serviceable=serviceable,
        owned=owned,
        product_price=_as_array([float(prices[p] or 0) for p in product_ids], float),
        owner=owner,
    )
    return customers, product_ids


REC_FIELDS = [
    "customer", "action", "product", "run", "rank", "state", "response_rate", "expected_effect", "expected_cost",
    "benefit_index", "computed_at", "customer_owner_id", "consent_ok",
]  # fmt: skip


def _owners_current() -> None:
    """Re-read the customers' owners and consent onto the recommendations just written (inside the run's write
    transaction): a change between the run's read and its write moved or cleared the previous rows only (the
    triggers of migration 0010). One set-based UPDATE writing only the rows that differ."""
    consent = (
        "COALESCE(a.consent_channel = '' OR (c.consent -> a.consent_channel ->> 'status') = 'granted', false)"
        if connection.vendor == "postgresql"
        # SQLite evaluates json_extract even when the channel is empty ('$..status' is an invalid path): CASE first
        else "CASE WHEN a.consent_channel = '' THEN 1 ELSE COALESCE(json_extract(c.consent, '$.' || "
        "a.consent_channel || '.status') = 'granted', 0) END"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""UPDATE analytics_nbarecommendation AS r SET customer_owner_id = c.owner_id, consent_ok = {consent}
                    FROM customers_customer AS c, analytics_nbaaction AS a
                    WHERE c.id = r.customer_id AND a.id = r.action_id
                      AND (r.customer_owner_id IS DISTINCT FROM c.owner_id OR r.consent_ok IS DISTINCT FROM {consent})"""  # noqa: S608 - no user input # nosec B608
            )
            return
        # SQLite (development and tests: small tables)
        cursor.execute(
            f"""UPDATE analytics_nbarecommendation SET
                    customer_owner_id = (SELECT c.owner_id FROM customers_customer AS c
                                         WHERE c.id = analytics_nbarecommendation.customer_id),
                    consent_ok = (SELECT {consent} FROM customers_customer AS c, analytics_nbaaction AS a
                                  WHERE c.id = analytics_nbarecommendation.customer_id
                                    AND a.id = analytics_nbarecommendation.action_id)"""  # noqa: S608 - no user input # nosec B608
        )


def nba_run(*, by=None, as_of: dt.date | None = None) -> NbaRun:
    """Close outcomes, refresh the calibration and rank every customer (see the module docstring)."""
    cfg = config()
    as_of = as_of or timezone.localdate()
    now = timezone.now()
    run = NbaRun.objects.create(started_by=by if getattr(by, "pk", None) else None, started_at=now)
    t0 = time.perf_counter()
    run.outcomes_closed = outcomes_close(now=now)
    calibration_refresh()
    run.timings["outcomes"] = round(time.perf_counter() - t0, 4)
    t0 = time.perf_counter()
    actions = list(NbaAction.objects.filter(active=True).order_by("pk"))
    if not actions:
        run.messages.append("The action catalogue is empty: nothing to recommend.")
    customers, product_ids = _load_customers(actions, as_of=as_of)
    product_cols = {p: j for j, p in enumerate(product_ids)}
    acts = _load_actions(actions, product_cols)
    if not customers.scored.any():
        run.messages.append(
            "No customer scores yet: every customer takes each action's value without a score "
            "(run the customer value scoring first)."
        )
    # pairs decided recently stay off (taken: tracked; ignored: not shown again within the window)
    suppressed_pairs = list(
        NbaDecision.objects.filter(window_ends__gt=now)
        .order_by()
        .values_list("customer_id", "action_id")
        .distinct()
    )
    suppressed = None
    if suppressed_pairs and len(customers.ids) and len(acts.ids):
        cid = _as_array([p[0] for p in suppressed_pairs], np.int64)
        aid = _as_array([p[1] for p in suppressed_pairs], np.int64)
        n = len(customers.ids)
        ci = np.searchsorted(customers.ids, cid)
        order = np.argsort(acts.ids)
        ai_sorted = np.searchsorted(acts.ids[order], aid)
        ok = (ci < n) & (customers.ids[np.clip(ci, 0, n - 1)] == cid)
        ok &= (ai_sorted < len(order)) & (acts.ids[order][np.clip(ai_sorted, 0, len(order) - 1)] == aid)
        suppressed = (ci[ok], order[np.clip(ai_sorted, 0, len(order) - 1)][ok])
    run.timings["load"] = round(time.perf_counter() - t0, 4)
    t0 = time.perf_counter()
    ranking = nba.rank(
        customers, acts, suppressed=suppressed, top_n=int(cfg["TOP_N"]), min_cost=cfg["MIN_COST"]
    )
    run.timings["rank"] = round(time.perf_counter() - t0, 4)
    t0 = time.perf_counter()
    product_arr = _as_array(product_ids, np.int64)
    cust_ids = customers.ids[ranking.customer].tolist()
    act_ids = acts.ids[ranking.action].tolist()
    prod_ids = [int(product_arr[p]) if p >= 0 else None for p in ranking.product_col.tolist()]
    owners = [o or None for o in customers.owner[ranking.customer].tolist()]
    effects = [Decimal(f"{e:.2f}") for e in ranking.effect.tolist()]
    costs = [Decimal(f"{c:.2f}") for c in ranking.cost.tolist()]
    rows = zip(
        cust_ids,
        act_ids,
        prod_ids,
        [run.pk] * len(cust_ids),
        ranking.rank.tolist(),
        [RecommendationState.OPEN] * len(cust_ids),
        ranking.rate.tolist(),
        effects,
        costs,
        ranking.index.tolist(),
        [now] * len(cust_ids),
        owners,
        [True] * len(cust_ids),  # the run ranks consented actions only
        strict=True,
    )
    with transaction.atomic():
        NbaRecommendation.objects.all().delete()
        written = bulk.insert_rows(NbaRecommendation, REC_FIELDS, rows)
        _owners_current()
        run.timings["write"] = round(time.perf_counter() - t0, 4)
        run.customers = len(np.unique(ranking.customer))
        run.recommendations = written
        run.finished_at = timezone.now()
        run.save()
        audit.log(
            actor=by,
            action=AuditAction.CREATE,
            model="analytics.nbarun",
            object_id=run.pk,
            object_repr=str(run),
            changes={"customers": run.customers, "recommendations": written, "outcomes": run.outcomes_closed},
            note="Next Best Activity recomputed",
        )
    return run
