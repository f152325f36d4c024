"""Scoped reads of the sales-management app: every page and API starts here."""

from __future__ import annotations

from django.db.models import QuerySet

from kehu.core.selectors import get_visible, scoped

from .models import PlanTarget, SalesPlan


def plan_list(*, user) -> QuerySet[SalesPlan]:
    return scoped(SalesPlan, user=user)


def plan_get(*, user, pk) -> SalesPlan:
    return get_visible(SalesPlan, user=user, pk=pk)


def plan_targets(*, user, plan: SalesPlan) -> QuerySet[PlanTarget]:
    return (
        scoped(PlanTarget, user=user)
        .filter(plan=plan)
        .select_related("department", "team", "rep", "product_line")
    )


def target_get(*, user, plan: SalesPlan, pk) -> PlanTarget:
    return get_visible(
        PlanTarget.objects.select_related("plan", "parent", "department", "team", "rep", "product_line"),
        user=user,
        plan=plan,
        pk=pk,
    )


def company_target(*, user, plan: SalesPlan, product_line_id: int | None = None) -> PlanTarget | None:
    key = f"company|{product_line_id or '*'}"
    return plan_targets(user=user, plan=plan).filter(key=key).first()
