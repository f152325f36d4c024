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
