"""The performance page (ADR 0016): a team's reps ranked, drill to one rep; CSV export of the rows. Thin: the
figures come from selectors_performance."""

from __future__ import annotations

import csv
import io

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.access import Access
from kehu.core.exports import safe_cell
from kehu.core.models import AuditAction
from kehu.sales.models import Opportunity

from . import selectors_performance as perf


def _int(raw) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise Http404 from None


def performance(request):
    period = perf.period_parse(request.GET.get("period"))
    data = perf.performance(
        user=request.user,
        period=period,
        team_id=_int(request.GET.get("team")),
        rep_id=_int(request.GET.get("rep")),
    )
    if request.GET.get("format") == "csv":
        return _csv(request, data)
    today = timezone.localdate()
    q = (today.month - 1) // 3 + 1
    periods = [str(today.year), f"{today.year}-Q{q}", f"{today.year}-{today.month:02d}", str(today.year - 1)]
    return render(
        request,
        "salesmgmt/performance/page.html",
        {
            "title": _("Performance"),
            "data": data,
            "periods": periods,
            "can_export": Access.of(request.user).can("export", Opportunity),
        },
    )


HEADERS = [
    ("rank", "Rank"), ("rep", "Sales rep"), ("quota", "Quota"), ("actual", "Result"), ("attainment", "Attainment (%)"),
    ("won", "Deals won"), ("avg", "Average deal size"), ("win_rate", "Win rate (%)"), ("cycle", "Sales cycle (days)"),
    ("interactions", "Activities"), ("visits", "Visits"), ("expenses", "Expenses"),
]  # fmt: skip


def _csv(request, data) -> HttpResponse:
    if not Access.of(request.user).can("export", Opportunity):
        raise PermissionDenied(_("You do not have the right to export."))
    labels = {
        "rank": _("Rank"), "rep": _("Sales rep"), "quota": _("Quota"), "actual": _("Result"),
        "attainment": _("Attainment (%)"), "won": _("Deals won"), "avg": _("Average deal size"),
        "win_rate": _("Win rate (%)"), "cycle": _("Sales cycle (days)"), "interactions": _("Activities"),
        "visits": _("Visits"), "expenses": _("Expenses"),
    }  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([labels[k] for k, _l in HEADERS])
    for r in data.rows:
        writer.writerow(
            [safe_cell(v) for v in (r.rank, r.user, r.quota, r.actual, r.attainment, r.won_count, r.avg_deal,
                                    r.win_rate, r.cycle_days, r.interactions, r.visits, r.expenses)]
        )  # fmt: skip
    name = f"performance-{data.period.label}"
    audit.log(actor=request.user, action=AuditAction.EXPORT, model="sales.opportunity", object_id="*",
              object_repr=name, note="csv performance")  # fmt: skip
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response
