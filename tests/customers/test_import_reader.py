"""Reading uploaded files: encodings, delimiters, workbooks, and hostile input — each refused with a specific
message at upload, before anything is written."""

from __future__ import annotations

import codecs
import io
import zipfile

import pytest

from kehu.customers.imports import reader
from kehu.customers.imports.reader import FileProblem

from .importing import csv_bytes, xlsx_bytes

ROWS = [
    ["姓名", "手机", "城市"],
    ["北京华信科技有限公司", "13812345678", "北京"],
    ["李娜", "+86 139-0000-1111", "上海"],
]


def rows_of(data: bytes, name: str = "f.csv", **kwargs):
    info = reader.inspect(data, name, **kwargs)
    return info, list(reader.iter_rows(data, info))


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (csv_bytes(ROWS), "utf-8"),
        (codecs.BOM_UTF8 + csv_bytes(ROWS), "utf-8"),
        (csv_bytes(ROWS, encoding="gb18030"), "gb18030"),
        (csv_bytes(ROWS, encoding="gbk"), "gb18030"),
        (csv_bytes(ROWS, encoding="utf-16"), "utf-16"),
    ],
    ids=["utf-8", "utf-8-bom", "gb18030", "gbk", "utf-16"],
)
def test_encodings_are_detected(data, encoding):
    info, rows = rows_of(data)
    assert info.encoding == encoding
    assert info.headers == ["姓名", "手机", "城市"]
    assert rows == [(2, ROWS[1]), (3, ROWS[2])]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(delimiter):
    rows = [["名称", "备注", "城市"], ["华信, 北京分公司", "a;b|c", "北京"], ["李娜", "", "上海"]]
    info, read = rows_of(csv_bytes(rows, delimiter=delimiter))
    assert info.delimiter == delimiter
    assert [r for _n, r in read] == [rows[1], ["李娜", "", "上海"]]


def test_the_user_may_choose_encoding_and_delimiter_and_a_wrong_choice_says_where_it_breaks():
    gbk = csv_bytes([["名称"], ["甲"], ["乙公司"]], encoding="gbk")
    info = reader.inspect(gbk, "f.csv", encoding="gb18030", delimiter="semicolon")
    assert (info.encoding, info.delimiter) == ("gb18030", ";")
    with pytest.raises(FileProblem) as error:
        reader.inspect(gbk, "f.csv", encoding="utf-8")
    assert "not valid UTF-8" in str(error.value) and "line 1" in str(error.value)
    assert "GB18030/GBK" in str(error.value)


def test_blank_lines_are_skipped_and_row_numbers_follow_the_file():
    data = '名称,城市\r\n\r\n甲,北京\r\n,\r\n"乙\n分部",上海\r\n'.encode()
    info, rows = rows_of(data)
    assert info.total_rows == 2
    assert rows == [(3, ["甲", "北京"]), (5, ["乙\n分部", "上海"])]


def test_xlsx_first_or_chosen_sheet_values_as_text_and_formulas_never_evaluated():
    import datetime as dt

    data = xlsx_bytes(
        [
            ["名称", "手机", "生日", "数字", "公式"],
            ["=cmd|' /C calc'!A0", 13812345678, dt.datetime(1990, 5, 1), 12.5, "=A2&B2"],
            ["'@SUM(1)", "+8613900001111", dt.date(1985, 1, 2), 3.0, True],
        ],
        sheets={"第二页": [["城市"], ["杭州"]]},
    )
    info, rows = rows_of(data, "x.xlsx")
    assert info.fmt == "xlsx" and info.sheets == ["客户", "第二页"] and info.sheet == "客户"
    assert rows[0] == (2, ["=cmd|' /C calc'!A0", "13812345678", "1990-05-01", "12.5", "=A2&B2"])
    assert rows[1] == (
        3,
        ["@SUM(1)", "+8613900001111", "1985-01-02", "3", "TRUE"],
    )  # export apostrophe stripped
    other, rows = rows_of(data, "x.xlsx", sheet="第二页")
    assert other.headers == ["城市"] and rows == [(2, ["杭州"])]


