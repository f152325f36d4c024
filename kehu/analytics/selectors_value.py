"""Reads of value segments, strategies and churn risk — what the other apps call.

For other apps (system reads, no user scope: they act on a customer they already hold):
    strategy_for(customer)            → the RelationshipStrategy of the customer's value segment, or None
    sla_policy_for(customer)          → the SLA policy of that strategy (the service app's policy source)
    campaign_eligible(customer)       → may campaigns target the customer (marketing)
    campaign_eligible_filter(qs)      → the customers of a queryset that campaigns may target (marketing)
    coverage_for(customer)            → {"contact_every_days", "visit_every_days"} (sales, care)
For people (scoped like the customers they may see):
    value_list(user=…), value_for(user=…, customer=…), at_risk_customers(user) (the win-back list),
    value_segment_summary(user=…), pareto(user=…)
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Avg, Count, QuerySet, Subquery, Sum

from kehu.core.access import Access
from kehu.core.selectors import scoped

from . import value as value_mod
from .models import CustomerScore
from .models_value import (
    CustomerValue,
    RelationshipStrategy,
    ValueCycle,
    ValueSegment,
    ValueSettings,
    ValueSnapshot,
)

#: a segment without a saved strategy gets these (an administrator edits them on the strategies page)
DEFAULT_STRATEGIES = {
    ValueSegment.TOP: {"contact_every_days": 14, "visit_every_days": 30, "campaign_eligible": True},
    ValueSegment.CORE: {"contact_every_days": 30, "visit_every_days": 90, "campaign_eligible": True},
    ValueSegment.STANDARD: {"contact_every_days": 90, "visit_every_days": None, "campaign_eligible": True},
    ValueSegment.BELOW_ZERO: {
        "contact_every_days": None,
        "visit_every_days": None,
        "campaign_eligible": False,
    },
}


def strategies() -> dict[str, RelationshipStrategy]:
    """Every segment's strategy in segment order; unsaved defaults where none was saved yet."""
    saved = {s.segment: s for s in RelationshipStrategy.objects.select_related("sla_policy")}
    return {
        seg.value: saved.get(seg.value) or RelationshipStrategy(segment=seg.value, **DEFAULT_STRATEGIES[seg])
        for seg in value_mod.SEGMENT_ORDER
    }


def _segment_of(customer) -> str | None:
    cache = getattr(customer, "_kehu_value_segment", False)
    if cache is False:
        cache = (
            CustomerValue.objects.filter(customer_id=customer.pk).values_list("segment", flat=True).first()
        )
        try:
            customer._kehu_value_segment = cache
        except AttributeError:
            pass
    return cache


def strategy_for(customer) -> RelationshipStrategy | None:
    """The strategy of the customer's current value segment; None for a customer not scored yet."""
    segment = _segment_of(customer) if customer is not None and customer.pk else None
    if segment is None:
        return None
    saved = RelationshipStrategy.objects.select_related("sla_policy").filter(segment=segment).first()
    return saved or RelationshipStrategy(segment=segment, **DEFAULT_STRATEGIES[ValueSegment(segment)])


def sla_policy_for(customer):
    """The service level of the customer's value segment (an active SLA policy) or None."""
    strategy = strategy_for(customer)
    if strategy is None or not strategy.sla_policy_id or not strategy.sla_policy.active:
        return None
    return strategy.sla_policy


def campaign_eligible(customer) -> bool:
    """Whether campaigns may target the customer by value strategy (consent rules are checked separately, at
    send time). Customers not scored yet are eligible."""
    strategy = strategy_for(customer)
    return True if strategy is None else bool(strategy.campaign_eligible)


def _ineligible_segments() -> list[str]:
    return [s.segment for s in strategies().values() if not s.campaign_eligible]


def campaign_eligible_filter(queryset: QuerySet) -> QuerySet:
    """The customers of `queryset` that campaigns may target by value strategy (unscored ones included)."""
    excluded = _ineligible_segments()
    if not excluded:
        return queryset
    return queryset.exclude(analytics_value__segment__in=excluded)


def coverage_for(customer) -> dict:
    """Contact and visit rhythm of the customer's segment (None: no rhythm set or not scored)."""
    strategy = strategy_for(customer)
    if strategy is None:
        return {"contact_every_days": None, "visit_every_days": None}
    return {"contact_every_days": strategy.contact_every_days, "visit_every_days": strategy.visit_every_days}


