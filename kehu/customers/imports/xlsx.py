"""Opening uploaded .xlsx workbooks: the ZIP archive is checked before openpyxl parses any of it.

An .xlsx file is a ZIP archive of XML parts. Python's zipfile never unpacks more of a part than its declared
size (a part that would unpack larger fails its CRC check), so the declared sizes bound the work. Refused,
with the reason:
- an archive that unpacks to more than KEHU_IMPORT_MAX_UNPACKED_BYTES in all;
- a part — or the archive as a whole, against the uploaded size — that unpacks to more than
  KEHU_IMPORT_MAX_COMPRESSION_RATIO times its packed size: ZIP bombs (real spreadsheets stay below about 30);
- a worksheet larger than KEHU_IMPORT_MAX_SHEET_BYTES (openpyxl reads worksheets as a stream);
- any other part larger than KEHU_IMPORT_MAX_PART_BYTES: openpyxl reads those whole into memory (the table of
  texts sharedStrings.xml, styles, the workbook), which takes several times their size.
A part only counts as a worksheet where worksheets are kept (xl/worksheets/*.xml) and if [Content_Types].xml
and the workbook do not make openpyxl read it whole as something else (its table of texts, a chart sheet).

openpyxl parses a whole <row> before handing it over, and keeps an (emptied) element for every row until the
end of the sheet — also when it merely looks for the sheet's size as the workbook opens. So the rows and the
cells of each row of every worksheet are counted from its bytes first (a second or two for the largest sheet
allowed, against tens of seconds of parsing): more <row> elements than the file may have rows
(limits.max_row_number) or a row with more cells than Excel's 16,384 columns is refused.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

from django.utils.translation import gettext as _

from .limits import (
    MAX_COLUMNS,
    MB,
    FileProblem,
    max_compression_ratio,
    max_part_bytes,
    max_row_number,
    max_sheet_bytes,
    max_unpacked_bytes,
    past_last_row,
)

WORKSHEET_PART = re.compile(r"xl/worksheets/[^/]+\.xml")
#: parts (and archives) that unpack to less than this are not checked for their compression ratio
RATIO_FLOOR = MB
#: Excel's last column is XFD
MAX_ROW_CELLS = 16_384
_PREFIX = rb"<(?:[A-Za-z_][\w.\-]{0,30}:)?"  # <row, <x:row (any namespace prefix)
ROW_TAG = re.compile(_PREFIX + rb"row[\s/>]")
CELL_TAG = re.compile(_PREFIX + rb"c[\s/>]")
#: longer than any tag start the two patterns match
_OVERLAP = 64


def _mb(size: float) -> str:
    return f"{size / MB:,.1f}"


def not_a_workbook() -> FileProblem:
    return FileProblem(
        _("This file is not a valid Excel workbook (.xlsx files are ZIP archives and this one is not).")
    )


def unreadable(exc: Exception) -> FileProblem:
    return FileProblem(
        _("The workbook could not be read (%(error)s). Open it in Excel and save it again.")
        % {"error": type(exc).__name__}
    )


def _read_whole(archive: zipfile.ZipFile, names: set[str]) -> set[str]:
    """The parts openpyxl reads whole even if they sit where worksheets do: those [Content_Types].xml declares
    as anything but a worksheet (the table of texts, the workbook…) and the workbook's chart sheets. Called once
    [Content_Types].xml and the relationship parts passed the part limit."""
    from openpyxl.packaging.manifest import Manifest
    from openpyxl.packaging.relationship import get_dependents, get_rels_path
    from openpyxl.xml.constants import ARC_CONTENT_TYPES, ARC_WORKBOOK, WORKSHEET_TYPE, XLSM, XLSX, XLTM, XLTX
    from openpyxl.xml.functions import fromstring

    if ARC_CONTENT_TYPES not in names:
        return set()  # openpyxl refuses such a file itself
    try:
        manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
        whole = {o.PartName[1:] for o in manifest.Override if o.ContentType != WORKSHEET_TYPE}
        workbooks = {o.PartName[1:] for o in manifest.Override if o.ContentType in (XLSX, XLSM, XLTX, XLTM)}
        for workbook in workbooks | {ARC_WORKBOOK}:
            rels = get_rels_path(workbook)
            if rels in names:
                whole |= {r.target for r in get_dependents(archive, rels) if "chartsheet" in r.Type}
    except Exception as exc:  # noqa: BLE001 - damaged XML raises many kinds
        raise unreadable(exc) from None
    return whole


def _too_large(part: str, size: int, limit: int, sheet: bool) -> FileProblem:
    sizes = {"part": part, "size": _mb(size), "limit": _mb(limit)}
    if sheet:
        message = _(
            "A sheet of the workbook (%(part)s) would take %(size)s MB once unpacked; at most %(limit)s MB per "
            "sheet can be imported. Split it into smaller files."
        )
    elif part.rsplit("/", 1)[-1].lower() == "sharedstrings.xml":
        message = _(
            "The table of texts of the workbook (%(part)s) would take %(size)s MB once unpacked; at most "
            "%(limit)s MB can be imported. Split the file into smaller files."
        )
    else:
        message = _(
            "The part %(part)s of the workbook would take %(size)s MB once unpacked; at most %(limit)s MB can be "
            "imported. Open the file in Excel, save it again, or split it into smaller files."
        )
    return FileProblem(message % sizes)


def check_archive(archive: zipfile.ZipFile, packed: int) -> None:
    """Refuse a workbook whose parts would take too much to unpack or parse (see the module's docstring)."""
    infos = archive.infolist()
    unpacked = sum(info.file_size for info in infos)
    if unpacked > max_unpacked_bytes():
        raise FileProblem(
            _(
                "The workbook would take %(size)s MB once unpacked; at most %(limit)s MB can be imported. "
                "Split it into smaller files."
            )
            % {"size": f"{unpacked / MB:,.0f}", "limit": f"{max_unpacked_bytes() / MB:,.0f}"}
        )
    ratio = max_compression_ratio()
    for info in infos:
        if info.file_size > RATIO_FLOOR and info.file_size > ratio * max(info.compress_size, 1):
            raise _bomb(info.filename, info.file_size / max(info.compress_size, 1), ratio)
    # many small parts, or parts sharing the same packed bytes, are caught by the ratio of the whole archive
    if unpacked > RATIO_FLOOR and unpacked > ratio * max(packed, 1):
        raise _bomb("", unpacked / max(packed, 1), ratio)
    candidates = {i.filename for i in infos if WORKSHEET_PART.fullmatch(i.filename)}
    for info in infos:
        if info.filename not in candidates and info.file_size > max_part_bytes():
            raise _too_large(info.filename, info.file_size, max_part_bytes(), sheet=False)
    whole = _read_whole(archive, {i.filename for i in infos}) if candidates else set()
    for info in infos:
        if info.filename in candidates:
            sheet = info.filename not in whole
            limit = max_sheet_bytes() if sheet else max_part_bytes()
            if info.file_size > limit:
                raise _too_large(info.filename, info.file_size, limit, sheet=sheet)
            if sheet:
                with archive.open(info) as part:
                    count_rows_and_cells(part)


def count_rows_and_cells(part, chunk_size: int = MB) -> tuple[int, int]:
    """Count the <row> elements of a worksheet and the <c> elements of each, without parsing it; refuse too
    many of either. A tag start is never cut in two: each chunk is scanned up to its last "<" (a tag start
    has no other "<" in it), the rest is carried over to the next chunk. Returns (rows, most cells in a row)."""
    limit = max_row_number()
    rows = cells = widest = 0
    carried = b""
    while True:
        chunk = part.read(chunk_size)
        data = carried + chunk
        stop = len(data)
        if chunk:
            last = data.rfind(b"<", max(0, len(data) - _OVERLAP))
            stop = last if last >= 0 else stop
        start = 0
        for match in ROW_TAG.finditer(data, 0, stop):
            cells += len(CELL_TAG.findall(data, start, match.start()))
            if cells > MAX_ROW_CELLS:
                raise _too_many_cells()
            widest = max(widest, cells)
            rows, cells, start = rows + 1, 0, match.start()
            if rows > limit:
                raise past_last_row()
        cells += len(CELL_TAG.findall(data, start, stop))
        if cells > MAX_ROW_CELLS:
            raise _too_many_cells()
        if not chunk:
            return rows, max(widest, cells)
        carried = data[stop:]


def _too_many_cells() -> FileProblem:
    return FileProblem(
        _(
            "A row of the workbook has more than %(limit)s cells, more than a spreadsheet can have. Open the "
            "file in Excel and save it again."
        )
        % {"limit": f"{MAX_ROW_CELLS:,}"}
    )


def _bomb(part: str, ratio: float, limit: int) -> FileProblem:
    values = {"part": part, "ratio": f"{ratio:,.0f}", "limit": limit}
    if part:
        message = _(
            "The part %(part)s of the workbook unpacks to %(ratio)s times its packed size; real spreadsheets "
            "are not compressed more than %(limit)s times, so the file is refused as a possible ZIP bomb."
        )
    else:
        message = _(
            "The workbook unpacks to %(ratio)s times the size of the file; real spreadsheets are not compressed "
            "more than %(limit)s times, so the file is refused as a possible ZIP bomb."
        )
    return FileProblem(message % values)


def open_workbook(data: bytes):
    """The workbook, read-only, once its archive passed check_archive."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError):
        raise not_a_workbook() from None
    with archive:
        if "xl/workbook.xml" not in set(archive.namelist()):
            raise FileProblem(_("This ZIP archive is not an Excel workbook (it has no xl/workbook.xml)."))
        check_archive(archive, len(data))
    from openpyxl import load_workbook

    try:
        # data_only=False: a formula cell gives its formula text, which is stored as text, never evaluated
        return load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on damaged files
        raise unreadable(exc) from None


def choose_sheet(names: list[str], sheet: str) -> str:
    """The sheet asked for (the first one if none was): a name the workbook does not have is refused."""
    if not names:
        raise FileProblem(_("The workbook has no sheets."))
    if not sheet:
        return names[0]
    if sheet not in names:
        raise FileProblem(
            _("The workbook has no sheet named “%(sheet)s”; its sheets are: %(sheets)s.")
            % {"sheet": sheet, "sheets": ", ".join(f"“{n}”" for n in names)}
        )
    return sheet


def records(workbook, sheet: str) -> Iterator[tuple[int, tuple]]:
    """(row number, cell values) of a sheet, row 1 first. Rows missing from the file come back empty (the
    caller stops at the last row number it allows); the cells of a row stop after MAX_COLUMNS + 1."""
    ws = workbook[choose_sheet(list(workbook.sheetnames), sheet)]
    if not hasattr(ws, "iter_rows"):
        raise FileProblem(_("The sheet “%(sheet)s” is a chart, not a table.") % {"sheet": ws.title})
    # the declared dimension may be wrong or hostile (A1:XFD1048576); read the rows that are really there
    ws.reset_dimensions()
    try:
        yield from enumerate(ws.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1), start=1)
    except FileProblem:
        raise
    except Exception as exc:  # noqa: BLE001
        raise FileProblem(
            _("The sheet could not be read (%(error)s). Open it in Excel and save it again.")
            % {"error": type(exc).__name__}
        ) from None
