"""What the import pages and API do with the uploaded file: the mapping page reads only what was kept on the job
when the file was read, a wrong sheet is refused with the sheets there are, and the error reports are streamed
with every header and cell neutralised against formula injection."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from kehu.core.models import CustomField, Scope
from kehu.customers.imports import reader, report, services, xlsx

from .importing import configure, import_rows, run, upload, xlsx_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(make_user):
    return make_user(
        "customers.customer", actions=("view", "add", "change", "delete", "import"), read=Scope.OWN
    )


def _never(*args, **kwargs):
    raise AssertionError("the file was read")


def test_the_mapping_page_shows_the_first_values_without_reading_the_file(rep, client_for, monkeypatch):
    rows = [
        ["名称", "城市", "备注"],
        ["甲公司", "北京"],
        ["乙公司", "上海", "老客户"],
        ["丙", "杭州"],
        ["丁", "广州"],
    ]
    job = upload(rep, xlsx_bytes(rows), "名单.xlsx")
    assert job.samples == [["甲公司", "乙公司", "丙"], ["北京", "上海", "杭州"], ["", "老客户", ""]]
    for module, name in ((reader, "inspect"), (reader, "iter_rows"), (xlsx, "open_workbook")):
        monkeypatch.setattr(module, name, _never)
    monkeypatch.setattr(services, "file_content", _never)
    client = client_for(rep)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(f"/customers/imports/{job.pk}/mapping/")
    assert page.status_code == 200
    text = page.content.decode()
    assert all(value in text for value in ("甲公司", "乙公司", "丙", "杭州", "老客户")) and "广州" not in text
    assert not [q["sql"] for q in queries.captured_queries if "importfile" in q["sql"].lower()]


def test_reading_the_file_again_keeps_the_first_values_of_the_new_sheet(rep, client_for):
    data = xlsx_bytes([["名称"], ["甲"]], sheets={"第二页": [["城市", "电话"], ["杭州", "13812345678"]]})
    job = upload(rep, data, "x.xlsx")
    client = client_for(rep)
    client.post(f"/customers/imports/{job.pk}/file/", {"sheet": "第二页"})
    job.refresh_from_db()
    assert job.sheet == "第二页" and job.samples == [["杭州"], ["13812345678"]]
    page = client.get(f"/customers/imports/{job.pk}/mapping/").content.decode()
    assert "13812345678" in page


def test_a_sheet_the_file_does_not_have_is_refused_on_upload_and_reread(rep, client_for, api_for):
    data = xlsx_bytes([["名称"], ["甲"]], sheets={"第二页": [["城市"], ["杭州"]]})
    api = api_for(rep)
    refused = api.post("/api/imports/", {"file": io.BytesIO(data), "sheet": "Sheet1"}, format="multipart")
    assert refused.status_code == 400
    assert refused.json()["file"] == [
        "The workbook has no sheet named “Sheet1”; its sheets are: “客户”, “第二页”."
    ]
    job = upload(rep, data, "x.xlsx")
    reread = api.post(f"/api/imports/{job.pk}/file/", {"sheet": "第三页"}, format="json")
    assert reread.status_code == 400 and "its sheets are: “客户”, “第二页”" in reread.json()["file"][0]
    job.refresh_from_db()
    assert job.sheet == "客户"
    client = client_for(rep)
    response = client.post(f"/customers/imports/{job.pk}/file/", {"sheet": "第三页"}, follow=True)
    assert "no sheet named “第三页”" in response.content.decode()


HOSTILE = "=1+cmd|' /C calc'!A0"


@pytest.mark.parametrize("header", [HOSTILE, "'" + HOSTILE], ids=["bare", "with-export-apostrophe"])
def test_a_hostile_column_name_is_neutralised_in_both_error_reports(rep, client_for, api_for, header):
    job = import_rows(
        rep, [["名称", "电话", header], ["甲公司", "123", "=2+2"], ["乙公司", "13812345678", ""]]
    )
    assert job.failed == 1 and job.headers[2] == HOSTILE  # read back without the apostrophe…
    client = client_for(rep)
    reply = client.get(f"/customers/imports/{job.pk}/errors.csv")
    table = list(csv.reader(io.StringIO(reply.getvalue().decode("utf-8-sig"))))
    assert table[0] == ["名称", "电话", "'" + HOSTILE, "Row", "Errors"]  # …and written out with it again
    assert table[1][:4] == ["甲公司", "123", "'=2+2", "2"]
    for reply in (
        client.get(f"/customers/imports/{job.pk}/errors.xlsx"),
        api_for(rep).get(f"/api/imports/{job.pk}/error-report/"),
    ):
        sheet = load_workbook(io.BytesIO(reply.getvalue())).active
        assert [c.data_type for c in sheet[1]] == ["s"] * 5 and [c.data_type for c in sheet[2]][:3] == [
            "s"
        ] * 3
        assert sheet["C1"].value == "'" + HOSTILE and sheet["C2"].value == "'=2+2"


def test_template_headers_are_neutralised_too(rep, client_for):
    CustomField.objects.create(
        model="customers.customer", key="level", label="=HYPERLINK(1)", field_type="text"
    )
    client = client_for(rep)
    assert "'=HYPERLINK(1)" in client.get("/customers/imports/template.csv").content.decode("utf-8-sig")
    sheet = load_workbook(io.BytesIO(client.get("/customers/imports/template.xlsx").content)).active
    cell = next(c for c in sheet[1] if "HYPERLINK" in str(c.value))
    assert cell.data_type == "s" and cell.value == "'=HYPERLINK(1)"


def test_the_error_reports_are_streamed_not_built_in_memory(rep, client_for, api_for):
    rows = [["名称", "电话"]] + [[f"公司{i}", "123"] for i in range(300)]
    job = import_rows(rep, rows)
    assert job.failed == 300
    client = client_for(rep)
    with CaptureQueriesContext(connection) as queries:
        reply = client.get(f"/customers/imports/{job.pk}/errors.csv")
    # the response is on its way before a single bad row was read: rows are read as it is sent
    assert reply.streaming and not [q for q in queries.captured_queries if "importissue" in q["sql"].lower()]
    assert reply["Content-Disposition"] == f'attachment; filename="import-{job.pk}-run-errors.csv"'
    lines = reply.getvalue().decode("utf-8-sig").splitlines()
    assert (
        len(lines) == 301 and lines[1].startswith("公司0,123,2,") and lines[-1].startswith("公司299,123,301,")
    )
    for reply in (
        client.get(f"/customers/imports/{job.pk}/errors.xlsx"),
        api_for(rep).get(f"/api/imports/{job.pk}/error-report/", {"file_format": "xlsx"}),
    ):
        assert reply.streaming and reply["Content-Type"] == report.XLSX
        assert reply["Content-Disposition"] == f'attachment; filename="import-{job.pk}-run-errors.xlsx"'
        sheet = load_workbook(io.BytesIO(reply.getvalue()), read_only=True).active
        values = list(sheet.iter_rows(values_only=True))
        assert len(values) == 301 and values[-1][:3] == ("公司299", "123", "301")
    api = api_for(rep).get(f"/api/imports/{job.pk}/error-report/", {"file_format": "csv", "phase": "preview"})
    assert api.streaming and api.getvalue().decode("utf-8-sig") == "名称,电话,Row,Errors\r\n"


TEMPLATES = Path(__file__).resolve().parents[2] / "kehu/customers/templates/customers/imports"


def _untranslated_words(source: str) -> list[str]:
    """Words a user sees that no translate tag covers: text between tags, and title/placeholder/alt/aria-label
    attributes."""
    source = re.sub(r"{%\s*(blocktranslate|blocktrans)\b.*?{%\s*end\1\s*%}", " ", source, flags=re.S)
    source = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", " ", source, flags=re.S)
    visible = re.findall(r"""\b(?:title|placeholder|alt|aria-label)=["']([^"']*)["']""", source)
    visible.append(re.sub(r"<[^>]*>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", source, flags=re.S)))
    return re.findall(r"[A-Za-z][A-Za-z'’]+", " ".join(visible))


def test_every_word_on_the_import_pages_goes_through_gettext():
    found = {p.name: _untranslated_words(p.read_text()) for p in sorted(TEMPLATES.glob("*.html"))}
    assert found and {name: words for name, words in found.items() if words} == {}


def test_the_results_page_names_the_format_and_sheet(rep, client_for):
    job = import_rows(rep, [["名称"], ["甲公司"]])
    page = client_for(rep).get(f"/customers/imports/{job.pk}/").content.decode()
    assert "CSV, UTF-8" in page
    job = upload(rep, xlsx_bytes([["名称"], ["甲公司"]]), "x.xlsx")
    configure(job, rep)
    run(job, rep)
    assert "Excel, sheet “客户”" in client_for(rep).get(f"/customers/imports/{job.pk}/").content.decode()
