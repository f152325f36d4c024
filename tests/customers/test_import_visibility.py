"""Who sees what of an import: the job (file, counts, status, who and when) within the customers read scope;
its rows (issues, preview sample, error report, the file's values) and the customers it wrote only for the
uploader and superusers — they were checked against what the uploader may see. Pages and API alike."""

from __future__ import annotations

import pytest

from kehu.core.models import Scope, Team
from kehu.core.services import record_share
from kehu.customers import services as customer_services

from .importing import configure, csv_bytes, preview, run, upload

pytestmark = pytest.mark.django_db

ALL = ("view", "add", "change", "delete", "import", "export", "transfer")
SECRET = "机密客户有限公司"


@pytest.fixture
def people(make_user):
    rep = make_user("customers.customer", actions=ALL, read=Scope.OWN, write=Scope.OWN, username="member")
    lead = make_user("customers.customer", actions=ALL, read=Scope.TEAM, write=Scope.TEAM, username="lead")
    outsider = make_user("customers.customer", actions=ALL, username="outsider")
    team = Team.objects.create(name="华东组", leader=lead)
    team.members.add(rep, lead)
    secret = customer_services.customer_create(data={"name": SECRET, "phone": "13812340000"}, by=outsider)
    record_share(instance=secret, by=outsider, user=rep)  # shared with the member alone
    return rep, lead, secret


@pytest.fixture
def job(people):
    rep, _lead, _secret = people
    rows = [["名称", "电话"], ["另一个名字", "13812340000"], ["坏行客户", "12"], ["正常客户", "13812349999"]]
    job = upload(rep, csv_bytes(rows), "名单.csv")
    configure(job, rep, duplicates="skip")
    return preview(job, rep)


def test_the_owner_sees_the_rows_and_a_team_lead_only_the_job(people, job, client_for, api_for):
    rep, lead, secret = people
    url, api = f"/api/imports/{job.pk}/", api_for(rep)
    mine = api.get(url).json()
    assert mine["preview"]["counts"] == {"skip": 1, "error": 1, "create": 1}
    assert any(SECRET in m for row in mine["preview"]["sample"] for m in row["messages"])
    theirs = api_for(lead).get(url).json()
    assert (theirs["file_name"], theirs["owner"], theirs["status"]) == ("名单.csv", "member", "ready")
    assert theirs["preview"] == {"counts": {"skip": 1, "error": 1, "create": 1}}
    page = client_for(lead).get(f"/customers/imports/{job.pk}/").content.decode()
    assert "名单.csv" in page and 'data-testid="contents-hidden"' in page
    assert SECRET not in page and "坏行客户" not in page and 'data-testid="preview"' not in page
    run(job, rep)
    client = client_for(rep)
    page = client.get(f"/customers/imports/{job.pk}/").content.decode()
    assert SECRET in page and 'data-testid="written"' in page
    report = client.get(f"/customers/imports/{job.pk}/errors.csv")
    assert SECRET in b"".join(report.streaming_content).decode("utf-8-sig")
    assert api.get(url + "errors/").json()["count"] == 2
    assert api.get(url + "error-report/", {"file_format": "csv"}).status_code == 200
    assert [c["name"] for c in api.get("/api/customers/", {"import_job": job.pk}).json()["results"]] == [
        "正常客户"
    ]
    # the lead: counts and status, never the rows or what the import wrote
    client, api = client_for(lead), api_for(lead)
    page = client.get(f"/customers/imports/{job.pk}/").content.decode()
    assert 'data-status="done"' in page and 'data-testid="contents-hidden"' in page
    assert SECRET not in page and "坏行客户" not in page
    assert 'data-testid="written"' not in page and 'data-testid="issues"' not in page
    assert "正常客户" not in page  # visible to the lead as a customer, not as "written by this import"
    assert api.get(url).json()["failed"] == 1
    for response in (
        api.get(url + "errors/"),
        api.get(url + "error-report/", {"file_format": "csv"}),
        api.get(url + "errors/", {"phase": "preview"}),
        client.get(f"/customers/imports/{job.pk}/errors.csv"),
        client.get(f"/customers/imports/{job.pk}/errors.xlsx?phase=preview"),
    ):
        assert response.status_code == 403 and SECRET.encode() not in response.content
    assert api.get("/api/customers/", {"import_job": job.pk}).json()["results"] == []
    assert "正常客户" not in client.get(f"/customers/?import_job={job.pk}").content.decode()
    assert "正常客户" in client.get("/customers/").content.decode()  # (the lead does see the customer)


def test_the_mapping_page_with_the_files_values_is_the_owners(people, client_for):
    rep, lead, _secret = people
    job = upload(rep, csv_bytes([["名称", "电话"], ["文件里的值", "13812341111"]]))
    assert "文件里的值" in client_for(rep).get(f"/customers/imports/{job.pk}/mapping/").content.decode()
    client = client_for(lead)
    response = client.get(f"/customers/imports/{job.pk}/mapping/")
    assert response.status_code == 302 and response["Location"] == f"/customers/imports/{job.pk}/"
    page = client.get(f"/customers/imports/{job.pk}/")  # an unmapped job does not send the lead back
    assert page.status_code == 200 and "文件里的值" not in page.content.decode()


def test_superusers_see_the_rows(people, job, admin_user, api_for):
    assert (
        api_for(admin_user).get(f"/api/imports/{job.pk}/errors/", {"phase": "preview"}).json()["count"] == 2
    )
