"""Saved reports: who may read and change them, writes (audited), exports (XLSX, PDF), role dashboards and the
scheduled e-mail delivery. The figures always come from `reports.run` for the reader (or recipient)."""

from __future__ import annotations

import datetime as dt
import io
import logging

from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.access import Access
from kehu.core.exports import safe_cell
from kehu.core.models import AuditAction

from . import reports
from .models_reports import DashboardWidget, Report, Schedule

log = logging.getLogger(__name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ------------------------------------------------------------------------------------------------ reads
def report_list(*, user) -> QuerySet[Report]:
    """Reports a user may open: their own, and those shared with one of their roles or teams."""
    if not Access.of(user).authenticated:
        return Report.objects.none()
    return (
        Report.objects.filter(
            Q(owner=user)
            | Q(shared_roles__in=user.roles.values("id"))
            | Q(shared_teams__in=user.teams.values("id"))
        )
        .distinct()
        .select_related("owner")
        .order_by("name", "id")
    )


def report_get(*, user, pk) -> Report:
    try:
        return report_list(user=user).get(pk=pk)
    except (Report.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def can_change(report: Report, user) -> bool:
    return report.owner_id == user.pk or Access.of(user).is_superuser


def can_manage_dashboards(user) -> bool:
    access = Access.of(user)
    return access.is_superuser or access.can("change", "core.role")


@transaction.atomic
def dashboard_pin(*, report: Report, role, by, pin: bool = True) -> bool:
    """Put a report on a role's dashboard (shared with the role, last position) or take it off (administrators).
    Returns whether it is on the dashboard now."""
    if not can_manage_dashboards(by):
        raise PermissionDenied(_("Administrators only."))
    if pin:
        last = (
            DashboardWidget.objects.filter(role=role)
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        DashboardWidget.objects.get_or_create(
            role=role, report=report, defaults={"position": (last or 0) + 1}
        )
        report.shared_roles.add(role)
    else:
        DashboardWidget.objects.filter(role=role, report=report).delete()
    audit.log(actor=by, action=AuditAction.UPDATE, instance=report, changes={"dashboard": [role.code, pin]})
    return pin


def dashboard_widgets(*, user) -> list[DashboardWidget]:
    """The widgets of the dashboards of the user's roles (a report on two of them shows once)."""
    seen, result = set(), []
    for w in (
        DashboardWidget.objects.filter(role__in=user.roles.all())
        .select_related("report", "role")
        .order_by("role__name", "position", "id")
    ):
        if w.report_id not in seen:
            seen.add(w.report_id)
            result.append(w)
    return result


# ------------------------------------------------------------------------------------------------ writes
def _changes(report: Report) -> dict:
    return {
        "name": report.name,
        "model": report.model,
        "spec": report.spec,
        "chart": report.chart,
        "schedule": report.schedule,
    }


@transaction.atomic
def report_save(
    *,
    by,
    spec: reports.Spec,
    name: str,
    description: str = "",
    report: Report | None = None,
    shared_roles=None,
    shared_teams=None,
    schedule: str | None = None,
    recipients=None,
) -> Report:
    """Create (report=None) or change a report. Only its owner (or a superuser) changes it. The definition must
    have been parsed for `by` (so it names only what `by` may see)."""
    if report is not None and not can_change(report, by):
        raise PermissionDenied(_("Only the owner changes a report."))
    creating = report is None
    if creating:
        report = Report(owner=by)
    before = {} if creating else _changes(report)
    report.name = name.strip()[:120] or _("Untitled report")
    report.description = description
    report.model = spec.label
    report.spec = spec.as_dict()
    report.chart = spec.chart
    if schedule is not None:
        report.schedule = schedule
    report.save()
    if shared_roles is not None:
        report.shared_roles.set(shared_roles)
    if shared_teams is not None:
        report.shared_teams.set(shared_teams)
    if recipients is not None:
        report.recipients.set(recipients)
    after = _changes(report)
    audit.log(
        actor=by,
        action=AuditAction.CREATE if creating else AuditAction.UPDATE,
        instance=report,
        changes={k: [before.get(k), v] for k, v in after.items() if before.get(k) != v},
    )
    return report


@transaction.atomic
def report_delete(*, report: Report, by) -> None:
    if not can_change(report, by):
        raise PermissionDenied(_("Only the owner deletes a report."))
    audit.log(actor=by, action=AuditAction.DELETE, instance=report)
    report.delete()


def report_run(*, report: Report, user) -> dict:
    """The report's figures for `user` (their scope); ReportError when it names a field they may not see."""
    return reports.run(reports.parse_spec(report.spec, user=user), user=user)


# ------------------------------------------------------------------------------------------------ exports
def _table(result: dict) -> list[list]:
    header = [g["label"] for g in result["groups"]] + [m["label"] for m in result["measures"]]
    body = [list(r["labels"]) + list(r["values"]) for r in result["rows"]]
    return [header, *body]


def export_xlsx(*, result: dict, name: str) -> bytes:
    """The grouped rows (and the pivot table, with two groups) as a workbook; text cells are formula-safe."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=(name or "report")[:31].replace("/", "-"))
    for row in _table(result):
        ws.append(
            [v if isinstance(v, int | float) and not isinstance(v, bool) else safe_cell(v) for v in row]
        )
    if result.get("pivot"):
        p = result["pivot"]
        ps = wb.create_sheet(title=_("Pivot")[:31])
        ps.append(
            [
                safe_cell(result["groups"][0]["label"]),
                *[safe_cell(c["label"]) for c in p["columns"]],
                _("Total"),
            ]
        )
        for row, cells, total in zip(p["rows"], p["cells"], p["row_totals"], strict=True):
            ps.append([safe_cell(row["label"]), *[c if c is not None else None for c in cells], total])
        ps.append([_("Total"), *p["column_totals"], sum(p["row_totals"])])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def export_pdf(*, result: dict, name: str, language: str | None = None) -> bytes:
    """The report as an A4 PDF (WeasyPrint; CJK text needs fonts-noto-cjk, as the quote PDF)."""
    import base64

    from weasyprint import HTML

    from .report_svg import chart_svg

    rows = _table(result)
    # the chart the report was saved with (bar, line or pie; stacked bars for two or three groups) as SVG
    svg = chart_svg(result) if result["groups"] or result["rows"] else ""
    chart = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode() if svg else ""
    with translation.override(language or translation.get_language() or "zh-hans"):
        html = render_to_string(
            "analytics/reports/report_pdf.html",
            {
                "name": name,
                "result": result,
                "header": rows[0],
                "rows": rows[1:],
                "chart": chart,
                "now": timezone.localtime(),
            },
        )
    return HTML(string=html).write_pdf()


def log_export(*, report_name: str, user, fmt: str, model: str) -> None:
    audit.log(
        actor=user,
        action=AuditAction.EXPORT,
        model=model,
        object_id="*",
        object_repr=report_name,
        note=f"report {fmt}",
    )


# ------------------------------------------------------------------------------------------------ delivery
def is_due(report: Report, today: dt.date) -> bool:
    if report.schedule == Schedule.DAILY:
        return report.last_sent_on is None or report.last_sent_on < today
    if report.schedule == Schedule.WEEKLY:
        return today.weekday() == 0 and report.last_sent_on != today
    if report.schedule == Schedule.MONTHLY:
        return today.day == 1 and report.last_sent_on != today
    return False


def _claim(report_id: int, today: dt.date) -> Report | None:
    """Take a due report for delivery (row lock; one delivery per period even with several workers)."""
    report = Report.objects.select_for_update(skip_locked=True).filter(pk=report_id).first()
    if report is None or not is_due(report, today):
        return None
    report.last_sent_on = today
    report.save(update_fields=["last_sent_on"])
    return report


def deliver(*, report: Report, recipient) -> bool:
    """E-mail one recipient the report computed with *their* scope and field rights (XLSX attached)."""
    if not recipient.email or not recipient.is_active:
        return False
    if not report_list(user=recipient).filter(pk=report.pk).exists():
        log.warning("report %s: recipient %s may not open it; not sent", report.pk, recipient.pk)
        return False
    with translation.override(getattr(recipient, "language", "") or "zh-hans"):
        try:
            result = report_run(report=report, user=recipient)
        except reports.ReportError as exc:
            log.warning("report %s not sent to %s: %s", report.pk, recipient.pk, exc)
            return False
        context = {
            "report": report,
            "result": result,
            "header": _table(result)[0],
            "rows": _table(result)[1:],
        }
        subject = _("Report: %(name)s") % {"name": report.name}
        text = render_to_string("analytics/reports/email.txt", context)
        html = render_to_string("analytics/reports/email.html", context)
    message = EmailMultiAlternatives(subject, text, to=[recipient.email])
    message.attach_alternative(html, "text/html")
    stamp = timezone.localdate().isoformat()
    message.attach(f"report-{report.pk}-{stamp}.xlsx", export_xlsx(result=result, name=report.name), XLSX)
    message.send()
    return True


def reports_deliver_due(*, now: dt.datetime | None = None) -> dict:
    """Send every report due today (daily; weekly on Mondays; monthly on the 1st) to its recipients."""
    today = timezone.localdate(now or timezone.now())
    ids = list(Report.objects.exclude(schedule="").values_list("id", flat=True))
    sent = reports_sent = 0
    for report_id in ids:
        with transaction.atomic():
            report = _claim(report_id, today)
            if report is None:
                continue
            reports_sent += 1
            for recipient in report.recipients.all():
                if deliver(report=report, recipient=recipient):
                    sent += 1
    return {"reports": reports_sent, "emails": sent}