# ---- reads for people -------------------------------------------------------------------------------------


def value_list(*, user) -> QuerySet[CustomerValue]:
    return scoped(CustomerValue, user=user).filter(customer__merged_into__isnull=True)


def hidden(user) -> set[str]:
    return Access.of(user).hidden_fields(CustomerValue)


def value_for(*, user, customer) -> CustomerValue | None:
    cache = getattr(user, "_kehu_values", None)
    if cache is None:
        cache = {}
        try:
            user._kehu_values = cache
        except AttributeError:
            pass
    if customer.pk not in cache:
        # the at-risk threshold comes along in the same query (the 360° panel costs one query more)
        cache[customer.pk] = (
            value_list(user=user)
            .filter(customer_id=customer.pk)
            .annotate(
                at_risk_threshold=Subquery(ValueSettings.objects.filter(pk=1).values("at_risk_threshold")[:1])
            )
            .first()
        )
    return cache[customer.pk]


def customers_in_value_segment(queryset: QuerySet, *, user, segment: str) -> QuerySet:
    """The customers of `queryset` in a value segment (`?value_segment=` of the customer list and the API).
    Ignored for a reader who may not see the value segment: a filter by a hidden field reveals it (ADR 0009)."""
    if user is None or "segment" in hidden(user):
        return queryset
    return queryset.filter(analytics_value__segment=segment)


def customers_by_risk(queryset: QuerySet, *, user, at_risk: bool) -> QuerySet:
    """`?at_risk=true`: the customers of `queryset` whose churn risk is at or above the settings' threshold;
    `false`: scored customers below it. Ignored for a reader who may not see churn risk (ADR 0009)."""
    if user is None or "churn_risk" in hidden(user):
        return queryset
    threshold = ValueSettings.current().at_risk_threshold
    if at_risk:
        return queryset.filter(analytics_value__churn_risk__gte=threshold)
    return queryset.filter(analytics_value__churn_risk__lt=threshold)


def hidden_customer_filters(user) -> set[str]:
    """The customer list's analytics filters that `user` may not use (not offered, ignored when sent)."""
    from .models import CustomerScore

    names = set()
    if user is None or "segment" in Access.of(user).hidden_fields(CustomerScore):
        names.add("rfm_segment")
    if user is None or "segment" in hidden(user):
        names.add("value_segment")
    if user is None or "churn_risk" in hidden(user):
        names.add("at_risk")
    return names


def at_risk_customers(user, *, threshold: float | None = None) -> QuerySet:
    """Customers the user may see whose churn risk is at or above the threshold (the settings' by default),
    riskiest first — the at-risk page, care plans and win-back campaigns start here. Empty for a role that may
    not see churn risk."""
    from kehu.customers.selectors import customer_list

    if "churn_risk" in hidden(user) or not Access.of(user).can("view", "analytics.customervalue"):
        return customer_list(user=user).none()
    if threshold is None:
        threshold = ValueSettings.current().at_risk_threshold
    return (
        customer_list(user=user)
        .filter(analytics_value__churn_risk__gte=threshold)
        .select_related("analytics_value", "analytics_score", "owner")
        .order_by("-analytics_value__churn_risk", "pk")
    )


def value_segment_summary(*, user) -> list[dict]:
    """Per value segment over the visible customers: customers, revenue, CLV, mean churn risk, the strategy."""
    rows = {
        r["segment"]: r
        for r in value_list(user=user)
        .order_by()
        .values("segment")
        .annotate(
            customers=Count("id"),
            revenue=Sum("customer__analytics_score__monetary"),
            clv=Sum("customer__analytics_score__clv"),
            churn_risk=Avg("churn_risk"),
        )
    }
    total_customers = sum(r["customers"] for r in rows.values())
    total_clv = sum(float(r["clv"] or 0) for r in rows.values())
    total_revenue = sum(float(r["revenue"] or 0) for r in rows.values())
    result = []
    for code, strategy in strategies().items():
        r = rows.get(code) or {"customers": 0, "revenue": 0, "clv": 0, "churn_risk": 0.0}
        result.append(
            {
                "segment": code,
                "label": ValueSegment(code).label,
                "customers": r["customers"],
                "customer_share": r["customers"] / total_customers if total_customers else 0.0,
                "revenue": r["revenue"] or 0,
                "revenue_share": float(r["revenue"] or 0) / total_revenue if total_revenue else 0.0,
                "clv": r["clv"] or 0,
                "clv_share": float(r["clv"] or 0) / total_clv if total_clv else 0.0,
                "churn_risk": float(r["churn_risk"] or 0.0),
                "strategy": strategy,
            }
        )
    return result


