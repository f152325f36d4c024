"""Hostile workbooks and CSV files are refused before they cost much: rows far down the sheet, parts that unpack
too large or too well (ZIP bombs), sheets that do not exist. The workbooks are written by hand (zipfile), so
each test says exactly what is in the file; none of them is more than a few kilobytes."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from kehu.customers.imports import reader, xlsx
from kehu.customers.imports.reader import FileProblem

from .importing import xlsx_bytes

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
TYPES = "application/vnd.openxmlformats-officedocument.spreadsheetml."
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def shared(ref: str, index: int) -> str:
    return f'<c r="{ref}" t="s"><v>{index}</v></c>'


def workbook(
    rows: str, *, strings: str | None = None, strings_part: str = "xl/sharedStrings.xml", extra=()
) -> bytes:
    """A minimal .xlsx: one sheet “客户” with the given <row> elements, optionally a table of texts (the <si>
    elements) kept at strings_part, and extra (name, content) parts."""
    overrides = [("xl/workbook.xml", "sheet.main+xml"), ("xl/worksheets/sheet1.xml", "worksheet+xml")]
    if strings is not None:
        overrides.append((strings_part, "sharedStrings+xml"))
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        + "".join(f'<Override PartName="/{part}" ContentType="{TYPES}{kind}"/>' for part, kind in overrides)
        + "</Types>"
    )
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    parts = {
        "[Content_Types].xml": content_types,
        "_rels/.rels": f'<Relationships xmlns="{package}"><Relationship Id="rId1" Type="{RELS}officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{RELS[:-1]}"><sheets>'
        '<sheet name="客户" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{package}">'
        f'<Relationship Id="rId1" Type="{RELS}worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN}"><sheetData>{rows}</sheetData></worksheet>',
    }
    if strings is not None:
        parts[strings_part] = f'<sst xmlns="{MAIN}">{strings}</sst>'
    parts.update(dict(extra))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


HEAD = f'<row r="1">{inline("A1", "名称")}{inline("B1", "城市")}</row>'


@pytest.fixture
def no_parsing(monkeypatch):
    """The guard must refuse from the archive's directory alone: openpyxl never gets the file."""

    def refuse(*args, **kwargs):
        raise AssertionError("openpyxl was asked to parse a file the guard should have refused")

    monkeypatch.setattr("openpyxl.load_workbook", refuse)


# --------------------------------------------------------------------------------------- row numbers
@pytest.fixture
def examined(monkeypatch):
    """Counts the rows the reader looks at, and stops a reader that walks past the last row allowed (so that a
    regression fails at once instead of walking 20 million blank rows)."""
    seen = []
    real = reader._trimmed

    def counting(cells):
        seen.append(1)
        assert len(seen) <= 2 * reader.max_rows() + 1, "the reader walked past the last row allowed"
        return real(cells)

    monkeypatch.setattr(reader, "_trimmed", counting)
    return seen


def test_a_row_far_down_the_sheet_is_refused_without_walking_the_gap(settings, examined):
    settings.KEHU_IMPORT_MAX_ROWS = 10
    data = workbook(
        HEAD + f'<row r="2">{inline("A2", "甲")}</row><row r="1048576">{inline("A1048576", "x")}</row>'
    )
    assert len(data) < 2000
    with pytest.raises(FileProblem) as error:
        reader.inspect(data, "gap.xlsx")
    assert "goes on past row 21, blank rows included; at most 10 rows can be imported" in str(error.value)
    assert len(examined) == 21


def test_with_the_default_limit_a_row_numbered_twenty_million_is_refused_too(examined):
    data = workbook(
        HEAD + f'<row r="2">{inline("A2", "甲")}</row><row r="20000000">{inline("A20000000", "x")}</row>'
    )
    with pytest.raises(FileProblem, match="goes on past row 400,001"):
        reader.inspect(data, "gap.xlsx")


def test_blank_rows_within_the_limit_are_skipped_and_rows_keep_their_numbers(settings):
    settings.KEHU_IMPORT_MAX_ROWS = 10
    data = workbook(HEAD + f'<row r="2">{inline("A2", "甲")}</row><row r="21">{inline("B21", "北京")}</row>')
    info = reader.inspect(data, "gap.xlsx")
    assert info.total_rows == 2
    assert list(reader.iter_rows(data, info)) == [(2, ["甲"]), (21, ["", "北京"])]


def test_a_csv_file_of_blank_lines_stops_at_the_last_row_allowed(settings):
    settings.KEHU_IMPORT_MAX_ROWS = 10
    assert reader.inspect("名称\n甲\n".encode() + b"\n" * 19, "a.csv").total_rows == 1
    with pytest.raises(FileProblem, match="goes on past row 21"):
        reader.inspect("名称\n甲\n".encode() + b"\n" * 20 + "乙\n".encode(), "a.csv")


def test_row_elements_are_counted_before_parsing_even_when_they_repeat_a_row_number(settings, no_parsing):
    """openpyxl skips a row whose number repeats one it has read, but parses it and keeps an element for it."""
    settings.KEHU_IMPORT_MAX_ROWS = 10
    data = workbook(HEAD + f'<row r="2">{inline("A2", "甲")}</row>' + '<row r="2"/>' * 20)
    with pytest.raises(FileProblem, match="goes on past row 21"):
        reader.inspect(data, "rows.xlsx")


def test_a_row_with_more_cells_than_excel_has_columns_is_refused_before_parsing(no_parsing):
    """openpyxl builds every cell of a row before giving the row back: one row can hold millions."""
    data = workbook(HEAD + '<row r="2">' + "<c/>" * 16_385 + "</row>")
    assert len(data) < 2000
    with pytest.raises(FileProblem, match="A row of the workbook has more than 16,384 cells"):
        reader.inspect(data, "wide.xlsx")


