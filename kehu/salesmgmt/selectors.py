"""Scoped reads of the sales-management app: every page and API starts here."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from kehu.core.selectors import get_visible, scoped

from .models import CustomerLocation, PlanTarget, SalesPlan, Visit, VisitNote


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


def visit_get(*, user, pk) -> Visit:
    return get_visible(Visit.objects.select_related("customer", "owner", "opportunity"), user=user, pk=pk)


def visit_photo_get(*, user, pk):
    from .models import VisitPhoto

    return get_visible(VisitPhoto.objects.select_related("visit"), user=user, pk=pk)


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, start + dt.timedelta(days=1)


def visits_of_day(*, user, day: dt.date, owner=None) -> QuerySet[Visit]:
    """The visits planned on a local day that `user` may see (a manager: the team's), optionally one rep's."""
    start, end = _day_bounds(day)
    qs = scoped(Visit, user=user).filter(planned_start__gte=start, planned_start__lt=end)
    if owner is not None:
        qs = qs.filter(owner=owner)
    return qs.select_related("customer", "owner").order_by("planned_start", "id")


def visit_notes(*, user, visit: Visit) -> QuerySet[VisitNote]:
    return (
        scoped(VisitNote, user=user).filter(visit=visit).select_related("author").order_by("written_at", "id")
    )


def customer_locations(customer_ids) -> dict[int, CustomerLocation]:
    return {
        loc.customer_id: loc for loc in CustomerLocation.objects.filter(customer_id__in=list(customer_ids))
    }
