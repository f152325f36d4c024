"""Interaction pages: list, detail, quick log (htmx) and timeline pages on the 360° view; tasks (due lists,
quick add, complete, edit) and the calendar. Thin: selectors read, services write."""

from __future__ import annotations

import calendar as calmod
import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core.access import Access
from kehu.core.exceptions import StaleRecordError
from kehu.core.inputs import safe_next
from kehu.core.selectors import get_visible
from kehu.customers.selectors import customer_list
from kehu.ui.generic import Column, RecordDetailView, RecordFormView, RecordListView

from . import selectors, services
from .filters import InteractionFilter, TaskFilter
from .forms import InteractionForm, QuickLogForm, QuickTaskForm, TaskForm
from .models import Interaction, Task


class InteractionList(RecordListView):
    model = Interaction
    title = gettext_lazy("Interactions")
    columns = [
        Column("occurred_at", gettext_lazy("When"), "occurred_at"),
        Column("channel", gettext_lazy("Channel"), "channel"),
        Column("subject", gettext_lazy("Subject"), "subject", link=True),
        Column("customer", gettext_lazy("Customer"), "customer__name"),
        Column("user", gettext_lazy("Handled by"), "user__username"),
    ]
    filterset_class = InteractionFilter
    search_fields = ("subject",)
    default_sort = "-occurred_at"
    select_related = ("customer", "user")
    detail_url_name = "interactions:detail"
    export_fields = ["occurred_at", "channel", "direction", "subject", "body", "duration_minutes"]


class InteractionDetail(RecordDetailView):
    model = Interaction
    fields = [
        "customer",
        "channel",
        "direction",
        "subject",
        "body",
        "occurred_at",
        "duration_minutes",
        "user",
        "latitude",
        "longitude",
    ]
    select_related = ("customer", "user")
    edit_url_name = "interactions:edit"


class InteractionEdit(RecordFormView):
    model = Interaction
    form_class = InteractionForm

    def get_form_kwargs(self):
        return {"user": self.request.user}

    def dispatch(self, request, *args, **kwargs):
        if "pk" not in kwargs:
            raise PermissionDenied(_("Log interactions from the customer's page."))
        return super().dispatch(request, *args, **kwargs)


def _customer(request, pk):
    return get_visible(customer_list(user=request.user), user=request.user, pk=pk)


def timeline_page(request, pk):
    """The next page of a customer's timeline (htmx 'load more')."""
    customer = _customer(request, pk)
    if not Access.of(request.user).can("view", Interaction):
        raise PermissionDenied
    page = selectors.timeline(user=request.user, customer=customer, cursor=request.GET.get("cursor"))
    return render(request, "interactions/timeline_items.html", {"page": page, "customer": customer})


@require_POST
def quick_log(request, pk):
    """Log an interaction from the 360° page: pick a channel, type a subject, save (two clicks)."""
    customer = _customer(request, pk)
    form = QuickLogForm(request.POST)
    status = 200
    if form.is_valid():
        try:
            item = services.interaction_log(customer=customer, data=form.cleaned_data, by=request.user)
            if request.headers.get("HX-Request"):
                return render(
                    request,
                    "interactions/timeline_items.html",
                    {"page": selectors.TimelinePage([item], None), "customer": customer, "fresh": True},
                )
            messages.success(request, _("Logged."))
            return redirect(customer)
        except ValidationError as exc:
            form.add_error(None, exc)
            status = 400
        except PermissionDenied as exc:
            form.add_error(None, str(exc) or _("Not allowed."))
            status = 403
    else:
        status = 400
    if request.headers.get("HX-Request"):
        # shown above the list, the typed text stays in the form (the panel swaps 400 answers in)
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        response = HttpResponse(f'<p class="msg msg-error" role="alert">{_escape(errors)}</p>', status=status)
        response["HX-Retarget"], response["HX-Reswap"] = "#quick-log-errors", "innerHTML"
        return response
    messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
    return redirect(customer)


def _escape(text: str) -> str:
    from django.utils.html import escape

    return escape(text)


