"""Interaction and task reads, scoped; the timeline pages with a keyset cursor (constant time per page)."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from kehu.core.selectors import mask_hidden, scoped

from .models import Interaction, Task, TaskStatus

PAGE = 20


def interaction_list(*, user) -> QuerySet:
    return scoped(Interaction, user=user).select_related("customer", "user")


def task_list(*, user) -> QuerySet:
    return scoped(Task, user=user).select_related("customer", "owner")


def encode_cursor(item: Interaction) -> str:
    raw = f"{item.occurred_at.isoformat()}|{item.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[dt.datetime, int] | None:
    try:
        when, pk = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return dt.datetime.fromisoformat(when), int(pk)
    except (ValueError, UnicodeDecodeError):
        return None


@dataclass
class TimelinePage:
    items: list[Interaction]
    next_cursor: str | None


def timeline(*, user, customer, cursor: str | None = None, size: int = PAGE) -> TimelinePage:
    """Newest first. For an organisation: its own entries and those of its contacts (account rollup)."""
    qs = interaction_list(user=user)
    qs = qs.filter(account=customer) if customer.is_organization else qs.filter(customer=customer)
    position = decode_cursor(cursor) if cursor else None
    if position is not None:
        when, pk = position
        qs = qs.filter(Q(occurred_at__lt=when) | Q(occurred_at=when, pk__lt=pk))
    items = list(qs.order_by("-occurred_at", "-id")[: size + 1])
    next_cursor = encode_cursor(items[size - 1]) if len(items) > size else None
    return TimelinePage(items=mask_hidden(items[:size], user=user), next_cursor=next_cursor)


def due_tasks(*, user, view: str = "open", owner=None) -> QuerySet:
    """Task lists: overdue / today / week / open (all open) / done."""
    qs = task_list(user=user)
    if owner is not None:
        qs = qs.filter(owner=owner)
    now = timezone.localtime()
    start_today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if view == "done":
        return qs.filter(status=TaskStatus.DONE).order_by("-completed_at")
    qs = qs.filter(status=TaskStatus.OPEN)
    if view == "overdue":
        return qs.filter(due_at__lt=now)
    if view == "today":
        return qs.filter(due_at__gte=start_today, due_at__lt=start_today + dt.timedelta(days=1))
    if view == "week":
        return qs.filter(due_at__lt=start_today + dt.timedelta(days=7))
    return qs


def calendar_items(*, user, first_day: dt.date, last_day: dt.date, owner=None) -> dict[dt.date, list]:
    """Tasks due and meetings/visits held from `first_day` to `last_day` (inclusive, the days a month's grid
    shows, including the neighbouring months' days), by the local date of the current time zone."""
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(first_day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    tasks = task_list(user=user).filter(due_at__gte=start, due_at__lt=end).exclude(status="cancelled")
    meetings = interaction_list(user=user).filter(
        occurred_at__gte=start, occurred_at__lt=end, channel__in=["meeting", "visit"]
    )
    if owner is not None:
        tasks = tasks.filter(owner=owner)
        meetings = meetings.filter(user=owner)
    days: dict[dt.date, list] = {}
    for t in tasks.order_by("due_at", "id")[:1000]:
        days.setdefault(timezone.localtime(t.due_at).date(), []).append(t)
    for m in meetings.order_by("occurred_at", "id")[:1000]:
        days.setdefault(timezone.localtime(m.occurred_at).date(), []).append(m)
    return days
