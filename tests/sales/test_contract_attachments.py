# ruff: noqa: F811 - the contract fixtures are imported from the other sales tests
"""Contract attachments: upload/download/delete on the contract page and through the API, the service tickets'
type and size limits (field errors, nothing stored), hostile file names, scope (404 outside the contract's
scope, read-only roles cannot upload), audit entries and timeline events."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kehu.core.models import AuditEntry
from kehu.interactions.models import Interaction
from kehu.sales.models import ContractAttachment
from kehu.sales.services import attachments, contracts
from tests.sales.test_orders_contracts import accepted, contract  # noqa: F401 - fixtures
from tests.sales.test_quotes import catalogue, deal  # noqa: F401 - fixtures

HOSTILE = '../../etc/<script>alert(1)</script>\x00"合同 扫描件".PDF'
PDF = b"%PDF-1.4\n% a signed contract\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _upload(client, contract, name, content):
    return client.post(
        reverse("sales:contract_attachment_add", args=[contract.pk]),
        {"file": SimpleUploadedFile(name, content, content_type="application/pdf")},
    )


def test_page_upload_with_a_hostile_name_download_and_scope(client, org, contract, media):
    client.force_login(org.rep1)
    response = _upload(client, contract, HOSTILE, PDF)
    assert response.status_code == 302
    attachment = ContractAttachment.objects.get(contract=contract)
    # no path, no control or markup characters; the extension kept
    assert "/" not in attachment.name and "<" not in attachment.name and "\x00" not in attachment.name
    assert attachment.name.endswith(".PDF") and "合同 扫描件" in attachment.name
    assert attachment.file.name.startswith(f"contracts/{contract.pk}/")
    stored = (media / attachment.file.name).resolve()
    assert stored.is_relative_to(media.resolve()) and stored.read_bytes() == PDF
    assert attachment.uploaded_by == org.rep1
    assert AuditEntry.objects.filter(
        model="sales.contractattachment", object_id=str(attachment.pk), action="create", actor=org.rep1
    ).exists()
    assert Interaction.objects.filter(
        customer=contract.customer, related_model="sales.contract.attachment", related_id=str(attachment.pk)
    ).exists()

    page = client.get(contract.get_absolute_url()).content.decode()
    download_url = reverse("sales:contract_attachment", args=[attachment.pk])
    assert download_url in page and "<script>alert" not in page
    download = client.get(download_url)
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Content-Type"] == "application/pdf" and download["X-Content-Type-Options"] == "nosniff"

    client.force_login(org.rep3)  # another department: the contract does not exist for them
    assert client.get(download_url).status_code == 404
    assert _upload(client, contract, "x.pdf", PDF).status_code == 404
    assert client.post(reverse("sales:contract_attachment_delete", args=[attachment.pk])).status_code == 404

    client.force_login(org.exec)  # sees every contract, changes none
    assert client.get(download_url).status_code == 200
    page = client.get(contract.get_absolute_url()).content.decode()
    assert 'data-testid="attachment-form"' not in page
    assert _upload(client, contract, "y.pdf", PDF).status_code == 400
    assert ContractAttachment.objects.filter(contract=contract).count() == 1


@pytest.mark.parametrize(
    ("name", "size", "words"),
    [("payload.exe", 10, ".exe"), ("page.html", 10, ".html"), ("huge.pdf", 2048, "MB")],
)
def test_forbidden_or_oversized_files_get_a_field_error_and_nothing_is_stored(
    client,
    org,
    contract,
    settings,
    media,
    name,
    size,
    words,
):
    settings.KEHU_ATTACHMENT_MAX_BYTES = 1024
    client.force_login(org.rep1)
    response = _upload(client, contract, name, b"x" * size)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'class="form-field has-error"' in page and words in page
    assert not ContractAttachment.objects.exists()
    assert not (media / "contracts").exists()
    with pytest.raises(ValidationError) as exc:
        attachments.contract_attachment_add(contract=contract, name=name, content=b"x" * size, by=org.rep1)
    assert list(exc.value.message_dict) == ["file"]


def test_api_upload_list_download_delete(org, contract, api_for, settings, media):
    api = api_for(org.rep1)
    created = api.post(
        "/api/contract-attachments/",
        {"contract": contract.pk, "file": SimpleUploadedFile(HOSTILE, PDF)},
        format="multipart",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert "/" not in body["name"] and body["uploaded_by"] == org.rep1.pk
    listed = api.get(f"/api/contract-attachments/?contract={contract.pk}").json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    download = api.get(body["download_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF

    settings.KEHU_ATTACHMENT_MAX_BYTES = 4
    refused = api.post(
        "/api/contract-attachments/",
        {"contract": contract.pk, "file": SimpleUploadedFile("big.pdf", PDF)},
        format="multipart",
    )
    assert refused.status_code == 400 and "file" in refused.json()
    refused = api.post(
        "/api/contract-attachments/",
        {"contract": contract.pk, "file": SimpleUploadedFile("run.sh", b"#!")},
        format="multipart",
    )
    assert refused.status_code == 400 and ".sh" in str(refused.json()["file"])

    other = api_for(org.rep3)
    assert other.get(f"/api/contract-attachments/{body['id']}/").status_code == 404
    assert other.get(body["download_url"]).status_code == 404
    assert other.get(f"/api/contract-attachments/?contract={contract.pk}").json()["results"] == []
    assert other.delete(f"/api/contract-attachments/{body['id']}/").status_code == 404
    refused = other.post(
        "/api/contract-attachments/",
        {"contract": contract.pk, "file": SimpleUploadedFile("x.pdf", PDF)},
        format="multipart",
    )
    assert refused.status_code == 400 and "contract" in refused.json()  # not a choice for them

    path = media / ContractAttachment.objects.get().file.name
    assert path.exists()
    assert api.delete(f"/api/contract-attachments/{body['id']}/").status_code == 204
    assert not ContractAttachment.objects.exists()
    assert AuditEntry.objects.filter(
        model="sales.contractattachment", object_id=str(body["id"]), action="delete"
    ).exists()


def test_files_of_a_signed_contract_are_kept_from_reps(
    org, contract, media, django_capture_on_commit_callbacks
):
    kept = attachments.contract_attachment_add(contract=contract, name="scan.pdf", content=PDF, by=org.rep1)
    gone = attachments.contract_attachment_add(contract=contract, name="draft.pdf", content=PDF, by=org.rep1)
    with django_capture_on_commit_callbacks(execute=True):
        attachments.contract_attachment_delete(attachment=gone, by=org.rep1)  # draft contract: the rep may
    assert not (media / gone.file.name).exists()
    contracts.contract_set_status(contract=contract, status="pending", by=org.rep1)
    contracts.contract_set_status(contract=contract, status="approved", by=org.manager)
    contracts.contract_set_status(
        contract=contract, status="active", by=org.rep1, signed_date=contract.start_date
    )
    with pytest.raises(PermissionDenied):
        attachments.contract_attachment_delete(attachment=kept, by=org.rep1)
    attachments.contract_attachment_delete(attachment=kept, by=org.manager)  # may delete contracts
    assert not ContractAttachment.objects.exists()
    assert Interaction.objects.filter(
        related_model="sales.contract.attachment_removed", related_id=str(kept.pk)
    ).exists()


def _stored(contract, media, *names):
    made = [
        attachments.contract_attachment_add(contract=contract, name=name, content=PDF, by=contract.owner)
        for name in names
    ]
    paths = [media / a.file.name for a in made]
    assert all(p.exists() for p in paths)
    return paths


def test_deleting_a_contract_removes_its_stored_files_after_the_commit(
    org, contract, media, api_for, django_capture_on_commit_callbacks
):
    paths = _stored(contract, media, "scan.pdf", "annex.pdf")
    api = api_for(org.manager)  # may delete contracts
    etag = api.get(f"/api/contracts/{contract.pk}/")["ETag"]
    assert api.delete(f"/api/contracts/{contract.pk}/").status_code == 428  # If-Match required
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert api.delete(f"/api/contracts/{contract.pk}/", HTTP_IF_MATCH=etag).status_code == 204
        # the rows are gone at once, the files only once the deletion commits
        assert not ContractAttachment.objects.exists()
        assert all(p.exists() for p in paths)
    assert callbacks
    for callback in callbacks:
        callback()
    assert not any(p.exists() for p in paths)
    assert not type(contract).objects.filter(pk=contract.pk).exists()
    assert AuditEntry.objects.filter(
        model="sales.contract", object_id=str(contract.pk), action="delete"
    ).exists()


def test_a_rolled_back_or_refused_contract_deletion_keeps_the_files(
    org, contract, media, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from kehu.core.exceptions import StaleRecordError

    paths = _stored(contract, media, "scan.pdf")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        contracts.contract_delete(contract=contract, by=org.manager)
        assert not ContractAttachment.objects.exists()
        raise RuntimeError("the surrounding work failed")
    assert callbacks == []
    assert paths[0].exists() and ContractAttachment.objects.filter(contract=contract).exists()

    # a stale version is refused: nothing deleted, the file kept
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(StaleRecordError):
        contracts.contract_delete(contract=contract, by=org.manager, expected_version=contract.version - 1)
    assert callbacks == [] and paths[0].exists()
    # a rep without the delete right on contracts: refused, the file kept
    with pytest.raises(PermissionDenied), django_capture_on_commit_callbacks(execute=True) as callbacks:
        contracts.contract_delete(contract=contract, by=org.rep1)
    assert callbacks == [] and paths[0].exists()
    assert type(contract).objects.filter(pk=contract.pk).exists()


def test_a_rolled_back_attachment_deletion_keeps_the_file(
    org, contract, media, django_capture_on_commit_callbacks
):
    from django.db import transaction

    (path,) = _stored(contract, media, "scan.pdf")
    attachment = ContractAttachment.objects.get()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        attachments.contract_attachment_delete(attachment=attachment, by=org.rep1)
        raise RuntimeError("the surrounding work failed")
    assert callbacks == [] and path.exists() and ContractAttachment.objects.filter(pk=attachment.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        attachments.contract_attachment_delete(attachment=attachment, by=org.rep1)
    assert not path.exists()
