"""Reading uploaded CSV and XLSX files: format, encoding and delimiter detection, limits, and rows as text.

Everything a file can get wrong is a FileProblem with a message that says what and where (which row, which
byte), raised when the file is uploaded — the file is read completely then, so a run never meets a broken
file halfway. The work is bounded before it starts: workbooks are checked as archives first (xlsx.py), and no
file may go on past row limits.max_row_number(), blank rows included. Cells come back as text: spreadsheet
formulas are their formula text (never evaluated), numbers without a trailing ".0", dates as YYYY-MM-DD, and
the apostrophe Kehu's exports put before = + - @ is removed, so an exported file imports back as it was —
which is why every file Kehu writes puts it back (kehu.core.exports.safe_cell), headers included.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from kehu.core.exports import FORMULA_PREFIXES

from .. import normalize
from . import xlsx
from .limits import (  # noqa: F401 - the limits are read through this module too
    MAX_COLUMNS,
    SAMPLE_ROWS,
    FileProblem,
    max_bytes,
    max_row_number,
    max_rows,
    max_unpacked_bytes,
    past_last_row,
)

ENCODINGS = ("auto", "utf-8", "gb18030", "utf-16")
DELIMITERS = {"auto": "", "comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
#: sample values are cut to this many characters (the mapping page shows 40)
SAMPLE_CHARS = 200


@dataclass
class FileInfo:
    fmt: str
    encoding: str = ""
    delimiter: str = ""
    sheets: list[str] = field(default_factory=list)
    sheet: str = ""
    headers: list[str] = field(default_factory=list)
    total_rows: int = 0
    #: the first SAMPLE_ROWS values of each column, one list per header
    samples: list[list[str]] = field(default_factory=list)
    #: the row that names the columns (as the spreadsheet numbers it); 0 = the first non-blank row
    header_row: int = 0
    #: per column, what its day/month dates say (_column_order)
    date_orders: list[str] = field(default_factory=list)
    #: per column, its distinct values with their counts, most frequent first (at most DISTINCT_VALUES)
    distinct: list[list[list]] = field(default_factory=list)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA (as spreadsheets name columns)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if hasattr(value, "text") and not isinstance(value, str):  # openpyxl ArrayFormula / DataTableFormula
        value = value.text or ""
    text = str(value)
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_PREFIXES:
        text = text[1:]  # the apostrophe Kehu's exports add against formula injection
    return text.strip()


def _clean_header(value) -> str:
    return " ".join(cell_text(value).replace("\ufeff", "").split())


def detect_format(data: bytes, filename: str) -> str:
    """csv or xlsx, from the content first (a workbook renamed .csv is still a workbook), else refuse."""
    if not data:
        raise FileProblem(_("The file is empty."))
    head = data[:8]
    name = filename.lower()
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(
            _("Old Excel files (.xls, Excel 97–2003) cannot be imported: save the file as .xlsx or CSV.")
        )
    if head.startswith(b"%PDF"):
        raise FileProblem(_("This is a PDF document, not a spreadsheet: upload a CSV or .xlsx file."))
    if name.endswith((".xlsx", ".xlsm")):
        raise FileProblem(
            _("This file is not a valid Excel workbook (.xlsx files are ZIP archives and this one is not).")
        )
    return "csv"


# ----------------------------------------------------------------------------------------------- CSV
def _binary_problem() -> FileProblem:
    return FileProblem(
        _(
            "This file contains binary data, so it is not a CSV text file. If it is a spreadsheet, save it "
            "as .xlsx or as “CSV UTF-8” and upload that."
        )
    )


def _line_of(data: bytes, position: int) -> int:
    return data.count(b"\n", 0, position) + 1


def decode(data: bytes, encoding: str = "auto") -> tuple[str, str]:
    """Text of a CSV file and the encoding used. auto: BOM, else UTF-8, else GB18030 (a superset of GBK,
    what Chinese Excel writes)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and encoding in ("auto", "utf-16"):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise FileProblem(
                _("The file is not valid UTF-16 text (line %(line)d).") % {"line": _line_of(data, exc.start)}
            ) from None
    if encoding == "utf-16":
        raise FileProblem(_("The file is not UTF-16 text (it has no UTF-16 byte order mark)."))
    if b"\x00" in data[:65536]:
        raise _binary_problem()
    if data.startswith(codecs.BOM_UTF8) and encoding in ("auto", "utf-8"):
        encoding = "utf-8"
    candidates = ["utf-8", "gb18030"] if encoding == "auto" else [encoding]
    failure = None
    for candidate in candidates:
        try:
            if candidate == "utf-8":
                text = data.decode("utf-8-sig")
            else:
                text = data.decode(candidate, errors=EURO_ERRORS)
        except UnicodeDecodeError as exc:
            failure = (candidate, exc.start)
            if encoding != "auto":
                other = "GB18030/GBK" if candidate == "utf-8" else "UTF-8"
                raise FileProblem(
                    _(
                        "The file is not valid %(encoding)s text: byte %(byte)d (line %(line)d) cannot be "
                        "read. Choose another encoding, e.g. %(other)s."
                    )
                    % {
                        "encoding": candidate.upper(),
                        "byte": exc.start + 1,
                        "line": _line_of(data, exc.start),
                        "other": other,
                    }
                ) from None
            continue
        return text, candidate
    position = failure[1] if failure else 0
    raise FileProblem(
        _(
            "The encoding of this file could not be recognised (it is neither UTF-8 nor GB18030/GBK: byte "
            "%(byte)d, line %(line)d, cannot be read as either). Save it from Excel as “CSV UTF-8” or choose "
            "the encoding."
        )
        % {"byte": position + 1, "line": _line_of(data, position)}
    )


