"""The performance page as CSV, XLSX and PDF (issue #17 part 4): one table built from the page's own figures
(`selectors_performance.performance`), so the scope and the hidden fields are the page's — a figure hidden from
the reader's role is empty in every format. Every export needs the export right on opportunities and is
audited (EXPORT, the format in the note)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core.exports import safe_cell

COLUMNS = ("rank", "rep", "quota", "actual", "attainment", "won", "avg", "win_rate", "cycle", "interactions",
           "visits", "expenses")  # fmt: skip


def headers() -> list[str]:
    labels = {
        "rank": _("Rank"), "rep": _("Sales rep"), "quota": _("Quota"), "actual": _("Result"),
        "attainment": _("Attainment (%)"), "won": _("Deals won"), "avg": _("Average deal size"),
        "win_rate": _("Win rate (%)"), "cycle": _("Sales cycle (days)"), "interactions": _("Activities"),
        "visits": _("Visits"), "expenses": _("Expenses"),
    }  # fmt: skip
    return [labels[k] for k in COLUMNS]


def _expenses(r):
    if r.expenses is None:
        return None
    if not r.expenses_other:
        return r.expenses
    return " + ".join([str(r.expenses), *(f"{a} {cur}" for cur, a in r.expenses_other.items())])


def rows(data) -> list[list]:
    out = []
    for r in data.rows:
        out.append([r.rank, str(r.user), r.quota, r.actual, r.attainment, r.won_count, r.avg_deal, r.win_rate,
                    r.cycle_days, r.interactions, r.visits, _expenses(r)])  # fmt: skip
    t = data.total
    out.append(["", _("Total"), t.quota, t.actual, t.attainment, t.won_count, t.avg_deal, t.win_rate,
                t.cycle_days, t.interactions, t.visits, t.expenses])  # fmt: skip
    return out


def title(data) -> str:
    who = data.team or data.rep
    return f"{_('Performance')} {data.period.label}" + (f" · {who}" if who else "")


def to_csv(data) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers())
    for row in rows(data)[:-1]:  # the CSV keeps its historical shape: the reps only
        writer.writerow([safe_cell(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(data) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=f"{_('Performance')} {data.period.label}"[:31].replace("/", "-"))
    ws.append([safe_cell(title(data))])
    ws.append([safe_cell(f"{data.currency} · {_('Results from')}: "
                         f"{_('Paid orders') if data.source == 'paid' else _('Won opportunities')}")])  # fmt: skip
    ws.append([])
    ws.append(headers())
    for row in rows(data):
        ws.append([float(v) if isinstance(v, Decimal) else v if isinstance(v, int) else safe_cell(v)
                   for v in row])  # fmt: skip
    if data.funnel:
        fs = wb.create_sheet(title=_("Conversion per stage")[:31])
        fs.append([_("Stage"), _("Reached"), _("To the next stage")])
        for s in data.funnel:
            fs.append([safe_cell(str(s["stage"])), s["reached"],
                       None if s["to_next"] is None else float(s["to_next"])])  # fmt: skip
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def pdf_html(data, language: str | None = None) -> str:
    with translation.override(language or translation.get_language() or "zh-hans"):
        return render_to_string(
            "salesmgmt/performance/pdf.html",
            {"data": data, "title": title(data), "header": headers(), "rows": rows(data),
             "now": timezone.localtime()},
        )  # fmt: skip


def to_pdf(data, language: str | None = None) -> bytes:
    """A4 landscape (WeasyPrint; CJK text needs fonts-noto-cjk, as the quote PDF)."""
    from weasyprint import HTML

    return HTML(string=pdf_html(data, language)).write_pdf()
