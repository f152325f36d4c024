"""Import pages: rights (menu, 403/404), the flow upload → mapping → preview → run → results, live progress
polling, error report and template downloads, history, escaping of hostile names, customers by import."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.core.models import Scope
from kehu.customers.imports.models import ImportJob

from .importing import csv_bytes, upload, work

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(make_user):
    return make_user(
        "customers.customer", actions=("view", "add", "change", "delete", "import"), read=Scope.OWN
    )


def test_only_holders_of_the_import_right_see_the_menu_and_pages(make_user, rep, client_for):
    plain = make_user("customers.customer", actions=("view", "add", "change"))
    client = client_for(plain)
    page = client.get("/customers/").content.decode()
    assert "/customers/imports/" not in page and 'data-testid="import"' not in page
    for url in ("/customers/imports/", "/customers/imports/new/", "/customers/imports/template.xlsx"):
        assert client.get(url).status_code == 403
    job = upload(rep, csv_bytes([["名称"], ["甲"]]))
    assert client.get(f"/customers/imports/{job.pk}/").status_code == 403
    client = client_for(rep)
    page = client.get("/customers/").content.decode()
    assert 'href="/customers/imports/"' in page and 'data-testid="import"' in page
    # another importer outside the scope gets 404 for the job, as for records
    other = make_user("customers.customer", actions=("view", "add", "import"))
    client = client_for(other)
    for url in (
        f"/customers/imports/{job.pk}/",
        f"/customers/imports/{job.pk}/mapping/",
        f"/customers/imports/{job.pk}/errors.csv",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/customers/imports/{job.pk}/start/").status_code == 404
    assert "甲" not in client.get("/customers/imports/").content.decode()


def test_the_whole_flow_in_pages(rep, client_for):
    client = client_for(rep)
    assert client.get("/customers/imports/new/").status_code == 200
    rows = [
        ["姓名", "手机", "城市", "备注"],
        ["<script>alert('x')</script>", "13812345678", "北京", ""],
        ["王五", "12", "上海", ""],
    ]
    response = client.post(
        "/customers/imports/new/",
        {
            "file": SimpleUploadedFile("名单.csv", csv_bytes(rows, encoding="gbk")),
            "encoding": "auto",
            "delimiter": "auto",
        },
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/customers/imports/{job.pk}/mapping/"
    assert client.get(f"/customers/imports/{job.pk}/").status_code == 302  # not mapped yet: to the mapping
    page = client.get(f"/customers/imports/{job.pk}/mapping/").content.decode()
    assert "GB18030" in page and "13812345678" in page  # encoding found, first values shown
    assert '<option value="phone" selected>' in page
    form = {
        "col_0": "name",
        "col_1": "phone",
        "col_2": "city",
        "col_3": "",
        "mode": "create",
        "match_on": "phone_email",
        "duplicates": "skip",
        "default_kind": "person",
    }
    refused = client.post(f"/customers/imports/{job.pk}/mapping/", {**form, "col_2": "phone"})
    assert refused.status_code == 400 and "are all mapped to “Phone”" in refused.content.decode()
    assert client.post(f"/customers/imports/{job.pk}/mapping/", form).status_code == 302
    job.refresh_from_db()
    assert job.status == "previewing"
    polled = client.get(f"/customers/imports/{job.pk}/progress/", HTTP_HX_REQUEST="true")
    assert "every 1s" in polled.content.decode() and "HX-Refresh" not in polled
    work(job)
    polled = client.get(f"/customers/imports/{job.pk}/progress/", HTTP_HX_REQUEST="true")
    assert polled["HX-Refresh"] == "true"  # done: the page reloads to show the preview
    page = client.get(f"/customers/imports/{job.pk}/").content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "not a valid phone number" in page and 'data-testid="start-import"' in page
    report = client.get(f"/customers/imports/{job.pk}/errors.csv?phase=preview")
    assert report["Content-Disposition"].startswith(
        "attachment"
    ) and "王五,12,上海,,3,B “手机”" in report.getvalue().decode("utf-8-sig")
    assert client.post(f"/customers/imports/{job.pk}/start/").status_code == 302
    work(job)
    page = client.get(f"/customers/imports/{job.pk}/").content.decode()
    assert 'data-status="done"' in page and f"/customers/?import_job={job.pk}" in page
    listing = client.get(f"/customers/?import_job={job.pk}").content.decode()
    assert "&lt;script&gt;" in listing and "王五" not in listing
    history = client.get("/customers/imports/").content.decode()
    assert "名单.csv" in history
    assert client.get(f"/customers/imports/{job.pk}/mapping/").status_code == 302  # no remapping after a run
    assert client.post(f"/customers/imports/{job.pk}/undo/").status_code == 302
    work(job)
    assert job.status == "undone" and job.undone == 1


def test_upload_errors_are_shown_on_the_form_and_nothing_is_kept(rep, client_for):
    client = client_for(rep)
    for name, content, message in [
        ("a.csv", b"", "The submitted file is empty."),
        ("a.csv", "名称\n".encode(), "a header row but no data rows"),
        ("a.xlsx", b"not a zip", "not a valid Excel workbook"),
        ("a.csv", bytes(range(256)) * 10, "contains binary data"),
    ]:
        response = client.post(
            "/customers/imports/new/",
            {"file": SimpleUploadedFile(name, content), "encoding": "auto", "delimiter": "auto"},
        )
        assert response.status_code == 400 and message in response.content.decode(), name
    assert not ImportJob.objects.exists()


def test_reading_the_file_again_with_another_sheet(rep, client_for):
    from .importing import xlsx_bytes

    job = upload(
        rep,
        xlsx_bytes([["名称"], ["甲"]], sheets={"联系人": [["姓名", "手机"], ["李四", "13900001111"]]}),
        "book.xlsx",
    )
    client = client_for(rep)
    client.post(f"/customers/imports/{job.pk}/file/", {"sheet": "联系人"})
    job.refresh_from_db()
    assert (job.sheet, job.headers, job.mapping) == ("联系人", ["姓名", "手机"], ["name", "phone"])


def test_templates_have_the_headers_the_user_may_import(rep, client_for):
    client = client_for(rep)
    csv_template = client.get("/customers/imports/template.csv")
    headers = csv_template.content.decode("utf-8-sig").strip().split(",")
    assert headers[:2] == ["Name", "Kind"] and "Owner (user name)" not in headers  # no transfer right
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(client.get("/customers/imports/template.xlsx").content))
    assert [c.value for c in workbook.worksheets[0][1]] == headers
    assert workbook.worksheets[1].title == "Help"
    # the template maps itself completely
    job = upload(rep, csv_template.content + "甲公司\r\n".encode(), "template.csv")
    assert all(job.mapping), list(zip(job.headers, job.mapping, strict=True))
    assert client.get("/customers/imports/template.pdf").status_code == 404


def test_history_page_and_api_list_use_a_constant_number_of_queries(rep, client_for, api_for, make_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client, api = client_for(rep), api_for(rep)

    def count(url, getter):
        with CaptureQueriesContext(connection) as queries:
            assert getter.get(url).status_code == 200
        return len(queries)

    upload(rep, csv_bytes([["名称"], ["甲"]]))
    few = (count("/customers/imports/", client), count("/api/imports/", api))
    for i in range(6):
        upload(rep, csv_bytes([["名称"], [f"乙{i}"]]), f"f{i}.csv")
    assert (count("/customers/imports/", client), count("/api/imports/", api)) == few
