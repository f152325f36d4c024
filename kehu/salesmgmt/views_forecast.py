"""Forecast pages (ADR 0014, "Forecast and dashboards"): the forecast of a period per rep (pipeline, weighted,
best case, commit, won, the manager's figure beside the rep's, target and attainment), the deals grid where the
rep sets categories, the manager's adjustment, the weekly snapshots beside what happened, and the category form
on a deal's page. Thin: services read and write; refusals answer 400 with the field named, nothing half-saved."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.access import Access
from kehu.core.exceptions import StaleRecordError
from kehu.core.models import User
from kehu.core.selectors import get_visible
from kehu.sales import selectors as sales_selectors
from kehu.sales.models import Opportunity

from .models import ForecastCategory, PeriodKind
from .services import forecast as fc


def _period(request) -> fc.Period:
    try:
        return fc.Period.parse(request.GET.get("period") or request.POST.get("period"))
    except ValidationError:
        return fc.Period.current()


def _messages_of(exc) -> list[str]:
    if isinstance(exc, StaleRecordError):
        return [exc.message]
    if isinstance(exc, ValidationError):
        return exc.messages
    return [str(exc) or _("Not allowed.")]


# what the page's deal rows show ({% forecast_deal_rows %}): up to 500 deals, not their customers' whole rows
DEAL_COLUMNS = (
    "id", "name", "expected_close_date", "amount", "currency", "status", "probability", "owner", "owner__id",
    *(f"owner__{f}" for f in User.choice_label_fields), "forecast_entry__id", "forecast_entry__category",
    "forecast_entry__opportunity",
)  # fmt: skip


def period_deals(*, user, period: fc.Period, rep_ids=None):
    """The deals of a period that `user` may see, open ones first, with their categories."""
    qs = sales_selectors.opportunity_list(user=user).select_related("forecast_entry")
    if rep_ids is not None:
        qs = qs.filter(owner_id__in=sorted(rep_ids))
    return fc.period_deals(qs, period).order_by("-status", "expected_close_date", "id")


def _chart(f: fc.Forecast) -> dict | None:
    if f.amount_hidden or not f.rows:
        return None
    return {
        "labels": [r.rep.get_full_name() or r.rep.username for r in f.rows],
        "series": [
            {"name": _("Target"), "data": [float(r.target or 0) for r in f.rows]},
            {"name": _("Won"), "data": [float(r.totals.won) for r in f.rows]},
            {"name": _("Commit"), "data": [float(r.totals.won + r.totals.commit) for r in f.rows]},
            {"name": _("Best case"), "data": [float(r.totals.won + r.totals.best_case) for r in f.rows]},
            {"name": _("Manager's forecast"), "data": [float(r.final) for r in f.rows]},
        ],
    }


def forecast_page(request, status: int = 200, posted: dict | None = None, errors: dict | None = None):
    if not Access.of(request.user).can("view", "sales.opportunity"):
        raise PermissionDenied(_("You do not have access to this page."))
    period = _period(request)
    rep_ids = None
    if request.GET.get("rep", "").isdigit():
        rep_ids = {int(request.GET["rep"])}
    f = fc.forecast_for(user=request.user, period=period, rep_ids=rep_ids)
    access = Access.of(request.user)
    deals = list(
        period_deals(user=request.user, period=period, rep_ids=rep_ids)
        .select_related(None)
        .select_related("forecast_entry", "owner")
        .only(*DEAL_COLUMNS)[:500]
    )
    writable: set[int] = set()
    if deals and access.can("change", "sales.opportunity"):
        ids = [d.pk for d in deals]
        writable = set(
            access.filter(Opportunity.objects.filter(pk__in=ids), mode="write").values_list("pk", flat=True)
        )
    for d in deals:
        current = getattr(getattr(d, "forecast_entry", None), "category", ForecastCategory.PIPELINE)
        d.fc_category = (posted or {}).get(d.pk, current)
        d.fc_editable = d.pk in writable and d.status == "open"
        d.fc_error = (errors or {}).get(f"category-{d.pk}")
    comparison = fc.snapshot_comparison(user=request.user, period=period, rep_ids=rep_ids, current=f)
    return render(
        request,
        "salesmgmt/forecast/forecast.html",
        {
            "title": _("Forecast"),
            "f": f,
            "period": period,
            "previous": period.shifted(-1),
            "next": period.shifted(1),
            "kinds": [(fc.Period.current(k).token, label) for k, label in PeriodKind.choices],
            "deals": deals,
            "any_editable": any(d.fc_editable for d in deals),
            "categories": ForecastCategory.choices,
            "comparison": comparison,
            "chart": _chart(f),
            "compare_chart": None
            if comparison["amount_hidden"] or not comparison["weeks"]
            else {
                "labels": [str(w["week"]) for w in comparison["weeks"]],
                "series": [
                    {"name": _("Commit"), "data": [float(w["forecast"]) for w in comparison["weeks"]]},
                    {
                        "name": _("Manager's forecast"),
                        "data": [float(w["adjusted"]) for w in comparison["weeks"]],
                    },
                    {"name": _("Won"), "data": [float(comparison["actual"])] * len(comparison["weeks"])},
                ],
            },
        },
        status=status,
    )


@require_POST
def forecast_categories(request):
    """The grid: every `category-<deal id>` field of the form, saved all or nothing."""
    changes: dict[int, str] = {}
    for key, value in request.POST.items():
        if key.startswith("category-") and key[9:].isdigit():
            changes[int(key[9:])] = value
    try:
        n = fc.categories_set(changes=changes, by=request.user)
    except (ValidationError, PermissionDenied, StaleRecordError) as exc:
        errors = exc.message_dict if isinstance(exc, ValidationError) and hasattr(exc, "error_dict") else {}
        for text in _messages_of(exc):
            messages.error(request, text)
        request.GET = request.GET.copy()
        request.GET["period"] = request.POST.get("period", "")
        return forecast_page(request, status=400, posted=changes, errors={k: v[0] for k, v in errors.items()})
    messages.success(request, _("Saved: %(n)s categories changed.") % {"n": n})
    return redirect(reverse("salesmgmt:forecast") + f"?period={_period(request).token}")


@require_POST
def forecast_adjust(request):
    period = _period(request)
    back = reverse("salesmgmt:forecast") + f"?period={period.token}"
    rep = get_object_or_404(
        User, pk=request.POST.get("rep") if str(request.POST.get("rep", "")).isdigit() else 0
    )
    version = request.POST.get("version", "")
    try:
        fc.adjustment_set(
            rep=rep,
            period=period,
            amount=request.POST.get("amount", ""),
            note=request.POST.get("note"),
            by=request.user,
            expected_version=int(version) if version.isdigit() else None,
        )
    except (ValidationError, PermissionDenied, StaleRecordError) as exc:
        for text in _messages_of(exc):
            messages.error(request, text)
        return redirect(back)
    messages.success(request, _("Forecast adjusted."))
    return redirect(back)


@require_POST
def forecast_adjust_team(request):
    """A manager's figure for a whole team (forecast_teams.team_adjustment_set): refusals as messages."""
    from kehu.core.models import Team

    from .services import forecast_teams

    period = _period(request)
    back = reverse("salesmgmt:forecast") + f"?period={period.token}"
    raw = str(request.POST.get("team", ""))
    team = get_object_or_404(Team, pk=raw if raw.isdigit() else 0)
    if not forecast_teams.team_visible(user=request.user, team=team):
        raise Http404
    version = request.POST.get("version", "")
    try:
        forecast_teams.team_adjustment_set(
            team=team,
            period=period,
            amount=request.POST.get("amount", ""),
            note=request.POST.get("note"),
            by=request.user,
            expected_version=int(version) if version.isdigit() else None,
        )
    except (ValidationError, PermissionDenied, StaleRecordError) as exc:
        for text in _messages_of(exc):
            messages.error(request, text)
        return redirect(back)
    messages.success(request, _("Team forecast adjusted."))
    return redirect(back)


@require_POST
def deal_category(request, pk):
    """The category form on a deal's page."""
    deal = get_visible(sales_selectors.opportunity_list(user=request.user), user=request.user, pk=pk)
    try:
        fc.category_set(opportunity=deal, category=request.POST.get("category", ""), by=request.user)
        messages.success(request, _("Saved."))
    except (ValidationError, PermissionDenied, StaleRecordError) as exc:
        for text in _messages_of(exc):
            messages.error(request, text)
    return redirect(deal.get_absolute_url())