def pareto(*, user) -> dict:
    """80/20 curves of net revenue and CLV over the scored customers the user may see (one column read)."""
    access = Access.of(user).hidden_fields(CustomerScore)
    qs = scoped(CustomerScore, user=user).filter(customer__merged_into__isnull=True).order_by()
    result = {}
    if "monetary" not in access:
        result["revenue"] = value_mod.pareto_curve([float(v) for v in qs.values_list("monetary", flat=True)])
    if "clv" not in access:
        result["clv"] = value_mod.pareto_curve([float(v) for v in qs.values_list("clv", flat=True)])
    return result


# ---- the practice loop (administrators: aggregates over every customer) ------------------------------------


def cycles() -> QuerySet[ValueCycle]:
    return ValueCycle.objects.select_related("run").order_by("-as_of", "-run_id")


def loop_result(*, start: ValueCycle, end: ValueCycle | None, currency: str, until=None) -> dict:
    """What happened after `start`: per start segment the revenue in (start, end] (or until `until`), the share
    of its customers who bought again (retention), and the movements between segments start → end."""
    end_date = end.as_of if end is not None else until
    per_segment = {seg.value: {"revenue": 0.0, "buyers": 0} for seg in value_mod.SEGMENT_ORDER}
    snap = ValueSnapshot._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT s.segment, SUM(l.amount), COUNT(DISTINCT l.customer_id)
                FROM {snap} s JOIN sales_orderline l ON l.customer_id = s.customer_id
                WHERE s.cycle_id = %s AND l.counted AND l.currency = %s AND l.order_date > %s
                  AND l.order_date <= %s
                GROUP BY s.segment""",  # noqa: S608 - the table name comes from the model # nosec B608
            [start.pk, currency, start.as_of, end_date],
        )
        for segment, revenue, buyers in cursor.fetchall():
            if segment in per_segment:
                per_segment[segment] = {"revenue": float(revenue or 0), "buyers": int(buyers or 0)}
    moves: dict[str, dict[str, int]] = {}
    if end is not None and end.snapshot.exists():
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT a.segment, COALESCE(b.segment, 'gone'), COUNT(*)
                    FROM {snap} a LEFT JOIN {snap} b ON b.customer_id = a.customer_id AND b.cycle_id = %s
                    WHERE a.cycle_id = %s GROUP BY a.segment, COALESCE(b.segment, 'gone')""",  # noqa: S608 # nosec B608
                [end.pk, start.pk],
            )
            for a, b, n in cursor.fetchall():
                moves.setdefault(a, {})[b] = int(n)
            cursor.execute(
                f"""SELECT b.segment, COUNT(*) FROM {snap} b
                    WHERE b.cycle_id = %s AND NOT EXISTS (
                        SELECT 1 FROM {snap} a WHERE a.cycle_id = %s AND a.customer_id = b.customer_id)
                    GROUP BY b.segment""",  # noqa: S608 # nosec B608
                [end.pk, start.pk],
            )
            for b, n in cursor.fetchall():
                moves.setdefault("new", {})[b] = int(n)
    rows = []
    for seg in value_mod.SEGMENT_ORDER:
        count = int((start.segments.get(seg.value) or {}).get("customers", 0))
        got = per_segment[seg.value]
        rows.append(
            {
                "segment": seg.value,
                "label": seg.label,
                "customers": count,
                "revenue": round(got["revenue"], 2),
                "revenue_per_customer": round(got["revenue"] / count, 2) if count else 0.0,
                "retention": got["buyers"] / count if count else 0.0,
                "moves": moves.get(seg.value, {}),
            }
        )
    return {"end_date": end_date, "rows": rows, "new": moves.get("new", {}), "has_moves": bool(moves)}


def churn_reason_labels(reasons) -> list[dict]:
    from .churn import REASONS

    return [
        {"code": code, "label": REASONS.get(code, code), "weight": weight} for code, weight in reasons or []
    ]
