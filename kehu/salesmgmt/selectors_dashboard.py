"""Scoped reads of the sales dashboards (ADR 0014, "Forecast and dashboards"): a rep's day (tasks, today's
visits, stalled deals, deals closing this month, forecast against target) and a manager's (team attainment and
forecast, the team's visits today, stalled deals). Every list goes through the apps' scope selectors, is short
(LIMIT) and reads the owner indexes, so the rep's page stays fast with millions of customers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from kehu.core.access import Access
from kehu.core.models import User
from kehu.interactions import selectors as interaction_selectors
from kehu.interactions.models import TaskStatus
from kehu.sales import selectors as sales_selectors

from . import selectors
from .models import PeriodKind
from .services import forecast as fc

LIMIT = 10
# what the rep's lists show (salesmgmt/dashboard/my_day.html, _deals.html): not the customers' whole rows
TASK_FIELDS = ("id", "title", "due_at", "customer", "customer__id", "customer__name")
DEAL_FIELDS = (
    "id", "name", "expected_close_date", "amount", "currency", "customer", "customer__id", "customer__name",
    "owner", "owner__id", *(f"owner__{f}" for f in User.choice_label_fields),
)  # fmt: skip


def _month(today: dt.date) -> tuple[dt.date, dt.date]:
    start = today.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


@dataclass
class Listing:
    items: list
    total: int


def _listing(qs, limit: int = LIMIT) -> Listing:
    items = list(qs[: limit + 1])
    total = len(items) if len(items) <= limit else qs.count()
    return Listing(items[:limit], total)


@dataclass
class Day:
    today: dt.date
    tasks: Listing | None = None
    visits: list = field(default_factory=list)
    stalled: Listing | None = None
    closing: Listing | None = None
    forecast: fc.Forecast | None = None
    month_forecast: fc.Forecast | None = None
    amount_hidden: bool = False


def my_day(*, user, owner_ids: set[int] | None = None) -> Day:
    """A rep's day (`owner_ids` None = the user's own). Sections the user has no right to are left empty."""
    access = Access.of(user)
    today = timezone.localdate()
    owners = sorted(owner_ids) if owner_ids is not None else [user.pk]
    day = Day(today=today, amount_hidden=fc.amount_hidden(user))
    tz = timezone.get_current_timezone()
    end_of_day = dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    if access.can("view", "interactions.task"):
        tasks = (
            interaction_selectors.task_list(user=user)
            .filter(owner_id__in=owners, status=TaskStatus.OPEN, due_at__lt=end_of_day)
            .select_related(None)
            .select_related("customer")
            .only(*TASK_FIELDS)
            .order_by("due_at", "id")
        )
        day.tasks = _listing(tasks)
    if access.can("view", "salesmgmt.visit"):
        visits = selectors.visits_of_day(user=user, day=today)
        day.visits = list(visits.filter(owner_id__in=owners)[:50])
    if access.can("view", "sales.opportunity"):
        stalled = (
            sales_selectors.stalled_opportunities(user=user)
            .filter(owner_id__in=owners)
            .select_related(None)
            .select_related("customer", "owner")
            .only(*DEAL_FIELDS)
            .order_by("last_activity_at", "id")
        )
        day.stalled = _listing(stalled)
        start, end = _month(today)
        closing = (
            sales_selectors.opportunity_list(user=user)
            .filter(
                owner_id__in=owners,
                status="open",
                expected_close_date__gte=start,
                expected_close_date__lt=end,
            )
            .select_related(None)
            .select_related("customer", "owner")
            .only(*DEAL_FIELDS)
            .order_by("expected_close_date", "id")
        )
        day.closing = _listing(closing)
        day.forecast, day.month_forecast = fc.forecasts_for(
            user=user,
            periods=[
                fc.Period.current(PeriodKind.QUARTER, today),
                fc.Period.current(PeriodKind.MONTH, today),
            ],
            rep_ids=set(owners),
        )
    return day


def team_day(*, user) -> Day:
    """A manager's view over everyone they may see (their read scope on deals): the same sections summed over
    the team, the forecast per rep (attainment), the team's visits today."""
    access = Access.of(user)
    scope = access.owner_ids(access.grant("sales.opportunity").read_scope)
    today = timezone.localdate()
    day = Day(today=today, amount_hidden=fc.amount_hidden(user))
    if access.can("view", "salesmgmt.visit"):
        day.visits = list(selectors.visits_of_day(user=user, day=today)[:100])
    if access.can("view", "sales.opportunity"):
        stalled = sales_selectors.stalled_opportunities(user=user)
        if scope is not None:
            stalled = stalled.filter(owner_id__in=sorted(scope))
        day.stalled = _listing(stalled.order_by("last_activity_at", "id"))
        day.forecast, day.month_forecast = fc.forecasts_for(
            user=user,
            periods=[
                fc.Period.current(PeriodKind.QUARTER, today),
                fc.Period.current(PeriodKind.MONTH, today),
            ],
        )
    return day