class TaskList(RecordListView):
    model = Task
    title = gettext_lazy("Tasks")
    template_name = "interactions/task_list.html"
    columns = [
        Column("due_at", gettext_lazy("Due"), "due_at"),
        Column("title", gettext_lazy("Title"), "title", link=True),
        Column("customer", gettext_lazy("Customer"), "customer__name"),
        Column("priority", gettext_lazy("Priority"), "priority"),
        Column("status", gettext_lazy("Status"), "status"),
        Column("owner", gettext_lazy("Assigned to"), "owner__username"),
        Column("actions", "", template="interactions/task_actions.html"),
    ]
    filterset_class = TaskFilter
    search_fields = ("title",)
    default_sort = "due_at"
    select_related = ("customer", "owner")
    create_url_name = "interactions:task_create"
    detail_url_name = "interactions:task"
    export_fields = ["title", "due_at", "priority", "status", "notes"]
    VIEWS = {
        "open": gettext_lazy("All open"),
        "overdue": gettext_lazy("Overdue"),
        "today": gettext_lazy("Today"),
        "week": gettext_lazy("Next 7 days"),
        "done": gettext_lazy("Done"),
    }

    def base_queryset(self):
        view = self.request.GET.get("view", "open")
        mine = self.request.GET.get("mine", "1") == "1"
        return selectors.due_tasks(
            user=self.request.user,
            view=view if view in self.VIEWS else "open",
            owner=self.request.user if mine else None,
        )

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["views"] = self.VIEWS.items()
        ctx["current_view"] = self.request.GET.get("view", "open")
        ctx["mine"] = self.request.GET.get("mine", "1")
        return ctx


class TaskDetail(RecordDetailView):
    model = Task
    template_name = "interactions/task_detail.html"
    fields = [
        "title",
        "customer",
        "due_at",
        "remind_at",
        "priority",
        "status",
        "owner",
        "notes",
        "completed_at",
    ]
    select_related = ("customer", "owner")
    edit_url_name = "interactions:task_edit"
    delete_url_name = "interactions:task_delete"


class TaskEdit(RecordFormView):
    model = Task
    form_class = TaskForm

    def get_form_kwargs(self):
        return {"user": self.request.user}

    def build_form(self, obj, data=None):
        form = super().build_form(obj, data)
        if obj is None and data is None and self.request.GET.get("customer", "").isdigit():
            form.initial["customer"] = self.request.GET["customer"]
        return form

    def save(self, form, obj):
        data = self.form_data(form)
        if obj is None:
            return services.task_create(data=data, by=self.request.user)
        return services.task_update(
            task=obj, data=data, by=self.request.user, expected_version=form.cleaned_data.get("version")
        )


@require_POST
def quick_task(request, pk):
    customer = _customer(request, pk)
    form = QuickTaskForm(request.POST)
    if form.is_valid():
        try:
            services.task_create(data={**form.cleaned_data, "customer": customer}, by=request.user)
            messages.success(request, _("Task added."))
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
    return redirect(customer)


@require_POST
def task_complete(request, pk):
    task = get_visible(selectors.task_list(user=request.user), user=request.user, pk=pk)
    try:
        services.task_complete(task=task, by=request.user)
        messages.success(request, _("Task completed."))
    except (StaleRecordError, PermissionDenied) as exc:
        messages.error(request, getattr(exc, "message", str(exc)))
    return redirect(safe_next(request, task.get_absolute_url()))


def calendar_view(request):
    today = timezone.localdate()
    try:
        year = int(request.GET.get("year", today.year))
        month = int(request.GET.get("month", today.month))
        dt.date(year, month, 1)
        if not 1900 <= year <= 2999:
            raise ValueError(year)
    except ValueError:
        year, month = today.year, today.month
    mine = request.GET.get("mine", "1") == "1"
    weeks = calmod.Calendar(firstweekday=0).monthdatescalendar(year, month)
    items = selectors.calendar_items(
        user=request.user, first_day=weeks[0][0], last_day=weeks[-1][-1], owner=request.user if mine else None
    )
    prev_month = (dt.date(year, month, 1) - dt.timedelta(days=1)).replace(day=1)
    next_month = (dt.date(year, month, 28) + dt.timedelta(days=7)).replace(day=1)
    return render(
        request,
        "interactions/calendar.html",
        {
            "title": _("Calendar"),
            "weeks": [[(d, items.get(d, [])) for d in w] for w in weeks],
            "month": dt.date(year, month, 1),
            "prev": prev_month,
            "next": next_month,
            "today": today,
            "mine": mine,
        },
    )
