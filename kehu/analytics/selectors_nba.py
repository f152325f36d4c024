"""Next Best Activity reads. Every query starts from the platform's scope selector (`scoped`): a recommendation or
decision inherits its customer's scope (registered `via="customer"`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, DecimalField, Exists, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from kehu.core.access import Access
from kehu.core.selectors import mask_hidden, scoped

from . import nba
from .models_nba import (
    Decision,
    NbaAction,
    NbaDecision,
    NbaRecommendation,
    NbaRun,
    Outcome,
    RecommendationState,
)
from .models_scorecard import Initiative
from .services_nba import config


def effect_hidden(user, model=NbaRecommendation) -> bool:
    """Whether E and the benefit index are hidden from `user`: they are computed from the customer's CLV,
    expected spend, P(alive) and purchase history, and hidden wherever one of those is (the registry declares
    them derived, `registration_nba.DERIVED`; `Access.hidden_fields` applies it, so serializers, exports, the
    report builder, filters and sorts drop them too). Pages mask them through `mask_effects`."""
    return bool({"expected_effect", "benefit_index"} & Access.of(user).hidden_fields(model))


def mask_effects(rows: list, *, user) -> list:
    """Blank E and the benefit index (None) on recommendations loaded for display when they are hidden from
    `user` (the ranking itself, i.e. which action comes first, stays: it is the recommendation)."""
    return mask_hidden(rows, user=user)


def recommendations_for(*, user, customer) -> list[NbaRecommendation]:
    """The customer's ranked recommendations (open first), one query; empty when out of scope; E and the
    benefit index blanked when hidden from the user."""
    return mask_effects(
        list(
            scoped(NbaRecommendation, user=user)
            .filter(customer_id=customer.pk)
            .select_related("action", "product")
            .order_by("rank")
        ),
        user=user,
    )


def _consent_ok() -> Q:
    """The action needs no consent, or the customer's current consent on its channel is granted (read time:
    a withdrawal since the last run takes effect at once)."""
    from kehu.customers.models import Channel

    condition = Q(action__consent_channel="")
    for channel in Channel.values:
        condition |= Q(
            action__consent_channel=channel, **{f"customer__consent__{channel}__status": "granted"}
        )
    return condition


def contacted_too_often(*, now: dt.datetime | None = None) -> Exists:
    """True for a recommendation whose customer had CONTACT_MAX or more outbound interactions in the last
    CONTACT_DAYS days: EXISTS the CONTACT_MAX-th recent contact (OFFSET n − 1 LIMIT 1), correlated on the
    customer, so each candidate costs one short range scan of the (customer, occurred_at) index instead of an
    aggregate over every recent interaction."""
    from kehu.interactions.models import Interaction

    cfg = config()
    now = now or timezone.now()
    since = now - dt.timedelta(days=int(cfg["CONTACT_DAYS"]))
    n = max(int(cfg["CONTACT_MAX"]), 1)
    recent = Interaction.objects.filter(
        customer_id=OuterRef("customer_id"), occurred_at__gte=since, occurred_at__lte=now, direction="out"
    ).order_by("-occurred_at")[n - 1 : n]
    return Exists(recent)


def worklist(*, user, rep=None, limit: int | None = None) -> QuerySet[NbaRecommendation]:
    """The daily worklist: per customer the best open action with a positive benefit index, best first.

    `user`'s customers are those of their write scope (the customers they may act on); with `rep`, the
    customers `rep` may act on *and* `user` may read (a manager looking at a rep's list) — scope selectors both
    ways, never an owner filter. Consent and the contact rule are checked at read time.

    When the acting user's write scope is exactly an owner list (own, team, department; `Access.owner_reach`),
    the statement also names the owners on the recommendation's copy of the customer's owner, so PostgreSQL
    walks `ix_nba_owner_worklist` — only those owners' rows, in benefit order — instead of every customer's
    (ADR 0011, an11). The scope selector stays in the statement: the copy only narrows, it never grants. With
    records shared with the user, the owner part and the shared part are ranked apart (two short statements
    for the ids) and the top rows of both are read in one statement."""
    actor = rep or user
    qs = scoped(NbaRecommendation, user=actor, mode="write")
    if rep is not None and rep.pk != user.pk:
        qs = scoped(qs, user=user)
    qs = (
        qs.filter(
            rank=1, state=RecommendationState.OPEN, benefit_index__gt=0, customer__merged_into__isnull=True
        )
        .filter(_consent_ok())
        .exclude(contacted_too_often())
    )
    size = limit or int(config()["WORKLIST_SIZE"])
    order = ("-benefit_index", "customer_id")
    reach = Access.of(actor).owner_reach(NbaRecommendation, mode="write")
    if reach is not False and reach[0] is not None:
        owners, shared = reach
        mine = Q(customer_owner_id__in=owners, consent_ok=True)
        if shared is None:
            qs = qs.filter(mine)
        else:
            ids = [*qs.filter(mine).order_by(*order).values_list("pk", flat=True)[:size]]
            ids += qs.filter(shared).order_by(*order).values_list("pk", flat=True)[:size]
            qs = NbaRecommendation.objects.filter(pk__in=ids)
    qs = (
        qs.select_related("customer", "action", "product")
        # the list shows the customer's name: leave the wide search and note columns in the table
        .defer(
            *(f"customer__{f}" for f in ("search_text", "search_restricted", "notes", "custom", "consent"))
        )
        .order_by(*order)
    )
    return qs[:size]


def worklist_rows(*, user, rep=None, limit: int | None = None) -> list[NbaRecommendation]:
    """The worklist loaded for display: E and the benefit index blanked when hidden from the viewer."""
    return mask_effects(list(worklist(user=user, rep=rep, limit=limit)), user=user)


def latest_run() -> NbaRun | None:
    return NbaRun.objects.filter(finished_at__isnull=False).order_by("-started_at", "-id").first()


def action_catalogue() -> QuerySet[NbaAction]:
    """The catalogue is company configuration (no record scope): everyone who sees customers may read it."""
    return NbaAction.objects.select_related("product").order_by("kind", "code")


def can_manage(user) -> bool:
    """Administrators edit the catalogue, start runs and see the calibration over every customer."""
    access = Access.of(user)
    return access.is_superuser or access.can("change", "core.role")


def benefit_report(*, user) -> dict:
    """Realised vs expected benefit per action over the decisions the user may see, with the calibration.

    Per action: decisions taken / ignored, closed outcomes and successes, the prior, observed and calibrated
    response rates, Σ expected E and C of the closed decisions, Σ realised effect, and the expected and realised
    benefit index (Σ E − Σ C) / Σ C (same minimum-cost floor). Σ E and the expected index are None when E is
    hidden from the user (`effect_hidden`): a sum over one decision is that customer's E."""
    from .models_nba import NbaCalibration

    closed = Q(decision=Decision.TAKEN, outcome__in=[Outcome.SUCCESS, Outcome.NO_RESPONSE])
    money: DecimalField = DecimalField(max_digits=18, decimal_places=2)
    rows = (
        scoped(NbaDecision, user=user)
        .order_by()
        .values("action_id")
        .annotate(
            taken=Count("id", filter=Q(decision=Decision.TAKEN)),
            ignored=Count("id", filter=Q(decision=Decision.IGNORED)),
            pending=Count("id", filter=Q(decision=Decision.TAKEN, outcome=Outcome.PENDING)),
            closed=Count("id", filter=closed),
            successes=Count("id", filter=Q(outcome=Outcome.SUCCESS)),
            expected=Coalesce(Sum("expected_effect", filter=closed), Value(0), output_field=money),
            cost=Coalesce(Sum("expected_cost", filter=closed), Value(0), output_field=money),
            realised=Coalesce(Sum("realised_effect", filter=closed), Value(0), output_field=money),
        )
    )
    by_action = {r["action_id"]: r for r in rows}
    cal: dict[int, dict] = {}
    for calibration in NbaCalibration.objects.order_by():
        entry = cal.setdefault(calibration.action_id, {"taken": 0, "weighted": 0.0})
        entry["taken"] += calibration.taken
        entry["weighted"] += calibration.rate * calibration.taken
    min_cost = float(config()["MIN_COST"])
    result = []
    totals: dict[str, Any] = {
        "taken": 0,
        "ignored": 0,
        "closed": 0,
        "successes": 0,
        "expected": 0.0,
        "cost": 0.0,
        "realised": 0.0,
    }
    for action in action_catalogue():
        r = by_action.get(action.pk)
        if r is None:
            r = {"taken": 0, "ignored": 0, "pending": 0, "closed": 0, "successes": 0, "expected": 0, "cost": 0,
                 "realised": 0}  # fmt: skip
        c = cal.get(action.pk)
        calibrated = (c["weighted"] / c["taken"]) if c and c["taken"] else action.prior_rate
        expected, cost, realised = float(r["expected"]), float(r["cost"]), float(r["realised"])
        result.append(
            {
                "action": action,
                **{k: r[k] for k in ("taken", "ignored", "pending", "closed", "successes")},
                "prior_rate": action.prior_rate,
                "observed_rate": (r["successes"] / r["closed"]) if r["closed"] else None,
                "calibrated_rate": calibrated,
                "expected": expected,
                "cost": cost,
                "realised": realised,
                "expected_index": nba.benefit_index_scalar(expected, cost, min_cost) if r["closed"] else None,
                "realised_index": nba.benefit_index_scalar(realised, cost, min_cost) if r["closed"] else None,
            }
        )
        for k in ("taken", "ignored", "closed", "successes"):
            totals[k] += r[k]
        for k, v in (("expected", expected), ("cost", cost), ("realised", realised)):
            totals[k] += v
    totals["expected_index"] = (
        nba.benefit_index_scalar(totals["expected"], totals["cost"], min_cost) if totals["closed"] else None
    )
    totals["realised_index"] = (
        nba.benefit_index_scalar(totals["realised"], totals["cost"], min_cost) if totals["closed"] else None
    )
    hide = effect_hidden(user, NbaDecision)
    if hide:
        for entry in (*result, totals):
            entry["expected"] = entry["expected_index"] = None
    return {"rows": result, "totals": totals, "effect_hidden": hide}


def initiative_ranking(*, user, stage: str | None = None, status: str | None = None) -> list[dict]:
    """The company's CRM initiatives the user may see, ranked like customer actions by the benefit index
    (E − C) / max(C, minimum cost), where E and C are the initiative's discounted benefits and costs (its cash
    flows, entered or derived from a KPI, at its discount rate: `scorecard.evaluate_initiative`). Initiatives
    without cash flows come last. Evaluated in Python: a company runs tens of initiatives, not thousands; a
    derived one costs its KPI's queries per begun period."""
    from .scorecard import evaluate_initiative

    qs = scoped(Initiative, user=user).select_related("responsible", "kpi").prefetch_related("cash_flows")
    if stage:
        qs = qs.filter(stage=stage)
    if status:
        qs = qs.filter(status=status)
    min_cost = float(config()["MIN_COST"])
    rows = []
    for initiative in qs.order_by("name", "pk"):
        result = evaluate_initiative(initiative, user=user)
        rows.append(
            {
                "initiative": initiative,
                "pv_benefit": result.pv_benefit,
                "pv_cost": result.pv_cost,
                "benefit_index": result.benefit_index(min_cost),
                "npv": result.evaluation.npv if result.evaluation else None,
            }
        )
    rows.sort(key=lambda r: (r["benefit_index"] is None, -(r["benefit_index"] or 0.0)))
    return rows
