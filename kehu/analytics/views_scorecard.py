"""Balanced scorecard pages: the scorecard (four perspectives, status, sparklines, cause → effect graph), the
relationship economics, CRM initiatives (ROI, NPV, IRR) and the pages that define KPIs, targets, entered values,
links, costs and cash flows (generic record pages: rights, audit and locking from the record service)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core import records
from kehu.core.access import Access
from kehu.core.models import Action, Department, User
from kehu.ui.generic import Column, RecordFormView, RecordListView

from . import kpis, scorecard
from .models_scorecard import (
    CostEntry,
    Initiative,
    InitiativeCashFlow,
    Kpi,
    KpiLink,
    KpiSource,
    KpiTarget,
    KpiValue,
)
from .periods import PeriodType, parse
from .services_nba import config as nba_config


def _require_analytics(request) -> None:
    """Who may see analytics (customer value) may see the scorecard; the values follow their record scope."""
    if not Access.of(request.user).can("view", "customers.customer"):
        raise PermissionDenied


def _period_context(request):
    period = parse(request.GET.get("period"), request.GET.get("at"), today=timezone.localdate())
    return period, {
        "period": period,
        "period_types": PeriodType.choices,
        "previous": period.previous(),
        "next": period.shift(1),
    }


def _departments(unit) -> list:
    return list(Department.objects.order_by("name")) if unit.company_scope else []


def scorecard_page(request):
    _require_analytics(request)
    period, ctx = _period_context(request)
    card = scorecard.build(user=request.user, period=period, department_id=request.GET.get("department"))
    access = Access.of(request.user)
    ctx.update(
        {
            "title": _("Balanced scorecard"),
            "card": card,
            "unit": card["unit"],
            "departments": _departments(card["unit"]),
            "graph": scorecard.graph(card),
            "trend_labels": [p.label for p in card["periods"]],
            "sparks": {str(r.kpi.pk): r.trend for r in card["rows"]},
            "status_labels": {k: str(v) for k, v in scorecard.STATUS_LABELS.items()},
            "can_define": access.can(Action.ADD, Kpi) or access.can(Action.CHANGE, Kpi),
        }
    )
    return render(request, "analytics/scorecard/scorecard.html", ctx)


def economics_page(request):
    _require_analytics(request)
    period, ctx = _period_context(request)
    data = scorecard.economics(user=request.user, period=period, department_id=request.GET.get("department"))
    ctx.update(
        {
            "title": _("Relationship costs and revenue"),
            "data": data,
            "unit": data["unit"],
            "departments": _departments(data["unit"]),
            "chart": {
                "costs": [{"name": str(r["label"]), "value": round(r["total"], 2)} for r in data["costs"]],
                "revenue": [
                    {"name": str(label), "value": round(v, 2)} for label, v, _n in data["revenue_split"]
                ],
                "costsName": _("Relationship costs"),
                "revenueName": _("Revenue"),
            },
            "can_enter": Access.of(request.user).can(Action.ADD, CostEntry),
            "currency": kpis.currency(),
        }
    )
    return render(request, "analytics/scorecard/economics.html", ctx)


def kpi_detail(request, pk):
    _require_analytics(request)
    kpi = get_object_or_404(Kpi.objects.select_related("responsible"), pk=pk)
    access = Access.of(request.user)
    return render(
        request,
        "analytics/scorecard/kpi_detail.html",
        {
            "title": kpi.name,
            "kpi": kpi,
            "metric": kpis.METRICS.get(kpi.metric),
            "targets": KpiTarget.objects.filter(kpi=kpi).select_related("department")[:100],
            "values": KpiValue.objects.filter(kpi=kpi).select_related("department")[:100]
            if kpi.source == KpiSource.MANUAL
            else None,
            "causes": KpiLink.objects.filter(effect=kpi).select_related("cause"),
            "effects": KpiLink.objects.filter(cause=kpi).select_related("effect"),
            "can_change": access.can(Action.CHANGE, Kpi),
            "can_target": access.can(Action.ADD, KpiTarget),
            "can_value": access.can(Action.ADD, KpiValue),
        },
    )


# ------------------------------------------------------------------------------------------------ KPI pages
class KpiForm(forms.ModelForm):
    class Meta:
        model = Kpi
        fields = [
            "code", "name", "perspective", "source", "metric", "unit", "higher_is_better", "rollup", "tolerance",
            "responsible", "position", "active", "description",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["metric"] = forms.ChoiceField(
            label=_("Metric"), required=False, choices=[("", "—"), *kpis.metric_choices()]
        )
        self.fields["responsible"].queryset = User.objects.filter(is_active=True).order_by("username")


class KpiList(RecordListView):
    model = Kpi
    title = gettext_lazy("KPIs")
    columns = [
        Column("name", gettext_lazy("Name"), "name", link=True),
        Column("code", gettext_lazy("Code"), "code"),
        Column("perspective", gettext_lazy("Perspective"), "perspective"),
        Column("source", gettext_lazy("Source"), "source"),
        Column("responsible", gettext_lazy("Owner"), "responsible__username"),
        Column("active", gettext_lazy("Active"), "active"),
    ]
    search_fields = ("name", "code")
    select_related = ("responsible",)
    default_sort = "perspective"
    create_url_name = "analytics:scorecard_kpi_create"
    detail_url_name = "analytics:scorecard_kpi_detail"
    export_fields = [
        "code",
        "name",
        "perspective",
        "source",
        "metric",
        "unit",
        "higher_is_better",
        "tolerance",
    ]


class KpiEdit(RecordFormView):
    model = Kpi
    form_class = KpiForm


class _ForKpi(RecordFormView):
    """Targets and entered values: created from a KPI's page (`?kpi=`), back to that page after saving."""

    def build_form(self, obj, data=None):
        form = super().build_form(obj, data)
        kpi = self.request.GET.get("kpi")
        if obj is None and kpi and "kpi" in form.fields and data is None:
            form.fields["kpi"].initial = kpi
        return form


