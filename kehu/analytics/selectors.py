"""Analytics reads, scoped to the customers the user may see (a score inherits its customer's read scope)."""

from __future__ import annotations

from django.db.models import Avg, Count, QuerySet, Sum

from kehu.core.access import Access
from kehu.core.selectors import scoped

from .models import CustomerScore, RunStatus, ScoringRun
from .rfm import ADVICE, Segment


def score_list(*, user) -> QuerySet[CustomerScore]:
    """Scores of the live customers the user may see."""
    return scoped(CustomerScore, user=user).filter(customer__merged_into__isnull=True)


def customers_in_segment(queryset: QuerySet, *, user, segment: str) -> QuerySet:
    """The customers of `queryset` in an RFM segment (the `?rfm_segment=` filter of customer lists and the API).
    Ignored for a reader who may not see the score's segment: a filter by a hidden field reveals it (ADR 0009)."""
    if user is None or "segment" in Access.of(user).hidden_fields(CustomerScore):
        return queryset
    return queryset.filter(analytics_score__segment=segment)


def score_for(*, user, customer) -> CustomerScore | None:
    """The score of one customer (None when not scored or not visible); memoised per request user object."""
    cache = getattr(user, "_kehu_scores", None)
    if cache is None:
        cache = {}
        try:
            user._kehu_scores = cache
        except AttributeError:
            pass
    if customer.pk not in cache:
        cache[customer.pk] = score_list(user=user).filter(customer_id=customer.pk).first()
    return cache[customer.pk]


def segment_summary(*, user) -> list[dict]:
    """Per segment (in the segment order): customers, net revenue, CLV, mean P(alive) — over visible customers."""
    rows = {
        r["segment"]: r
        for r in score_list(user=user)
        .order_by()
        .values("segment")
        .annotate(
            customers=Count("id"),
            revenue=Sum("monetary"),
            clv=Sum("clv"),
            p_alive=Avg("p_alive"),
            expected_purchases=Sum("expected_purchases"),
        )
    }
    total_revenue = sum((r["revenue"] or 0) for r in rows.values())
    total_customers = sum(r["customers"] for r in rows.values())
    result = []
    for segment in Segment:
        r = rows.get(segment.value)
        if r is None:
            continue
        result.append(
            {
                "segment": segment.value,
                "label": segment.label,
                "advice": ADVICE[segment],
                "customers": r["customers"],
                "customer_share": r["customers"] / total_customers if total_customers else 0.0,
                "revenue": r["revenue"] or 0,
                "revenue_share": float(r["revenue"] or 0) / float(total_revenue) if total_revenue else 0.0,
                "clv": r["clv"] or 0,
                "p_alive": float(r["p_alive"] or 0.0),
                "expected_purchases": float(r["expected_purchases"] or 0.0),
            }
        )
    return result


def latest_run(*, finished: bool = True) -> ScoringRun | None:
    qs = ScoringRun.objects.all()
    if finished:
        qs = qs.filter(status=RunStatus.DONE)
    return qs.order_by("-started_at", "-id").first()


def can_run_scoring(user) -> bool:
    """Administrators start scoring runs and read the model diagnostics (aggregates over every customer)."""
    access = Access.of(user)
    return access.is_superuser or access.can("change", "core.role")
