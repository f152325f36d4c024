"""Exports of scoped querysets to CSV and XLSX, honouring field-level restrictions and custom fields.

Rows are streamed from the database with iterator() so large exports do not load everything in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

from . import audit, customfields
from .access import Access
from .models import AuditAction

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ExportColumn:
    name: str  # model field name, or "custom.<key>"
    label: str


def safe_cell(value) -> str:
    """Neutralise spreadsheet formula injection (values starting with = + - @)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def columns_for(model, field_names: list[str], *, user) -> list[ExportColumn]:
    hidden = Access.of(user).hidden_fields(model)
    cols = []
    for name in field_names:
        if name in hidden:
            continue
        field = model._meta.get_field(name)
        cols.append(ExportColumn(name, str(field.verbose_name)))
    if "custom" not in hidden and hasattr(model, "custom"):
        for d in customfields.definitions(model):
            cols.append(ExportColumn(f"custom.{d.key}", d.label))
    return cols


def _value(obj, name: str):
    if name.startswith("custom."):
        return (obj.custom or {}).get(name[7:])
    value = getattr(obj, name)
    if hasattr(obj, f"get_{name}_display"):
        return getattr(obj, f"get_{name}_display")()
    return value


def rows(qs: QuerySet, cols: list[ExportColumn]) -> Iterable[list[str]]:
    yield [c.label for c in cols]
    for obj in qs.iterator(chunk_size=2000):
        yield [safe_cell(_value(obj, c.name)) for c in cols]


class _Echo:
    def write(self, value):
        return value


def export_response(qs: QuerySet, cols: list[ExportColumn], *, fmt: str, filename: str, user) -> HttpResponse:
    audit.log(
        actor=user,
        action=AuditAction.EXPORT,
        model=qs.model._meta.label_lower,
        object_id="*",
        object_repr=filename,
        note=f"{fmt}",
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(title=filename[:31])
        for row in rows(qs, cols):
            ws.append(row)
        buffer = io.BytesIO()
        wb.save(buffer)
        response = HttpResponse(
            buffer.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.xlsx"'
        return response
    writer = csv.writer(_Echo())

    def stream():
        yield "\ufeff"  # BOM so that Excel opens UTF-8 Chinese text correctly
        for row in rows(qs, cols):
            yield writer.writerow(row)

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response
