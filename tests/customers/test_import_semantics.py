"""Import semantics found in review: the preview with flagged duplicates, consent the customer withdrew
themselves, what undo keeps, and imports after a merge."""

from __future__ import annotations

import pytest

from kehu.core.models import Scope
from kehu.customers import services as customer_services
from kehu.customers.imports.models import ImportStatus

from .importing import configure, csv_bytes, preview, upload

pytestmark = pytest.mark.django_db

ALL = ("view", "add", "change", "delete", "import", "export", "transfer")


@pytest.fixture
def rep(make_user):
    return make_user("customers.customer", actions=ALL, read=Scope.OWN, write=Scope.OWN)


def test_the_preview_with_the_flag_policy_names_the_existing_duplicate(rep):
    existing = customer_services.customer_create(data={"name": "已有客户", "phone": "13855550000"}, by=rep)
    job = upload(rep, csv_bytes([["名称", "电话"], ["另一个名字", "138 5555 0000"]]))
    configure(job, rep, duplicates="flag")
    preview(job, rep)
    assert job.status == ImportStatus.READY, job.error
    assert job.preview["counts"] == {"create": 1, "flag": 1}
    (row,) = job.preview["sample"]
    assert row["action"] == "create"
    assert any(f"“已有客户” (#{existing.pk})" in m and "flagged" in m for m in row["messages"])


def test_a_merge_leaves_the_import_rows_with_the_merged_customer_and_undo_keeps_it_as_merged(rep, api_for):
    from kehu.customers.imports import services
    from kehu.customers.imports.models import ImportRow
    from kehu.customers.merge import customer_merge, customer_merge_undo
    from kehu.customers.models import Customer

    from .importing import import_rows, work

    survivor = customer_services.customer_create(data={"name": "合并后的客户"}, by=rep)
    job = import_rows(rep, [["名称"], ["导入后被合并"], ["导入后留着"]])
    merged, plain = Customer.objects.get(name="导入后被合并"), Customer.objects.get(name="导入后留着")
    merge = customer_merge(survivor=survivor, others=[merged], by=rep)
    # the import's rows stay with what the import wrote: the survivor was not "created by import #N"
    assert set(ImportRow.objects.filter(job=job).values_list("customer_id", flat=True)) == {
        merged.pk,
        plain.pk,
    }
    listed = api_for(rep).get("/api/customers/", {"import_job": job.pk}).json()
    assert [c["name"] for c in listed["results"]] == ["导入后留着"]
    # and merge undo still puts everything back
    customer_merge_undo(merge=merge, by=rep)
    merged.refresh_from_db()
    assert merged.merged_into_id is None
    merge = customer_merge(survivor=survivor, others=[merged], by=rep)
    services.import_undo(job=job, by=rep)
    assert work(job) == "done"
    assert (job.undone, job.kept) == (1, 1)
    assert ImportRow.objects.get(job=job, customer=merged).kept_reason == (
        "merged into another customer since the import"
    )
    survivor.refresh_from_db()
    assert (
        Customer.objects.filter(pk=survivor.pk).exists() and not Customer.objects.filter(pk=plain.pk).exists()
    )


def _undo(job, user):
    from kehu.customers.imports import services

    from .importing import work

    services.import_undo(job=job, by=user)
    assert work(job) == "done", job.error
    return job