def test_rows_and_cells_are_counted_exactly_whatever_the_chunks():
    rng = random.Random(3)
    for _trial in range(50):
        rows, widest = [], 0
        for number in range(rng.randint(0, 20)):
            count = rng.randint(0, 9)
            widest = max(widest, count)
            row, cell = rng.choice(["row", "x:row", "main.ns-1:row"]), rng.choice(["c", "x:c"])
            cells = "".join(
                rng.choice([f'<{cell} r="A{number}"/>', f"<{cell}><v>1</v></{cell}>", f'<{cell}\tt="s"/>'])
                for _ in range(count)
            )
            rows.append(
                f'<{row} r="{number}">{cells}</{row}>' if count or rng.random() < 0.5 else f"<{row}/>"
            )
        sheet = (
            f"<worksheet><cols><col/></cols><sheetData>{''.join(rows)}</sheetData><rowBreaks/></worksheet>"
        )
        for chunk in (1, 5, 63, 64, 65, 4096):
            counted = xlsx.count_rows_and_cells(io.BytesIO(sheet.encode()), chunk)
            assert counted == (len(rows), widest), (chunk, sheet)


# ------------------------------------------------------------------------------------- part limits
def _texts(count: int) -> str:
    """Texts that do not compress much (a real table of texts)."""
    rng = random.Random(7)
    return "".join(f"<si><t>{rng.getrandbits(64):x}{rng.getrandbits(64):x}</t></si>" for _ in range(count))


def test_a_table_of_texts_larger_than_the_part_limit_is_refused_before_parsing(settings, no_parsing):
    settings.KEHU_IMPORT_MAX_PART_BYTES = 50_000
    data = workbook(HEAD + f'<row r="2">{shared("A2", 0)}</row>', strings=_texts(2000))
    with pytest.raises(FileProblem) as error:
        reader.inspect(data, "texts.xlsx")
    assert "The table of texts of the workbook (xl/sharedStrings.xml) would take 0.1 MB once unpacked" in str(
        error.value
    )


def test_a_table_of_texts_stored_where_sheets_are_gets_the_part_limit_not_the_sheet_limit(
    settings, no_parsing
):
    settings.KEHU_IMPORT_MAX_PART_BYTES = 50_000
    data = workbook(
        HEAD + f'<row r="2">{shared("A2", 0)}</row>', strings=_texts(2000), strings_part="xl/worksheets/s.xml"
    )
    with pytest.raises(FileProblem, match=r"The part xl/worksheets/s.xml of the workbook would take 0.1 MB"):
        reader.inspect(data, "texts.xlsx")


def test_a_sheet_larger_than_the_sheet_limit_is_refused_before_parsing(settings, no_parsing):
    settings.KEHU_IMPORT_MAX_SHEET_BYTES = 20_000
    data = xlsx_bytes([["名称"]] + [[f"客户{i}"] for i in range(1000)])
    with pytest.raises(FileProblem, match=r"A sheet of the workbook \(xl/worksheets/sheet1.xml\) would take"):
        reader.inspect(data, "big.xlsx")


def test_a_table_of_texts_that_unpacks_four_hundred_times_its_size_is_a_zip_bomb(no_parsing):
    data = workbook(HEAD + f'<row r="2">{shared("A2", 0)}</row>', strings="<si><t>a</t></si>" * 250_000)
    assert len(data) < 20_000  # 4 MB once unpacked
    with pytest.raises(FileProblem) as error:
        reader.inspect(data, "bomb.xlsx")
    assert "The part xl/sharedStrings.xml of the workbook unpacks to" in str(error.value)
    assert "not compressed more than 100 times" in str(error.value)


def test_many_small_parts_that_unpack_too_well_together_are_a_zip_bomb(no_parsing):
    filler = [(f"xl/media/pad{i}.xml", "<a/>" * 200_000) for i in range(3)]  # 0.8 MB each, under the floor
    data = workbook(HEAD + f'<row r="2">{inline("A2", "甲")}</row>', extra=filler)
    with pytest.raises(FileProblem, match="The workbook unpacks to .* times the size of the file"):
        reader.inspect(data, "bomb.xlsx")


def test_an_ordinary_workbook_passes_every_part_check():
    rows = [["名称", "备注"]] + [[f"客户{i}", "重复的备注" * 5] for i in range(3000)]
    info = reader.inspect(xlsx_bytes(rows), "ok.xlsx")
    assert info.total_rows == 3000


# -------------------------------------------------------------------------------------------- sheets
def test_a_sheet_the_workbook_does_not_have_is_refused_with_the_sheets_it_has():
    data = xlsx_bytes([["名称"], ["甲"]], sheets={"第二页": [["城市"], ["杭州"]]})
    with pytest.raises(FileProblem) as error:
        reader.inspect(data, "x.xlsx", sheet="第三页")
    assert str(error.value) == "The workbook has no sheet named “第三页”; its sheets are: “客户”, “第二页”."
    assert reader.inspect(data, "x.xlsx", sheet="第二页").headers == ["城市"]
    assert reader.inspect(data, "x.xlsx").sheet == "客户"


def test_the_first_values_of_each_column_are_kept_with_the_file_description():
    data = xlsx_bytes(
        [["名称", "城市", "备注"], ["甲", "北京"], [], ["乙", "上海", "x" * 500], ["丙"], ["丁"]]
    )
    info = reader.inspect(data, "x.xlsx")
    assert info.samples == [["甲", "乙", "丙"], ["北京", "上海", ""], ["", "x" * reader.SAMPLE_CHARS, ""]]
