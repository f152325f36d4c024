"""Sales dashboards (ADR 0014, "Forecast and dashboards"): the rep's "my day" (phone first) and the manager's
team view, with ECharts where a chart helps (forecast against target). Reads only, through
`selectors_dashboard`; amounts hidden from a role stay off the page and out of the chart data."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext as _

from kehu.core.access import Access

from . import selectors_dashboard


def _forecast_chart(day) -> dict | None:
    f = day.forecast
    if f is None or day.amount_hidden or not f.rows:
        return None
    return {
        "labels": [r.rep.get_full_name() or r.rep.username for r in f.rows],
        "series": [
            {"name": _("Target"), "data": [float(r.target or 0) for r in f.rows]},
            {"name": _("Won"), "data": [float(r.totals.won) for r in f.rows]},
            {"name": _("Won + commit"), "data": [float(r.forecast) for r in f.rows]},
            {"name": _("Manager's forecast"), "data": [float(r.final) for r in f.rows]},
        ],
    }


def my_dashboard(request):
    if not Access.of(request.user).can("view", "sales.opportunity"):
        raise PermissionDenied(_("You do not have access to this page."))
    day = selectors_dashboard.my_day(user=request.user)
    mine = day.forecast.rows[0] if day.forecast and day.forecast.rows else None
    month = day.month_forecast.rows[0] if day.month_forecast and day.month_forecast.rows else None
    return render(
        request,
        "salesmgmt/dashboard/my_day.html",
        {"title": _("My sales day"), "day": day, "mine": mine, "month": month, "chart": _forecast_chart(day)},
    )


def team_dashboard(request):
    access = Access.of(request.user)
    if not (access.can("view", "sales.opportunity") and access.can("change", "salesmgmt.forecastadjustment")):
        raise PermissionDenied(_("You do not have access to this page."))
    day = selectors_dashboard.team_day(user=request.user)
    return render(
        request,
        "salesmgmt/dashboard/team.html",
        {"title": _("Team dashboard"), "day": day, "chart": _forecast_chart(day)},
    )
