"""Data-subject requests: the flow (record, verify, approve, run), the export, correction, deadlines and the
overdue list, field-level errors, the pages and the API."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from kehu.customers.models import Customer
from kehu.privacy import services
from kehu.privacy.models import PrivacyRequest
from tests.factories import UserFactory

from .conftest import BANK, EMAIL, ID_NUMBER, NAME

pytestmark = pytest.mark.django_db


def _approved(subject, officer, kind="access", **extra):
    dpo, dpo2 = officer
    req = services.request_create(
        customer_id=subject.customer.pk,
        kind=kind,
        requester=NAME,
        channel="email",
        by=dpo,
        verified=True,
        **extra,
    )
    return services.request_approve(request=req, by=dpo2)


def test_access_request_exports_every_app_with_a_readme(subject, officer):
    dpo, dpo2 = officer
    req = services.request_run(request=_approved(subject, officer), by=dpo)
    assert req.status == "done" and req.done_by == dpo and req.approved_by == dpo2
    archive = zipfile.ZipFile(io.BytesIO(bytes(req.export_file)))
    names = set(archive.namelist())
    assert {"personal_data.json", "README.txt", "profile.csv", "orders.csv", "sensitive_values.csv"} <= names
    data = json.loads(archive.read("personal_data.json"))
    # discovered from the model graph: interactions, tickets' messages (internal notes too, for staff), leads...
    assert "records.interactions.interaction" in data
    assert any(k.startswith("records.service.ticketmessage") for k in data)
    assert {r["field"]: r["value"] for r in data["sensitive_values"]} == {
        "id_number": ID_NUMBER,
        "bank_account": BANK,
    }
    text = archive.read("personal_data.json").decode()
    assert "search_restricted" not in text and "id_number_hash" not in text
    assert "records.customers.customer" in archive.read("README.txt").decode()


def test_portal_download_uses_the_same_export_without_internal_data(subject):
    from kehu.portal.export import export_personal_data

    archive = zipfile.ZipFile(io.BytesIO(export_personal_data(subject.customer)))
    text = archive.read("personal_data.json").decode()
    assert "MEMO-Ouyang" not in text and BANK not in text and "records." not in text
    assert "README.txt" in archive.namelist()


def test_correction_goes_through_the_customer_service(subject, officer):
    dpo, _ = officer
    req = _approved(
        subject, officer, kind="correction", corrections={"email": "new.mail@example.cn", "city": "北京"}
    )
    req = services.request_run(request=req, by=dpo)
    c = Customer.objects.get(pk=subject.customer.pk)
    assert c.email == "new.mail@example.cn" and c.city == "北京"
    assert req.outcome == {"fields_corrected": ["city", "email"]}


def test_bad_input_gets_field_errors_and_nothing_is_saved(subject, officer):
    dpo, _ = officer
    with pytest.raises(ValidationError) as err:
        services.request_create(
            customer_id=subject.customer.pk,
            kind="nope",
            requester=" ",
            channel="x",
            by=dpo,
            received_on=timezone.localdate() + dt.timedelta(days=1),
        )
    assert set(err.value.message_dict) == {"kind", "requester", "channel", "received_on"}
    with pytest.raises(ValidationError) as err:
        services.request_create(
            customer_id=subject.customer.pk,
            kind="correction",
            requester="me",
            channel="email",
            by=dpo,
            corrections={"owner": "1"},
        )
    assert "corrections" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        services.request_create(customer_id=999999, kind="access", requester="me", channel="email", by=dpo)
    assert "customer_id" in err.value.message_dict
    assert PrivacyRequest.objects.count() == 0
    req = services.request_create(
        customer_id=subject.customer.pk, kind="access", requester="me", channel="email", by=dpo
    )
    with pytest.raises(ValidationError) as err:
        services.request_approve(request=req, by=officer[1])
    assert "verified" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        services.request_reject(request=req, by=dpo, reason="")
    assert "rejection_reason" in err.value.message_dict


def test_without_the_grant_nobody_handles_requests(subject):
    rep = UserFactory(username="rep")
    with pytest.raises(PermissionDenied):
        services.request_create(
            customer_id=subject.customer.pk, kind="access", requester="me", channel="email", by=rep
        )


def test_deadline_is_fifteen_days_and_the_overdue_list(subject, officer, frozen_clock):
    dpo, _ = officer
    today = timezone.localdate()
    req = services.request_create(
        customer_id=subject.customer.pk,
        kind="access",
        requester="me",
        channel="phone",
        by=dpo,
        received_on=today - dt.timedelta(days=3),
    )
    assert req.due_on == today + dt.timedelta(days=12)
    assert list(services.overdue()) == []
    frozen_clock.shift(dt.timedelta(days=13))
    assert list(services.overdue()) == [req]
    services.request_reject(request=req, by=dpo, reason="duplicate request")
    assert list(services.overdue()) == []


def test_pages_new_request_from_the_customer_page_approve_and_run(subject, officer, client):
    dpo, dpo2 = officer
    client.force_login(dpo)
    page = client.get(reverse("customers:detail", args=[subject.customer.pk])).content.decode()
    assert 'data-testid="new-privacy-request"' in page
    assert f'data-testid="sensitive-id_number">{ID_NUMBER}<' in page  # the officer sees the clear value
    response = client.post(
        reverse("privacy:request_new"),
        {
            "customer_id": subject.customer.pk,
            "kind": "access",
            "requester": NAME,
            "channel": "email",
            "verified": "on",
            "details": "",
            "corrections": "",
        },
    )
    req = PrivacyRequest.objects.get()
    assert response.status_code == 302
    assert NAME in client.get(reverse("privacy:requests")).content.decode()
    client.force_login(dpo2)
    client.post(reverse("privacy:request_action", args=[req.pk, "approve"]))
    client.post(reverse("privacy:request_action", args=[req.pk, "run"]))
    req.refresh_from_db()
    assert req.status == "done"
    download = client.get(reverse("privacy:request_download", args=[req.pk]))
    assert download["Content-Type"] == "application/zip"
    # a form error stays on the form
    client.force_login(dpo)
    response = client.post(
        reverse("privacy:request_new"),
        {"customer_id": subject.customer.pk, "kind": "access", "requester": "", "channel": "email"},
    )
    assert response.status_code == 200 and PrivacyRequest.objects.count() == 1


def test_pages_refuse_users_without_the_grant(subject, client):
    rep = UserFactory(username="rep2")
    client.force_login(rep)
    assert client.get(reverse("privacy:requests")).status_code == 403
    assert client.get(reverse("privacy:retention")).status_code == 403


def test_api_flow(subject, officer, api_for):
    dpo, dpo2 = officer
    api = api_for(dpo)
    bad = api.post(
        "/api/privacy-requests/",
        {"customer_id": subject.customer.pk, "kind": "erasure", "requester": "", "channel": "email"},
        format="json",
    )
    assert bad.status_code == 400 and "requester" in bad.json()
    created = api.post(
        "/api/privacy-requests/",
        {
            "customer_id": subject.customer.pk,
            "kind": "access",
            "requester": EMAIL,
            "channel": "email",
            "verified": True,
        },
        format="json",
    )
    assert created.status_code == 201
    pk = created.json()["id"]
    assert api_for(dpo2).post(f"/api/privacy-requests/{pk}/approve/").json()["status"] == "approved"
    assert api.post(f"/api/privacy-requests/{pk}/run/").json()["status"] == "done"
    assert api.get(f"/api/privacy-requests/{pk}/export/")["Content-Type"] == "application/zip"
    assert api.get("/api/privacy-requests/").json()["results"][0]["id"] == pk
    assert api_for(UserFactory(username="nobody")).get("/api/privacy-requests/").json()["results"] == []