#: decoding error handler: a lone byte 0x80 is how Windows code page 936 (GBK) writes €; Python's GBK and
#: GB18030 codecs refuse it, so it is read as € and every other undecodable byte still fails
EURO_ERRORS = "kehu-cp936-euro"


def _euro(exc: UnicodeDecodeError):
    if isinstance(exc, UnicodeDecodeError) and exc.object[exc.start] == 0x80:
        return "€", exc.start + 1
    raise exc


codecs.register_error(EURO_ERRORS, _euro)


def sniff_delimiter(text: str) -> str:
    """The candidate that splits the first lines into the most columns, consistently."""
    sample = text[:65536]
    best, best_score = ",", (0, 0.0)
    for delimiter in (",", ";", "\t", "|"):
        widths = []
        try:
            for row in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter):
                if any(c.strip() for c in row):
                    widths.append(len(row))
                if len(widths) >= 30:
                    break
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        consistent = sum(1 for w in widths if w == widths[0]) / len(widths)
        score = (1 if consistent >= 0.8 else 0, widths[0] * consistent)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, raw cells), row 1 = the first record, as a spreadsheet shows the file."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            message = str(exc)
            if "field larger than field limit" in message:
                raise FileProblem(
                    _("Row %(row)d: a cell is longer than %(limit)s characters, which is not a CSV value.")
                    % {"row": number + 1, "limit": f"{csv.field_size_limit():,}"}
                ) from None
            raise FileProblem(
                _("Row %(row)d cannot be read as CSV (%(error)s).") % {"row": number + 1, "error": message}
            ) from None
        number += 1
        yield number, row


# ------------------------------------------------------------------------------------------ the API
def _bounded(records: Iterable[tuple[int, Sequence]]) -> Iterator[tuple[int, Sequence]]:
    """The records up to the last row a file may use: a file that goes on is refused, blank rows or not."""
    limit = max_row_number()
    for number, cells in records:
        if number > limit:
            raise past_last_row()
        yield number, cells


