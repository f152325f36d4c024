"""The performance page (ADR 0016): a team's reps ranked, drill to one rep; CSV, XLSX and PDF exports of the
same figures (exports_performance). Thin: the figures come from selectors_performance."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.access import Access
from kehu.core.models import AuditAction
from kehu.sales.models import Opportunity

from . import exports_performance as ex
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
    if request.GET.get("format") in EXPORTS:
        return _export(request, data, request.GET["format"])
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


EXPORTS = {
    "csv": ("text/csv; charset=utf-8", ex.to_csv),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ex.to_xlsx),
    "pdf": ("application/pdf", ex.to_pdf),
}


def _export(request, data, fmt: str) -> HttpResponse:
    """The page's figures as CSV, XLSX or PDF: the export right on opportunities, audited (ADR 0016)."""
    if not Access.of(request.user).can("export", Opportunity):
        raise PermissionDenied(_("You do not have the right to export."))
    content_type, build = EXPORTS[fmt]
    name = f"performance-{data.period.label}"
    audit.log(actor=request.user, action=AuditAction.EXPORT, model="sales.opportunity", object_id="*",
              object_repr=name, note=f"{fmt} performance")  # fmt: skip
    response = HttpResponse(build(data), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
