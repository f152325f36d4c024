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
