"""Sales-management pages: plans (list, form, tree, allocation, roll-up, attainment with ECharts).
Thin: selectors read, services write; refusals become messages and 400 answers, nothing half-saved."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core.access import Access
from kehu.core.exceptions import StaleRecordError
from kehu.ui.generic import Column, RecordFormView, RecordListView

from . import selectors
from .forms import CompanyFigureForm, PlanForm
from .models import PlanLevel, PlanStatus, SalesPlan
from .services import actuals as actuals_service
from .services import plans


def _need(request, action: str, model=SalesPlan) -> None:
    if not Access.of(request.user).can(action, model):
        raise PermissionDenied(_("You do not have access to this page."))


def _error_text(exc) -> str:
    if isinstance(exc, StaleRecordError):
        return exc.message
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc) or _("Not allowed.")


def _version(request) -> int | None:
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return None


class PlanList(RecordListView):
    model = SalesPlan
    title = gettext_lazy("Sales plans")
    columns = [
        Column("name", gettext_lazy("Name"), "name", link=True),
        Column("period_kind", gettext_lazy("Period"), "period_kind"),
        Column("year", gettext_lazy("Year"), "year"),
        Column("period_number", gettext_lazy("Quarter or month"), "period_number"),
        Column("status", gettext_lazy("Status"), "status"),
        Column("actuals_source", gettext_lazy("Actuals from"), "actuals_source"),
    ]
    search_fields = ("name",)
    default_sort = "-year"
    create_url_name = "salesmgmt:plan_create"
    detail_url_name = "salesmgmt:plan"
    export_fields = ["name", "period_kind", "year", "period_number", "currency", "actuals_source", "status"]


class PlanEdit(RecordFormView):
    model = SalesPlan
    form_class = PlanForm

    def save(self, form, obj):
        data = self.form_data(form)
        if obj is None:
            return plans.plan_create(data=data, by=self.request.user)
        return plans.plan_update(
            plan=obj, data=data, by=self.request.user, expected_version=form.cleaned_data.get("version")
        )


def _tree(targets) -> list:
    """Targets in depth-first order with their depth, for an indented table."""
    kids: dict = {}
    for t in targets:
        kids.setdefault(t.parent_id, []).append(t)
    out: list = []

    def walk(parent_id, depth):
        for t in kids.get(parent_id, []):
            t.depth = depth
            t.child_sum = sum((k.amount for k in kids.get(t.pk, [])), start=t.amount * 0)
            t.has_children = t.pk in kids
            t.adds_up = not t.has_children or t.child_sum == t.amount
            out.append(t)
            walk(t.pk, depth + 1)

    walk(None, 0)
    return out


def plan_detail(request, pk):
    plan = selectors.plan_get(user=request.user, pk=pk)
    access = Access.of(request.user)
    can_change = access.can("change", SalesPlan) and not plan.is_closed
    targets = _tree(list(selectors.plan_targets(user=request.user, plan=plan).order_by("id")))
    form = CompanyFigureForm(initial={"version": plan.version})
    return render(
        request,
        "salesmgmt/plan_detail.html",
        {
            "title": str(plan),
            "plan": plan,
            "targets": targets,
            "can_change": can_change,
            "figure_form": form,
            "statuses": PlanStatus,
        },
    )


@require_POST
def plan_company_figure(request, pk):
    _need(request, "change")
    plan = selectors.plan_get(user=request.user, pk=pk)
    form = CompanyFigureForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect(plan.get_absolute_url())
    try:
        plans.plan_company_set(
            plan=plan,
            product_line=form.cleaned_data["product_line"],
            amount=form.cleaned_data["amount"],
            units=form.cleaned_data["units"],
            by=request.user,
            expected_version=form.cleaned_data["version"],
        )
        messages.success(request, _("Saved."))
    except (ValidationError, StaleRecordError) as exc:
        messages.error(request, _error_text(exc))
    return redirect(plan.get_absolute_url())


@require_POST
def plan_status(request, pk):
    _need(request, "change")
    plan = selectors.plan_get(user=request.user, pk=pk)
    try:
        plans.plan_set_status(
            plan=plan,
            status=request.POST.get("status", ""),
            by=request.user,
            expected_version=_version(request),
        )
        messages.success(request, _("Saved."))
    except (ValidationError, StaleRecordError) as exc:
        messages.error(request, _error_text(exc))
    return redirect(plan.get_absolute_url())


@require_POST
def plan_rollup(request, pk):
    _need(request, "change")
    plan = selectors.plan_get(user=request.user, pk=pk)
    try:
        n = plans.plan_rollup(plan=plan, by=request.user, expected_version=_version(request))
        messages.success(request, _("Rolled up: %(n)s figures changed.") % {"n": n})
    except (ValidationError, StaleRecordError) as exc:
        messages.error(request, _error_text(exc))
    return redirect(plan.get_absolute_url())


def _node_token(node) -> str:
    return f"{node.level}-{node.pk}"


def target_allocate(request, pk, target_pk):
    plan = selectors.plan_get(user=request.user, pk=pk)
    target = selectors.target_get(user=request.user, plan=plan, pk=target_pk)
    candidates = plans.child_candidates(target)
    existing = {t.key: t for t in target.children.all()}
    rows = []
    for node in candidates:
        current = existing.get(plans.node_key(node.level, node.pk, target.product_line_id))
        rows.append({"node": node, "token": _node_token(node), "current": current})
    status = 200
    if request.method == "POST":
        _need(request, "change")
        chosen = [r for r in rows if request.POST.get(f"use-{r['token']}")]
        method = request.POST.get("method", "")
        manual = {
            r["node"]: (
                request.POST.get(f"amount-{r['token']}", ""),
                request.POST.get(f"units-{r['token']}", ""),
            )
            for r in chosen
        }
        try:
            plans.allocate(
                parent=target,
                method=method,
                children=[r["node"] for r in chosen],
                manual=manual,
                by=request.user,
                expected_version=_version(request),
            )
            messages.success(request, _("Allocated."))
            return redirect(plan.get_absolute_url())
        except (ValidationError, StaleRecordError) as exc:
            messages.error(request, _error_text(exc))
            status = 400
            for r in rows:
                r["posted"] = {
                    "use": bool(request.POST.get(f"use-{r['token']}")),
                    "amount": request.POST.get(f"amount-{r['token']}", ""),
                    "units": request.POST.get(f"units-{r['token']}", ""),
                }
    return render(
        request,
        "salesmgmt/allocate.html",
        {
            "title": _("Allocate %(target)s") % {"target": target},
            "plan": plan,
            "target": target,
            "rows": rows,
            "methods": [
                (plans.AllocationMethod.MANUAL, _("By hand")),
                (plans.AllocationMethod.EVEN, _("Evenly")),
                (plans.AllocationMethod.PROPORTIONAL, _("In proportion to last period's actuals")),
            ],
            "method": request.POST.get("method", plans.AllocationMethod.MANUAL),
            "can_change": Access.of(request.user).can("change", SalesPlan) and not plan.is_closed,
        },
        status=status,
    )


def plan_attainment(request, pk):
    plan = selectors.plan_get(user=request.user, pk=pk)
    target_pk = request.GET.get("target")
    if target_pk:
        target = selectors.target_get(user=request.user, plan=plan, pk=target_pk)
    else:
        target = selectors.company_target(user=request.user, plan=plan)
        if target is None:
            target = (
                selectors.plan_targets(user=request.user, plan=plan).filter(level=PlanLevel.COMPANY).first()
            )
    data = actuals_service.attainment(plan=plan, target=target) if target else None
    chart = None
    if data:
        rows = data["rows"] or [data["target"]]
        chart = {
            "labels": [r["label"] for r in rows],
            "plan": [float(r["plan_amount"]) for r in rows],
            "actual": [float(r["actual_amount"]) for r in rows],
            "ids": [r["id"] if r["has_children"] else None for r in rows],
            "url": reverse("salesmgmt:plan_attainment", args=[plan.pk]) + "?target=",
            "names": {"plan": _("Plan"), "actual": _("Actual")},
        }
    return render(
        request,
        "salesmgmt/attainment.html",
        {"title": _("Attainment: %(plan)s") % {"plan": plan}, "plan": plan, "data": data, "chart": chart},
    )
