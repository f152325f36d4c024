"""Contributions of interactions to the home page and the customer 360° page."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.access import Access

from . import selectors
from .forms import QuickLogForm, QuickTaskForm
from .models import InteractionChannel, TaskStatus

QUICK_CHANNELS = ["call", "visit", "email", "wechat", "meeting", "sms", "note"]


def home(request) -> dict:
    access = Access.of(request.user)
    result: dict = {}
    if access.can("view", "interactions.task"):
        mine = selectors.due_tasks(user=request.user, owner=request.user)
        result["tasks"] = list(mine.order_by("due_at")[:8])
        overdue = mine.filter(due_at__lt=timezone.now()).count()
        result["kpis"] = [
            {"label": _("My open tasks"), "value": mine.count(), "url": reverse("interactions:tasks")},
            {
                "label": _("Overdue tasks"),
                "value": overdue,
                "url": reverse("interactions:tasks") + "?view=overdue",
            },
        ]
    if access.can("view", "interactions.interaction"):
        week = timezone.now() - dt.timedelta(days=7)
        count = (
            selectors.interaction_list(user=request.user)
            .filter(user=request.user, occurred_at__gte=week)
            .count()
        )
        result.setdefault("kpis", []).append(
            {"label": _("My interactions this week"), "value": count, "url": reverse("interactions:list")}
        )
    return result


def timeline_panel(request, customer) -> dict | None:
    access = Access.of(request.user)
    if not access.can("view", "interactions.interaction"):
        return None
    page = selectors.timeline(user=request.user, customer=customer)
    return {
        "customer": customer,
        "page": page,
        "can_log": access.can("add", "interactions.interaction"),
        "form": QuickLogForm(),
        "channels": [(c, InteractionChannel(c).label) for c in QUICK_CHANNELS],
    }


def tasks_panel(request, customer) -> dict | None:
    access = Access.of(request.user)
    if not access.can("view", "interactions.task"):
        return None
    tasks = list(
        selectors.task_list(user=request.user)
        .filter(customer=customer, status=TaskStatus.OPEN)
        .order_by("due_at")[:10]
    )
    return {
        "customer": customer,
        "tasks": tasks,
        "can_add": access.can("add", "interactions.task"),
        "form": QuickTaskForm(),
    }


def figures(request, customer) -> list[tuple]:
    if not Access.of(request.user).can("view", "interactions.interaction"):
        return []
    qs = selectors.interaction_list(user=request.user)
    qs = qs.filter(account=customer) if customer.is_organization else qs.filter(customer=customer)
    last = qs.exclude(channel="event").order_by("-occurred_at").values_list("occurred_at", flat=True).first()
    return [(_("Last contact"), timezone.localtime(last).date() if last else None)]
