"""What the import pages and API do with the uploaded file: the mapping page reads only what was kept on the job
when the file was read, a wrong sheet is refused with the sheets there are, and the error reports are streamed
with every header and cell neutralised against formula injection."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.core.models import Scope
from kehu.customers.imports import reader, services, xlsx

from .importing import upload, xlsx_bytes

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