def test_a_workbook_renamed_csv_is_still_read_as_a_workbook():
    info, rows = rows_of(xlsx_bytes(ROWS), "customers.csv")
    assert info.fmt == "xlsx" and len(rows) == 2


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "a.csv", "The file is empty."),
        (csv_bytes([["姓名", "手机"]]), "a.csv", "a header row but no data rows"),
        (b"\r\n\r\n", "a.csv", "no rows"),
        (bytes(range(256)) * 40, "a.csv", "contains binary data"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10, "photo.csv", "contains binary data"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", "(.xls, Excel 97"),
        (b"%PDF-1.4 fake", "scan.csv", "PDF document"),
        ("名称,城市\n甲,北京\n".encode(), "a.xlsx", "not a valid Excel workbook"),
        (b"PK\x03\x04 this is not really a zip", "a.xlsx", "not a valid Excel workbook"),
        (b"name,city\n\x80\xff,x\n", "a.csv", "could not be recognised"),
    ],
    ids=[
        "empty",
        "headers-only",
        "blank-lines-only",
        "binary",
        "png",
        "xls",
        "pdf",
        "text-named-xlsx",
        "broken-zip",
        "undecodable",
    ],
)
def test_hostile_files_get_a_specific_message(data, name, message):
    with pytest.raises(FileProblem) as error:
        reader.inspect(data, name)
    assert message in str(error.value)


def test_a_zip_that_is_not_a_workbook():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(FileProblem, match="not an Excel workbook"):
        reader.inspect(buffer.getvalue(), "a.xlsx")


def test_a_cell_longer_than_a_csv_value_names_the_row():
    data = "名称,备注\n甲,短\n乙,".encode() + b'"' + b"x" * 200_000 + b'"\n'
    with pytest.raises(FileProblem, match="Row 3: a cell is longer than 131,072 characters"):
        reader.inspect(data, "a.csv")


def test_size_row_and_column_limits(settings):
    settings.KEHU_IMPORT_MAX_ROWS = 3
    rows = [["名称"]] + [[f"客户{i}"] for i in range(4)]
    with pytest.raises(FileProblem, match="more than 3 rows"):
        reader.inspect(csv_bytes(rows), "a.csv")
    settings.KEHU_IMPORT_MAX_BYTES = 100
    with pytest.raises(FileProblem, match="at most 0 MB"):
        reader.inspect(b"x" * 101, "a.csv")
    del settings.KEHU_IMPORT_MAX_BYTES
    wide = [[f"c{i}" for i in range(reader.MAX_COLUMNS + 1)], ["v"] * 3]
    with pytest.raises(FileProblem, match="more than 200 columns"):
        reader.inspect(csv_bytes(wide), "a.csv")
    with pytest.raises(FileProblem, match="Row 2 has more than 200 cells"):
        reader.inspect(csv_bytes([["a", "b"], ["v"] * 201]), "a.csv")


def _with_dimension(data: bytes, ref: str) -> bytes:
    """The same workbook with a forged <dimension ref=...> in its sheet."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                import re

                content = re.sub(
                    rb'<dimension ref="[^"]*" ?/>', f'<dimension ref="{ref}"/>'.encode(), content
                )
                assert ref.encode() in content
            target.writestr(item, content)
    return out.getvalue()


def test_a_forged_huge_sheet_dimension_reads_only_the_rows_that_exist():
    data = _with_dimension(xlsx_bytes(ROWS), "A1:XFD1048576")
    info, rows = rows_of(data, "big.xlsx")
    assert info.total_rows == 2 and info.headers == ROWS[0]
    assert rows == [(2, ROWS[1]), (3, ROWS[2])]


def test_a_workbook_that_unpacks_too_large_is_refused_before_it_is_parsed(settings):
    settings.KEHU_IMPORT_MAX_UNPACKED_BYTES = 200_000
    rows = [["名称", "备注"]] + [[f"客户{i}", "重复的备注" * 20] for i in range(2000)]
    data = xlsx_bytes(rows)
    assert len(data) < 200_000  # small on disk, large once unpacked: a ZIP bomb in miniature
    with pytest.raises(FileProblem, match="once unpacked; at most 0 MB"):
        reader.inspect(data, "bomb.xlsx")


def test_column_letters():
    assert [reader.column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == ["A", "Z", "AA", "AB", "ZZ", "AAA"]