class TargetForm(forms.ModelForm):
    class Meta:
        model = KpiTarget
        fields = ["kpi", "period_type", "period_start", "department", "target"]
        widgets = {"period_start": forms.DateInput(attrs={"type": "date"})}


class ValueForm(forms.ModelForm):
    class Meta:
        model = KpiValue
        fields = ["kpi", "period_type", "period_start", "department", "value", "note"]
        widgets = {"period_start": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kpi"].queryset = Kpi.objects.filter(source=KpiSource.MANUAL)


class TargetEdit(_ForKpi):
    model = KpiTarget
    form_class = TargetForm


class ValueEdit(_ForKpi):
    model = KpiValue
    form_class = ValueForm


class LinkForm(forms.ModelForm):
    class Meta:
        model = KpiLink
        fields = ["cause", "effect", "note"]


def links_page(request):
    """Cause → effect links: the list and a form to add one; delete per row."""
    _require_analytics(request)
    access = Access.of(request.user)
    form = LinkForm(request.POST or None)
    if request.method == "POST":
        if not access.can(Action.ADD, KpiLink):
            raise PermissionDenied
        if form.is_valid():
            from django.core.exceptions import ValidationError

            try:
                records.record_create(model=KpiLink, data=form.cleaned_data, by=request.user)
                return redirect("analytics:scorecard_links")
            except ValidationError as exc:
                form.add_error(None, exc)
    return render(
        request,
        "analytics/scorecard/links.html",
        {
            "title": _("Cause and effect links"),
            "links": KpiLink.objects.select_related("cause", "effect"),
            "form": form,
            "can_add": access.can(Action.ADD, KpiLink),
            "can_delete": access.can(Action.DELETE, KpiLink),
        },
        status=400 if form.errors else 200,
    )


@require_POST
def link_delete(request, pk):
    link = get_object_or_404(KpiLink, pk=pk)
    records.record_delete(instance=link, by=request.user)
    return redirect("analytics:scorecard_links")


# ------------------------------------------------------------------------------------------------ costs
class CostList(RecordListView):
    model = CostEntry
    title = gettext_lazy("Cost entries")
    columns = [
        Column("date", gettext_lazy("Date"), "date", link=True),
        Column("category", gettext_lazy("Category"), "category"),
        Column("kind", gettext_lazy("Cost type"), "kind"),
        Column("amount", gettext_lazy("Amount"), "amount"),
        Column("currency", gettext_lazy("Currency"), "currency"),
        Column("campaign", gettext_lazy("Campaign"), "campaign"),
        Column("department", gettext_lazy("Department"), "department__name"),
    ]
    search_fields = ("campaign", "description")
    select_related = ("department",)
    default_sort = "-date"
    create_url_name = "analytics:scorecard_cost_create"
    detail_url_name = "analytics:scorecard_cost_edit"
    export_fields = ["date", "category", "kind", "amount", "currency", "campaign", "description"]


class CostForm(forms.ModelForm):
    class Meta:
        model = CostEntry
        fields = ["date", "category", "kind", "amount", "currency", "campaign", "department", "description"]
        widgets = {"date": forms.DateInput(attrs={"type": "date"})}


class CostEdit(RecordFormView):
    model = CostEntry
    form_class = CostForm

    def success_url(self, obj) -> str:
        from django.urls import reverse

        return reverse("analytics:scorecard_costs")


# ------------------------------------------------------------------------------------------------ initiatives
class InitiativeList(RecordListView):
    model = Initiative
    title = gettext_lazy("CRM initiatives")
    columns = [
        Column("name", gettext_lazy("Name"), "name", link=True),
        Column("stage", gettext_lazy("Practice stage"), "stage"),
        Column("status", gettext_lazy("Status"), "status"),
        Column("start", gettext_lazy("First period"), "start"),
        Column("period_type", gettext_lazy("Period"), "period_type"),
        Column("source", gettext_lazy("Cash flows"), "source"),
        Column("responsible", gettext_lazy("Owner"), "responsible__username"),
    ]
    search_fields = ("name",)
    select_related = ("responsible",)
    default_sort = "-start"
    create_url_name = "analytics:scorecard_initiative_create"
    detail_url_name = "analytics:scorecard_initiative"

    def dispatch(self, request, *args, **kwargs):
        _require_analytics(request)
        return super().dispatch(request, *args, **kwargs)


class InitiativeForm(forms.ModelForm):
    class Meta:
        model = Initiative
        fields = [
            "name", "stage", "status", "description", "responsible", "start", "period_type", "periods",
            "discount_rate", "source", "kpi", "baseline", "margin",
        ]  # fmt: skip
        widgets = {"start": forms.DateInput(attrs={"type": "date"})}


class InitiativeEdit(RecordFormView):
    model = Initiative
    form_class = InitiativeForm


class CashFlowForm(forms.ModelForm):
    class Meta:
        model = InitiativeCashFlow
        fields = ["period_index", "outflow", "inflow", "note"]


def initiative_detail(request, pk):
    _require_analytics(request)
    if not Access.of(request.user).can(Action.VIEW, Initiative):
        raise Http404
    initiative = get_object_or_404(Initiative.objects.select_related("kpi", "responsible"), pk=pk)
    access = Access.of(request.user)
    form = CashFlowForm(request.POST or None)
    if request.method == "POST":
        if not access.can(Action.ADD, InitiativeCashFlow):
            raise PermissionDenied
        if form.is_valid():
            from django.core.exceptions import ValidationError

            data = dict(form.cleaned_data, initiative=initiative)
            existing = initiative.cash_flows.filter(period_index=data["period_index"]).first()
            try:
                if existing is None:
                    records.record_create(model=InitiativeCashFlow, data=data, by=request.user)
                else:
                    data.pop("initiative")
                    records.record_update(
                        instance=existing, data=data, by=request.user, expected_version=None
                    )
                return redirect(initiative.get_absolute_url())
            except ValidationError as exc:
                form.add_error(None, exc)
    result = scorecard.evaluate_initiative(initiative, user=request.user)
    return render(
        request,
        "analytics/scorecard/initiative.html",
        {
            "title": initiative.name,
            "initiative": initiative,
            "result": result,
            "evaluation": result.evaluation,
            "irr_text": _irr_text(result.evaluation),
            "benefit_index": result.benefit_index(float(nba_config()["MIN_COST"])),
            "form": form,
            "can_add": access.can(Action.ADD, InitiativeCashFlow),
            "can_change": access.can(Action.CHANGE, Initiative),
            "chart": {
                "labels": [f.period.label for f in result.flows],
                "outflow": [-round(f.outflow, 2) for f in result.flows],
                "inflow": [round(f.inflow + (f.derived_inflow or 0.0), 2) for f in result.flows],
                "cumulative": _cumulative([f.net for f in result.flows]),
                "outflowName": _("Costs"),
                "inflowName": _("Benefits"),
                "cumulativeName": _("Cumulative net"),
            },
        },
        status=400 if form.errors else 200,
    )


def _irr_text(evaluation) -> str:
    if evaluation.irr_annual is not None:
        return f"{100 * evaluation.irr_annual:.1f}%"
    if evaluation.irrs:
        return " / ".join(f"{100 * r:.1f}%" for r in evaluation.irrs) + " " + _("(per period)")
    return "—"


def _cumulative(values: list[float]) -> list[float]:
    total, out = 0.0, []
    for v in values:
        total += v
        out.append(round(total, 2))
    return out
