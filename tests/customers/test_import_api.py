"""Import API: the same flow as the pages, scoped the same way, documented in the schema."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.core.access import Access
from kehu.core.models import FieldGrant, Scope
from kehu.customers.models import Customer

from .importing import csv_bytes, work

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(make_user):
    return make_user("customers.customer", actions=("view", "add", "change", "import"), read=Scope.OWN)


def _upload(api, rows, name="api.csv", **extra):
    return api.post(
        "/api/imports/", {"file": SimpleUploadedFile(name, csv_bytes(rows)), **extra}, format="multipart"
    )


def test_upload_map_preview_start_poll_errors(rep, api_for):
    api = api_for(rep)
    created = _upload(
        api, [["Name", "Mobile", "City"], ["Acme Ltd", "13812345678", "Beijing"], ["Bad", "x", ""]]
    )
    assert created.status_code == 201, created.json()
    job = created.json()
    assert job["status"] == "uploaded" and job["total_rows"] == 2
    assert [c["target"] for c in job["columns"]] == ["name", "phone", "city"]
    assert job["columns"][1] == {"index": 1, "letter": "B", "header": "Mobile", "target": "phone"}
    url = f"/api/imports/{job['id']}/"
    refused = api.put(url + "mapping/", {"mapping": ["name", "name", "city"]}, format="json")
    assert refused.status_code == 400 and "mapping" in refused.json()
    mapped = api.put(
        url + "mapping/",
        {"mapping": ["name", "phone", "city"], "options": {"mode": "create", "duplicates": "flag"}},
        format="json",
    )
    assert mapped.status_code == 200 and mapped.json()["options"]["duplicates"] == "flag"
    assert api.post(url + "preview/").status_code == 202
    from kehu.customers.imports.models import ImportJob

    model = ImportJob.objects.get(pk=job["id"])
    work(model)
    ready = api.get(url).json()
    assert ready["status"] == "ready" and ready["preview"]["counts"] == {"create": 1, "error": 1}
    assert api.get(url + "errors/", {"phase": "preview"}).json()["count"] == 1
    started = api.post(url + "start/")
    assert started.status_code == 202 and started.json()["status"] == "queued"
    work(model)
    done = api.get(url).json()
    assert done["status"] == "done" and done["progress"] == {"done": 2, "total": 2, "percent": 100}
    assert (done["created"], done["failed"]) == (1, 1)
    errors = api.get(url + "errors/").json()
    assert errors["results"][0]["row_number"] == 3 and errors["results"][0]["values"] == ["Bad", "x"]
    assert errors["results"][0]["messages"][0]["column"] == "B “Mobile”"
    report = api.get(url + "error-report/", {"file_format": "csv"})
    assert report.status_code == 200 and b"Bad,x" in report.getvalue()  # streamed
    refused = api.get(url + "error-report/", {"file_format": "pdf"})
    assert refused.status_code == 400 and refused.json() == {"file_format": ["Use csv or xlsx."]}
    by_import = api.get("/api/customers/", {"import_job": job["id"]}).json()
    assert [c["name"] for c in by_import["results"]] == ["Acme Ltd"]
    assert api.post(url + "start/").status_code == 400  # done: cannot start again


def test_rights_scope_and_field_restrictions(rep, make_user, api_for):
    plain = make_user("customers.customer", actions=("view", "add", "change"))
    api = api_for(plain)
    assert api.get("/api/imports/").status_code == 403
    assert _upload(api, [["Name"], ["x"]]).status_code == 403
    assert api.get("/api/imports/targets/").status_code == 403
    job = _upload(api_for(rep), [["Name", "Tax id"], ["x", "91110000"]]).json()
    other = make_user("customers.customer", actions=("view", "add", "import"))
    assert api_for(other).get(f"/api/imports/{job['id']}/").status_code == 404
    assert api_for(other).post(f"/api/imports/{job['id']}/start/").status_code == 404
    assert api_for(other).get("/api/imports/").json()["count"] == 0
    FieldGrant.objects.create(
        role=rep.roles.get(), model="customers.customer", field="tax_id", access="hidden"
    )
    Access.forget(rep)  # the test reuses the user object (a request would load it afresh)
    api = api_for(rep)
    assert "tax_id" not in {t["key"] for t in api.get("/api/imports/targets/").json()}
    refused = api.put(f"/api/imports/{job['id']}/mapping/", {"mapping": ["name", "tax_id"]}, format="json")
    assert refused.status_code == 400 and "may not write that field" in str(refused.json())
    bad_file = _upload(api, [["Name"]])
    assert bad_file.status_code == 400 and "no data rows" in str(bad_file.json()["file"])
    assert not Customer.objects.exists()


def test_file_settings_template_and_schema(rep, api_for):
    api = api_for(rep)
    data = csv_bytes([["名称", "城市"], ["甲", "北京"]], encoding="gbk", delimiter=";")
    job = api.post("/api/imports/", {"file": SimpleUploadedFile("g.csv", data)}, format="multipart").json()
    assert (job["encoding"], job["delimiter"]) == ("gb18030", ";")
    wrong = api.post(f"/api/imports/{job['id']}/file/", {"encoding": "utf-8"}, format="json")
    assert wrong.status_code == 400 and "not valid UTF-8" in str(wrong.json())
    template = api.get("/api/imports/template/", {"file_format": "csv"})
    assert template.status_code == 200 and template.content.decode("utf-8-sig").startswith("Name,Kind")
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in (
        "/api/imports/",
        "/api/imports/{id}/mapping/",
        "/api/imports/{id}/start/",
        "/api/imports/{id}/errors/",
    ):
        assert path in schema["paths"], path
