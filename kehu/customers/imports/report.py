"""Files the import gives back: the error report (bad rows as they were, plus row number and reasons, so the
user fixes them and imports just those) and the empty template with the right headers.

Cells go through the export's formula guard, so a hostile value from the uploaded file cannot run as a
formula when the report is opened in Excel; the import strips that apostrophe again.
"""

from __future__ import annotations

import csv
import io

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from kehu.core.exports import safe_cell

from ..models import Customer
from . import mapping
from .models import ImportJob

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _table_bytes(
    rows: list[list[str]], fmt: str, title: str, help_rows: list[list[str]] | None = None
) -> bytes:
    if fmt == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(title=title[:31])
        for row in rows:
            sheet.append(row)
        if help_rows:
            notes = workbook.create_sheet(title=_("Help")[:31])
            for row in help_rows:
                notes.append(row)
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
    buffer = io.StringIO()
    buffer.write("\ufeff")  # Excel opens UTF-8 Chinese text correctly with a BOM
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def response(content: bytes, fmt: str, filename: str) -> HttpResponse:
    reply = HttpResponse(content, content_type=XLSX if fmt == "xlsx" else "text/csv; charset=utf-8")
    reply["Content-Disposition"] = content_disposition_header(True, f"{filename}.{fmt}")
    return reply


def error_report(job: ImportJob, phase: str, fmt: str) -> bytes:
    headers = list(job.headers)
    rows = [[*headers, _("Row"), _("Errors")]]
    width = len(headers)
    for issue in job.issues.filter(phase=phase).order_by("row_number").iterator(chunk_size=2000):
        values = list(issue.values) + [""] * max(0, width - len(issue.values))
        rows.append([safe_cell(v) for v in values] + [str(issue.row_number), safe_cell(issue.text)])
    return _table_bytes(rows, fmt, _("Rows not imported"))


def template(user, fmt: str) -> bytes:
    targets = [t for t in mapping.targets_for(user) if t.key != "id"]
    coercer = mapping.Coercer()
    help_rows = [[_("Column"), _("What to enter")]]
    for target in targets:
        help_rows.append([target.label, _describe(target, coercer)])
    return _table_bytes([[t.label for t in targets]], fmt, str(Customer._meta.verbose_name_plural), help_rows)


def _describe(target: mapping.Target, coercer: mapping.Coercer) -> str:
    key = target.key
    if key in coercer.choices:
        field = Customer._meta.get_field(key)
        return ", ".join(str(label) for _code, label in field.choices)
    return {
        "name": _("Required for new customers."),
        "phone": _("Any format; numbers without a country code are Chinese numbers."),
        "birthday": _("YYYY-MM-DD"),
        "account": _("Name or id of an organisation you can see; makes the row a contact person."),
        "owner": _("User name; empty: you."),
        "tags": _("Existing tag names, separated by commas."),
        "extra_phone": _("One or more, separated by commas or semicolons."),
        "extra_email": _("One or more, separated by commas or semicolons."),
    }.get(key, _("yes / no") if key.startswith("consent.") else "")
