"""What an import tells its user: specific, translated messages; technical detail only in the log."""

from __future__ import annotations

import logging

import pytest
from django.db import IntegrityError

from kehu.core.models import AuditEntry, Scope
from kehu.customers import services as customer_services
from kehu.customers.imports import models as import_models
from kehu.customers.imports import services, worker, writer
from kehu.customers.imports.models import ImportRow
from kehu.customers.models import ConsentEvent, Customer

from .importing import configure, csv_bytes, import_rows, upload, work

pytestmark = pytest.mark.django_db

ALL = ("view", "add", "change", "delete", "import", "export", "transfer")
SECRET = 'duplicate key value violates unique constraint "secret_idx" DETAIL: (phone)=(+8613800000000)'


@pytest.fixture
def rep(make_user):
    return make_user("customers.customer", actions=ALL, read=Scope.OWN, write=Scope.OWN)


def test_an_unexpected_error_shows_a_reference_and_logs_the_detail(rep, monkeypatch, caplog):
    def broken(planner, plans):
        raise RuntimeError(SECRET)

    monkeypatch.setattr(writer, "write", broken)
    job = upload(rep, csv_bytes([["名称"], ["出错的客户"]]))
    configure(job, rep)
    services.import_start(job=job, by=rep)
    with caplog.at_level(logging.ERROR, logger="kehu.customers.imports.worker"):
        assert work(job) == "failed"
    assert "secret_idx" not in job.error and "RuntimeError" in job.error
    (record,) = [r for r in caplog.records if "failed (reference" in r.getMessage()]
    reference = record.args[1]
    assert f"reference {reference}" in job.error and SECRET in caplog.text


def test_database_refusals_of_a_row_are_explained_without_sql(rep, monkeypatch, caplog):
    customer_services.customer_create(data={"name": "要更新的", "phone": "13877770000"}, by=rep)

    def refuse(*args, **kwargs):
        raise IntegrityError(SECRET)

    monkeypatch.setattr(writer, "_insert", refuse)
    monkeypatch.setattr(writer.services, "customer_update", refuse)
    rows = [["名称", "电话", "城市"], ["新的", "13877770001", ""], ["要更新的", "13877770000", "上海"]]
    with caplog.at_level(logging.WARNING, logger="kehu.customers.imports.writer"):
        job = import_rows(rep, rows, mode="upsert", match_on="phone")
    assert job.failed == 2
    for issue in job.issues.all():
        assert "conflicts with a record saved at the same time" in issue.text
        assert "secret_idx" not in issue.text
    assert caplog.text.count("secret_idx") == 2


def test_notes_and_consent_evidence_go_through_the_catalogue(rep, monkeypatch):
    def marked(text):
        return f"«{text}»"

    monkeypatch.setattr(import_models, "gettext", marked)
    monkeypatch.setattr(writer, "_", marked)
    monkeypatch.setattr(worker, "_", marked)
    job = import_rows(rep, [["名称", "短信同意"], ["有同意的客户", "是"]])
    customer = Customer.objects.get(name="有同意的客户")
    note = f"«import #{job.pk}»"
    assert ConsentEvent.objects.get(customer=customer).evidence == f"«{note}, row 2 (customers.csv)»"
    assert AuditEntry.objects.get(action="create", object_id=str(customer.pk)).note == note
    services.import_undo(job=job, by=rep)
    assert work(job) == "done"
    assert AuditEntry.objects.get(action="delete", object_id=str(customer.pk)).note == f"«undo of {note}»"


def test_undo_always_gives_a_reason_so_its_loop_ends(rep, monkeypatch):
    from django.core.exceptions import PermissionDenied

    job = import_rows(rep, [["名称"], ["删不掉的客户"]])

    def silent_refusal(**kwargs):
        raise PermissionDenied("")

    monkeypatch.setattr(worker.records, "record_delete", silent_refusal)
    services.import_undo(job=job, by=rep)
    assert work(job, max_batches=3) == "done"
    assert (job.undone, job.kept) == (0, 1)
    assert ImportRow.objects.get(job=job).kept_reason == "it could not be deleted"
