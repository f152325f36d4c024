"""Pages of the practice loop: value segments with their strategies and the 80/20 charts, strategy and settings
editing (administrators), the loop (cycles: segments at the start, strategies applied, results after the
period) and the churn at-risk list that feeds care plans and win-back."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core import audit
from kehu.core.access import Access
from kehu.core.models import AuditAction

from . import selectors, selectors_value, visibility
from .models import CustomerScore
from .models_value import RelationshipStrategy, ValueCycle, ValueSegment, ValueSettings


def _require_view(request) -> None:
    if not Access.of(request.user).can("view", "customers.customer"):
        raise PermissionDenied


def _require_admin(request) -> None:
    if not selectors.can_run_scoring(request.user):
        raise PermissionDenied


def segments(request):
    """Value segments over the customers the user may see, each with its strategy; Pareto charts."""
    _require_view(request)
    hidden = selectors_value.hidden(request.user)
    score_hidden = Access.of(request.user).hidden_fields(CustomerScore)
    rows = visibility.visible_summary(
        lambda: selectors_value.value_segment_summary(user=request.user),
        user=request.user,
        grouped_by=(visibility.VALUE, "segment"),
    )
    curves = selectors_value.pareto(user=request.user)
    series = []
    if "revenue" in curves:
        series.append({"name": _("Net revenue"), "data": curves["revenue"]["y"]})
    if "clv" in curves:
        series.append({"name": _("Customer lifetime value"), "data": curves["clv"]["y"]})
    chart = {
        "x": (curves.get("revenue") or curves.get("clv") or {}).get("x", []),
        "series": series,
        "xName": _("Share of customers (%)"),
        "yName": _("Cumulative share (%)"),
        "equalName": _("Equal shares"),
    }
    return render(
        request,
        "analytics/value/segments.html",
        {
            "title": _("Value segments and strategies"),
            "rows": rows,
            "curves": curves,
            "chart": chart,
            "has_chart": bool(chart["series"]),
            "hidden": hidden,
            "score_hidden": score_hidden,
            "run": selectors.latest_run(),
            "cycle": ValueCycle.objects.order_by("-as_of", "-run_id").first(),
            "settings": ValueSettings.current(),
            "can_edit": selectors.can_run_scoring(request.user),
        },
    )


class StrategyForm(forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = RelationshipStrategy
        fields = ["description", "sla_policy", "contact_every_days", "visit_every_days", "campaign_eligible"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from kehu.service.models import SlaPolicy

        self.fields["sla_policy"].queryset = SlaPolicy.objects.filter(active=True).order_by("position", "id")
        self.fields["version"].initial = self.instance.version


def _save_versioned(*, instance, form, by, note: str):
    """Save an edited configuration row under a row lock: a stale version is refused, the change audited."""
    with transaction.atomic():
        model = type(instance)
        before = {}
        if instance.pk:
            locked = model.objects.select_for_update().filter(pk=instance.pk).first()
            if locked is not None:
                sent = form.cleaned_data.get("version")
                if sent is not None and sent != locked.version:
                    raise ValidationError(
                        _(
                            "Somebody else changed this in the meantime. Reload the page and make your change again."
                        )
                    )
                before = audit.snapshot(locked)
                instance.version = locked.version + 1
        instance.updated_at = timezone.now()
        existed = bool(before)
        instance.save()
        after = audit.snapshot(instance)
        audit.log(
            actor=by,
            action=AuditAction.UPDATE if existed else AuditAction.CREATE,
            instance=instance,
            changes=audit.diff(before, after) if existed else after,
            note=note,
        )
    return instance


def strategy_edit(request, segment: str):
    _require_admin(request)
    if segment not in ValueSegment.values:
        raise Http404
    instance = selectors_value.strategies()[segment]
    form = StrategyForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            _save_versioned(instance=form.instance, form=form, by=request.user, note="relationship strategy")
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Strategy saved. It applies at once; the loop records it with the next run.")
            )
            return redirect("analytics:value_segments")
    return render(
        request,
        "ui/form.html",
        {"title": _("Strategy: %(segment)s") % {"segment": ValueSegment(segment).label}, "form": form},
    )


class SettingsForm(forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = ValueSettings
        fields = ["top_share", "core_share", "margin_rate", "cost_per_ticket", "churn_period_days",
                  "at_risk_threshold"]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].initial = self.instance.version


def settings_edit(request):
    _require_admin(request)
    form = SettingsForm(request.POST or None, instance=ValueSettings.current())
    if request.method == "POST" and form.is_valid():
        try:
            _save_versioned(instance=form.instance, form=form, by=request.user, note="value settings")
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Settings saved. Segments change with the next scoring run."))
            return redirect("analytics:value_segments")
    return render(request, "ui/form.html", {"title": _("Value segment settings"), "form": form})


def _cycle(pk) -> ValueCycle | None:
    try:
        return selectors_value.cycles().filter(pk=int(pk)).first() if pk else None
    except (TypeError, ValueError):
        return None


def loop(request):
    """The practice loop: pick a start cycle (default: the latest cycle start before the latest run) and an end
    (default: the latest run); show segments at the start, strategies applied, results and movements."""
    _require_admin(request)
    all_cycles = list(selectors_value.cycles()[:200])
    starts = [c for c in all_cycles if c.cycle_start]
    latest = all_cycles[0] if all_cycles else None
    start = _cycle(request.GET.get("start"))
    if start is None:
        start = next((c for c in starts if latest and c.as_of < latest.as_of), starts[0] if starts else None)
    end = _cycle(request.GET.get("end"))
    if end is None and latest is not None and start is not None and latest.as_of > start.as_of:
        end = latest
    if end is not None and start is not None and end.as_of <= start.as_of:
        end = None
    result = None
    if start is not None:
        result = selectors_value.loop_result(
            start=start, end=end, currency=start.run.currency, until=timezone.localdate()
        )
        for row in result["rows"]:
            row["strategy"] = (start.strategies or {}).get(row["segment"]) or {}
            row["moves_list"] = [
                (ValueSegment(k).label if k in ValueSegment.values else _labels_extra()[k], n)
                for k, n in sorted(row["moves"].items(), key=lambda kv: -kv[1])
            ]
    order = [seg.value for seg in ValueSegment]
    for c in all_cycles:
        c.counts = [int((c.segments.get(code) or {}).get("customers", 0)) for code in order]
    return render(
        request,
        "analytics/value/loop.html",
        {
            "segment_choices": [(seg.value, seg.label) for seg in ValueSegment],
            "title": _("The CRM practice loop"),
            "cycles": all_cycles,
            "starts": starts,
            "start": start,
            "end": end,
            "result": result,
            "new_list": [
                (ValueSegment(k).label, n)
                for k, n in (result or {}).get("new", {}).items()
                if k in ValueSegment.values
            ],
        },
    )


def _labels_extra() -> dict:
    return {"gone": _("no longer buying"), "new": _("new")}


class CareForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=None, label=gettext_lazy("Care plan"))
    customers = forms.MultipleChoiceField(choices=[], required=True)

    def __init__(self, *args, ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        from kehu.service.models import CarePlan

        self.fields["plan"].queryset = CarePlan.objects.filter(active=True, action="task").order_by("name")
        self.fields["customers"].choices = [(str(i), str(i)) for i in ids]


def at_risk(request):
    """Customers at risk of churning that the user may see, riskiest first, with the top reasons."""
    _require_view(request)
    threshold = ValueSettings.current().at_risk_threshold
    try:
        wanted = float(request.GET.get("threshold", threshold))
        if 0 < wanted < 1:
            threshold = wanted
    except ValueError:
        pass
    qs = selectors_value.at_risk_customers(request.user, threshold=threshold)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    rows = []
    for customer in page.object_list:
        value = customer.analytics_value
        rows.append(
            {
                "customer": customer,
                "value": value,
                "score": getattr(customer, "analytics_score", None),
                "reasons": selectors_value.churn_reason_labels(value.churn_reasons),
            }
        )
    from kehu.service.models import CarePlan

    can_care = Access.of(request.user).can("add", "interactions.task")
    return render(
        request,
        "analytics/value/at_risk.html",
        {
            "title": _("Customers at risk of churning"),
            "page": page,
            "rows": rows,
            "threshold": threshold,
            "hidden": selectors_value.hidden(request.user),
            "plans": CarePlan.objects.filter(active=True, action="task").order_by("name") if can_care else [],
            "cycle": ValueCycle.objects.order_by("-as_of", "-run_id").first(),
        },
    )


@require_POST
def at_risk_care(request):
    """Hand the chosen at-risk customers to a care plan: a task for each customer's owner, recorded as the
    plan's care action for today (once per plan, customer and day)."""
    _require_view(request)
    if not Access.of(request.user).can("add", "interactions.task"):
        raise PermissionDenied
    visible = {
        str(c.pk): c
        for c in selectors_value.at_risk_customers(request.user, threshold=0.0).filter(
            pk__in=[v for v in request.POST.getlist("customers") if v.isdigit()]
        )
    }
    form = CareForm(request.POST, ids=list(visible))
    if not form.is_valid():
        messages.error(request, _("Choose a care plan and at least one customer."))
        return redirect("analytics:value_at_risk")
    from .services_value import care_for_at_risk

    created = care_for_at_risk(
        plan=form.cleaned_data["plan"],
        customers=[visible[i] for i in form.cleaned_data["customers"]],
        by=request.user,
        today=timezone.localdate(),
    )
    messages.success(request, _("%(n)d care tasks created.") % {"n": created})
    return redirect("analytics:value_at_risk")
