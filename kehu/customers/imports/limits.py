"""What an uploaded file may be: its size, rows, columns and, for workbooks, the size of what it unpacks to.
Every limit is a setting (docs/deployment.md); a file beyond one is refused with a FileProblem."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

MB = 1024 * 1024
MAX_COLUMNS = 200
#: how many first values of each column the mapping page shows (kept on the job when the file is read)
SAMPLE_ROWS = 3


class FileProblem(ValueError):
    """The file cannot be imported; the message tells the user why and what to do."""


def max_bytes() -> int:
    return getattr(settings, "KEHU_IMPORT_MAX_BYTES", 50 * MB)


def max_rows() -> int:
    """Data rows (blank rows do not count)."""
    return getattr(settings, "KEHU_IMPORT_MAX_ROWS", 200_000)


def max_row_number() -> int:
    """The last row of the file that may hold anything, blank rows included: the header and twice the data
    rows allowed. Blank rows cost time too (a workbook can name row 1,048,576 and have nothing above it)."""
    return 2 * max_rows() + 1


def past_last_row() -> FileProblem:
    return FileProblem(
        _(
            "The file goes on past row %(limit)s, blank rows included; at most %(rows)s rows can be "
            "imported. If the rows below your data look empty, delete them in your spreadsheet program "
            "and save the file again, or split it into smaller files."
        )
        % {"limit": f"{max_row_number():,}", "rows": f"{max_rows():,}"}
    )


def max_unpacked_bytes() -> int:
    """How large the parts inside an .xlsx may be together when unpacked (a guard against ZIP bombs)."""
    return getattr(settings, "KEHU_IMPORT_MAX_UNPACKED_BYTES", 600 * MB)


def max_sheet_bytes() -> int:
    """How large one worksheet of an .xlsx may be unpacked (openpyxl reads it as a stream)."""
    return getattr(settings, "KEHU_IMPORT_MAX_SHEET_BYTES", 256 * MB)


def max_part_bytes() -> int:
    """How large any other part of an .xlsx may be unpacked — the table of texts (sharedStrings.xml), styles,
    the workbook — which openpyxl reads whole into memory (several times their size)."""
    return getattr(settings, "KEHU_IMPORT_MAX_PART_BYTES", 64 * MB)


def max_compression_ratio() -> int:
    """How many times its packed size a part (or the whole archive) may unpack to. Real spreadsheets stay
    below about 30; ZIP bombs reach 1,000."""
    return getattr(settings, "KEHU_IMPORT_MAX_COMPRESSION_RATIO", 100)