def _xlsx_records(data: bytes, sheet: str) -> Iterator[tuple[int, Sequence]]:
    workbook = xlsx.open_workbook(data)
    try:
        yield from xlsx.records(workbook, sheet)
    finally:
        workbook.close()


def _records(data: bytes, info: FileInfo) -> Iterator[tuple[int, Sequence]]:
    if info.fmt == "xlsx":
        return _bounded(_xlsx_records(data, info.sheet))
    text, _used = decode(data, info.encoding or "auto")
    return _bounded(_csv_records(text, info.delimiter or ","))


class Cells(list):
    """The cells of a row as text, up to its last value; `width`: how many cells a CSV line had, empty ones
    included (None for a workbook, whose rows have no width of their own)."""

    def __init__(self, values, width: int | None = None) -> None:
        super().__init__(values)
        self.width = width


def _trimmed(cells: Sequence) -> list[str]:
    if cells.count(None) == len(cells):
        return []  # a blank row of a workbook (cheap: a hostile one can have many)
    values = [cell_text(c) for c in cells]
    while values and values[-1] == "":
        values.pop()
    return values


def inspect(
    data: bytes,
    filename: str,
    *,
    encoding: str = "auto",
    delimiter: str = "auto",
    sheet: str = "",
    header_row: int = 0,
) -> FileInfo:
    """Check the whole file and describe it: format, encoding, delimiter, sheets, headers, rows.
    Raises FileProblem with a specific message."""
    if len(data) > max_bytes():
        raise FileProblem(
            _("The file is %(size)s MB; at most %(limit)s MB can be imported. Split it into smaller files.")
            % {"size": f"{len(data) / 1048576:,.1f}", "limit": f"{max_bytes() / 1048576:,.0f}"}
        )
    info = FileInfo(fmt=detect_format(data, filename))
    if info.fmt == "xlsx":
        workbook = xlsx.open_workbook(data)  # once: its sheets and the rows of the one chosen
        try:
            info.sheets = list(workbook.sheetnames)
            info.sheet = xlsx.choose_sheet(info.sheets, sheet)
            _scan(info, _bounded(xlsx.records(workbook, info.sheet)), header_row)
        finally:
            workbook.close()
        return info
    if encoding not in ENCODINGS:
        raise FileProblem(_("Unknown encoding “%(encoding)s”.") % {"encoding": encoding})
    text, info.encoding = decode(data, encoding)
    if delimiter not in DELIMITERS:
        raise FileProblem(_("Unknown delimiter “%(delimiter)s”.") % {"delimiter": delimiter})
    info.delimiter = DELIMITERS[delimiter] or sniff_delimiter(text)
    _scan(info, _bounded(_csv_records(text, info.delimiter)), header_row)
    return info


#: distinct values kept per column (for the value-mapping step of choice columns), and their longest text
DISTINCT_VALUES = 100
DISTINCT_CHARS = 100
#: title rows above the header are looked for among this many first non-blank rows
HEADER_SEARCH = 10


def _filled(values: list[str]) -> int:
    return sum(1 for v in values if v)


def detect_header(rows: list[tuple[int, list[str]]]) -> int:
    """The row number of the header among the first non-blank rows: title rows above it — a merged title cell
    of a workbook, a "客户导出 2023-05-01" line, each one filled cell — are passed over when a later row fills
    two or more. A file of one column starts with its header."""
    if not rows:
        return 0
    for number, values in rows:
        if _filled(values) >= 2:
            return number
    return rows[0][0]


