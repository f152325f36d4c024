"""Files the import gives back: the error report (bad rows as they were, plus row number and reasons, so the
user fixes them and imports just those) and the empty template with the right headers.

Every cell — headers included — goes through the export's formula guard, so a hostile value or column name
from the uploaded file cannot run as a formula when the report is opened in Excel; the import strips that
apostrophe again. The error report can be 200,000 rows of 200 columns: it is streamed (CSV) or written by
openpyxl's write-only mode to a temporary file that is sent in chunks (XLSX), never held in memory.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from kehu.core.exports import safe_cell

from ..models import Customer
from . import mapping
from .models import ImportJob

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


class _Echo:
    """A file that gives back what is written to it (csv.writer → one line at a time)."""

    def write(self, value: str) -> str:
        return value


def _safe(row: Iterable) -> list[str]:
    return [safe_cell(v) for v in row]


def _write_xlsx(target, sheets: list[tuple[str, Iterable[list[str]]]]) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)  # rows go to a temporary file, not to memory
    for title, rows in sheets:
        sheet = workbook.create_sheet(title=title[:31])
        for row in rows:
            sheet.append(row)
    workbook.save(target)


def _table_bytes(
    rows: list[list[str]], fmt: str, title: str, help_rows: list[list[str]] | None = None
) -> bytes:
    """A small table (the template) as file content."""
    rows = [_safe(row) for row in rows]
    if fmt == "xlsx":
        buffer = io.BytesIO()
        _write_xlsx(
            buffer, [(title, rows)] + ([(_("Help"), [_safe(r) for r in help_rows])] if help_rows else [])
        )
        return buffer.getvalue()
    buffer = io.StringIO()
    buffer.write("\ufeff")  # Excel opens UTF-8 Chinese text correctly with a BOM
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def response(content: bytes, fmt: str, filename: str) -> HttpResponse:
    reply = HttpResponse(content, content_type=XLSX if fmt == "xlsx" else CSV)
    reply["Content-Disposition"] = content_disposition_header(True, f"{filename}.{fmt}")
    return reply


def _error_rows(job: ImportJob, phase: str) -> Iterator[list[str]]:
    width = len(job.headers)
    for issue in job.issues.filter(phase=phase).order_by("row_number").iterator(chunk_size=2000):
        values = list(issue.values) + [""] * max(0, width - len(issue.values))
        yield _safe(values) + [str(issue.row_number), safe_cell(issue.text)]


def error_report(job: ImportJob, phase: str, fmt: str, filename: str) -> StreamingHttpResponse | FileResponse:
    """The rows of a pass that were not imported, as a download: their cells as read from the file, then the
    row number and the reasons. The header row is made here, in the request's language."""
    header = _safe([*job.headers, _("Row"), _("Errors")])
    if fmt == "xlsx":
        file = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes (and so deletes) it
        _write_xlsx(file, [(_("Rows not imported"), _rows_after(header, _error_rows(job, phase)))])
        file.seek(0)
        return FileResponse(file, as_attachment=True, filename=f"{filename}.xlsx", content_type=XLSX)
    writer = csv.writer(_Echo())
    lines = (writer.writerow(row) for row in _rows_after(header, _error_rows(job, phase)))
    reply = StreamingHttpResponse(_rows_after("\ufeff", lines), content_type=CSV)
    reply["Content-Disposition"] = content_disposition_header(True, f"{filename}.csv")
    return reply


def _rows_after(first, rest: Iterable) -> Iterator:
    yield first
    yield from rest


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
        "birthday": _("A date: 1990-05-01, 1990/5/1, 1990.5.1, 1990年5月1日 or 19900501."),
        "id_number": _(
            "18 characters, the last a digit or X; checked, then kept only as a hash and a masked form "
            "(1101**********1234). Fills an empty date of birth."
        ),
        "account": _("Name or id of an organisation you can see; makes the row a contact person."),
        "owner": _("User name; empty: you."),
        "tags": _("Existing tag names, separated by commas."),
        "address": _(
            "One line; province, city and district are kept apart where written (江苏省苏州市工业园区星湖街328号)."
        ),
        "postcode": _("6 digits; kept with the address of the same row."),
        "extra_phone": _("One or more, separated by commas or semicolons."),
        "extra_email": _("One or more, separated by commas or semicolons."),
    }.get(key, _("yes / no") if key.startswith("consent.") else "")