def test_undo_keeps_an_account_that_a_kept_contact_or_an_updated_customer_refers_to(rep, settings):
    from kehu.core.models import AuditEntry
    from kehu.customers.imports.models import ImportRow
    from kehu.customers.models import Customer

    from .importing import import_rows

    settings.KEHU_IMPORT_BATCH = 1  # an account must exist (an earlier batch) before a contact names it
    existing = customer_services.customer_create(
        data={"name": "老联系人", "kind": "person", "phone": "13866660000"}, by=rep
    )
    rows = [
        ["名称", "类别", "所属公司", "电话"],
        ["联系人的公司", "企业", "", ""],
        ["更新者的公司", "企业", "", ""],
        ["一起撤销的公司", "企业", "", ""],
        ["改过的联系人", "个人", "联系人的公司", "13866660001"],
        ["老联系人", "个人", "更新者的公司", "13866660000"],  # updates an existing customer
        ["没改的联系人", "个人", "一起撤销的公司", "13866660002"],
    ]
    job = import_rows(rep, rows, mode="upsert", match_on="phone")
    assert (job.created, job.updated, job.failed) == (5, 1, 0), list(job.issues.values_list("messages"))
    names = {c.name: c for c in Customer.objects.all()}
    edited = names["改过的联系人"]
    customer_services.customer_update(customer=edited, data={"city": "杭州"}, by=rep, expected_version=None)
    edited.refresh_from_db()
    existing.refresh_from_db()
    versions = (edited.version, existing.version)
    _undo(job, rep)
    assert (job.undone, job.kept) == (2, 3)
    # kept: the edited contact, and both accounts that kept records refer to — unchanged, still linked
    edited.refresh_from_db()
    existing.refresh_from_db()
    assert (edited.account_id, existing.account_id) == (names["联系人的公司"].pk, names["更新者的公司"].pk)
    assert (edited.version, existing.version) == versions
    reasons = dict(
        ImportRow.objects.filter(job=job).exclude(kept_reason="").values_list("row_number", "kept_reason")
    )
    assert set(reasons) == {2, 3, 5}
    assert "other records refer to it (customers)" in reasons[2] and "customers" in reasons[3]
    # deleted: the unchanged contact first, then its account, each with one audit entry
    assert not Customer.objects.filter(name__in=["没改的联系人", "一起撤销的公司"]).exists()
    deleted = AuditEntry.objects.filter(action="delete", note=f"undo of import #{job.pk}")
    contact_entry = deleted.get(object_id=str(names["没改的联系人"].pk))
    assert contact_entry.changes["account"][0] is not None  # it still had its account when it was deleted


@pytest.mark.parametrize("method", ["unsubscribe", "portal"])
def test_an_import_never_grants_consent_the_customer_withdrew_themselves(rep, method):
    from kehu.customers.imports.models import ImportIssue
    from kehu.customers.models import ConsentEvent, ConsentStatus

    customer = customer_services.customer_create(data={"name": "退订的客户", "phone": "13855551111"}, by=rep)
    customer_services.consent_record(
        customer=customer, channel="sms", status="granted", method="paper", by=rep
    )
    customer_services.consent_record(
        customer=customer, channel="sms", status=ConsentStatus.WITHDRAWN, method=method, by=None
    )
    rows = [["电话", "城市", "短信同意", "邮件同意"], ["13855551111", "苏州", "是", "是"]]
    job = upload(rep, csv_bytes(rows))
    configure(job, rep, mode="update", match_on="phone")
    preview(job, rep)
    assert job.preview["counts"] == {"update": 1}
    (row,) = job.preview["sample"]
    assert any("withdrew it themselves" in m for m in row["messages"])
    from .importing import run

    run(job, rep)
    assert (job.updated, job.failed) == (1, 0)
    customer.refresh_from_db()
    # the rest of the row applied; the SMS withdrawal stands, email (never withdrawn) is granted
    assert customer.city == "苏州"
    assert (
        customer.consent["sms"]["status"] == "withdrawn" and customer.consent["email"]["status"] == "granted"
    )
    assert not ConsentEvent.objects.filter(customer=customer, channel="sms", method="import").exists()
    (issue,) = ImportIssue.objects.filter(job=job, phase="run")
    assert issue.level == "warning" and issue.get_level_display() == "Partly imported"
    assert (
        issue.messages[0]["column"] == "C “短信同意”"
        and "withdrew it themselves" in issue.messages[0]["message"]
    )


def test_a_withdrawal_staff_recorded_or_a_later_grant_by_the_customer_does_not_block_the_import(rep):
    from kehu.customers.models import ConsentStatus

    staff = customer_services.customer_create(data={"name": "员工记录退订", "phone": "13855552222"}, by=rep)
    customer_services.consent_record(
        customer=staff, channel="sms", status=ConsentStatus.WITHDRAWN, method="verbal", by=rep
    )
    again = customer_services.customer_create(data={"name": "又同意了", "phone": "13855553333"}, by=rep)
    customer_services.consent_record(customer=again, channel="sms", status="withdrawn", method="unsubscribe")
    customer_services.consent_record(customer=again, channel="sms", status="granted", method="portal")
    customer_services.consent_record(
        customer=again, channel="sms", status="withdrawn", method="verbal", by=rep
    )
    from .importing import import_rows

    rows = [["电话", "短信同意"], ["13855552222", "是"], ["13855553333", "是"]]
    job = import_rows(rep, rows, mode="update", match_on="phone")
    assert (job.updated, job.issues.count()) == (2, 0)
    for customer in (staff, again):
        customer.refresh_from_db()
        assert customer.consent["sms"]["status"] == "granted"