def _scan(info: FileInfo, records: Iterable[tuple[int, Sequence]], header_row: int = 0) -> None:
    """Headers, data rows and the first values of each column into info; every limit checked. The header is
    row `header_row` (a row number as the spreadsheet shows it), or detected (detect_header) when 0."""
    first: list[list[str]] = []
    leading: list[tuple[int, list[str]]] = []  # the first non-blank rows, until the header is known
    orders: list[set[str]] = []
    distinct: list[dict[str, int]] = []

    def data_row(number: int, values: list[str]) -> None:
        if len(values) > MAX_COLUMNS:
            raise FileProblem(
                _("Row %(row)d has more than %(n)d cells; at most %(n)d columns can be imported.")
                % {"row": number, "n": MAX_COLUMNS}
            )
        info.total_rows += 1
        if info.total_rows > max_rows():
            raise FileProblem(
                _("The file has more than %(limit)s rows; split it into files of at most %(limit)s rows.")
                % {"limit": f"{max_rows():,}"}
            )
        if len(first) < SAMPLE_ROWS:
            first.append(values)
        for index, value in enumerate(values[: len(orders)]):
            if value and len(value) <= DISTINCT_CHARS:
                counts = distinct[index]
                if value in counts:
                    counts[value] += 1
                elif len(counts) < DISTINCT_VALUES:
                    counts[value] = 1
            if value and value[0].isdigit() and len(orders[index]) < 3:
                order = normalize.date_order_of(value)
                if order:
                    orders[index].add(order)

    def set_header(number: int, values: list[str]) -> None:
        if len(values) > MAX_COLUMNS:
            raise FileProblem(
                _("The file has more than %(n)d columns; at most %(n)d can be imported.") % {"n": MAX_COLUMNS}
            )
        info.header_row = number
        info.headers = [_clean_header(v) for v in values]
        orders.extend(set() for _h in info.headers)
        distinct.extend({} for _h in info.headers)

    def settle() -> None:
        number = detect_header(leading)
        for row_number, values in leading:
            if row_number == number:
                set_header(row_number, values)
            elif info.header_row:
                data_row(row_number, values)
        leading.clear()

    for number, cells in records:
        values = _trimmed(cells)
        if not values:
            continue
        if info.header_row:
            data_row(number, values)
        elif header_row:
            if number == header_row:
                set_header(number, values)
        else:
            leading.append((number, values))
            if len(leading) >= HEADER_SEARCH:
                settle()
    if leading:
        settle()
    if not info.header_row:
        if header_row:
            raise FileProblem(
                _("Row %(row)d of the file is empty: it cannot name the columns.") % {"row": header_row}
            )
        raise FileProblem(_("The file has no rows: the first row must name the columns."))
    if not info.total_rows:
        raise FileProblem(_("The file has a header row but no data rows."))
    info.samples = [
        [row[i][:SAMPLE_CHARS] if i < len(row) else "" for row in first] for i in range(len(info.headers))
    ]
    info.date_orders = [_column_order(found) for found in orders]
    info.distinct = [
        [[value, n] for value, n in sorted(counts.items(), key=lambda item: -item[1])] for counts in distinct
    ]


def _column_order(found: set[str]) -> str:
    """What the day/month values of a column say: dmy or mdy (settled by a value such as 25/04/2023), ask
    (every one could be either), mixed (values settle both orders), or '' (no such values)."""
    settled = found & {"dmy", "mdy"}
    if len(settled) == 2:
        return "mixed"
    if settled:
        return next(iter(settled))
    return "ask" if found else ""


def iter_rows(data: bytes, info: FileInfo, *, skip: int = 0) -> Iterator[tuple[int, list[str]]]:
    """The data rows (not blank ones, none above the header row) as (row number, cells as text), after
    skipping `skip` of them. The cells stop at the last value; a CSV row also says how many cells the file
    gave it (Cells.width), so that a short row can be reported."""
    header_found = False
    seen = 0
    for number, cells in _records(data, info):
        if info.header_row and number <= info.header_row:
            header_found = True
            continue
        values = _trimmed(cells)
        if not values:
            continue
        if not header_found:
            header_found = True
            continue
        seen += 1
        if seen <= skip:
            continue
        yield number, Cells(values, width=len(cells) if info.fmt == "csv" else None)
