"""A row's outcome depends only on the rows before it: not on the batch size, not on a worker that resumed
the pass, and the preview says what the run does. Earlier rows are remembered within a pass and found again
through their ImportRow after a resume (a customer this job created is an earlier row of the file)."""

from __future__ import annotations

import pytest

from kehu.core.models import Scope
from kehu.customers import services as customer_services
from kehu.customers.imports import services, writer
from kehu.customers.imports.models import ImportJob, ImportRow
from kehu.customers.models import DuplicateCandidate

from .importing import configure, csv_bytes, upload, work

pytestmark = pytest.mark.django_db

ALL = ("view", "add", "change", "delete", "import", "export", "transfer")
HEADER = ["名称", "电话", "邮箱", "微信", "城市", "负责人"]
ROWS = [
    ["新甲", "13900000001", "", "", "", ""],  # 2 create
    ["新甲二", "139 0000 0001", "", "", "", ""],  # 3 same phone as row 2
    ["", "13900000099", "", "", "杭州", ""],  # 4 updates the existing customer
    ["", "13900000099", "", "", "苏州", ""],  # 5 updates it again
    ["新乙", "13900000002", "", "wx_same", "", ""],  # 6 create
    ["新丙", "13900000003", "", "wx_same", "", ""],  # 7 same WeChat id as row 6
    ["星辰科技有限公司", "", "", "", "", ""],  # 8 create (an organisation)
    ["星辰科技有限公司", "", "", "", "", ""],  # 9 looks like row 8
    ["给别人的", "13900000004", "", "", "", "rep2"],  # 10 create, owned by someone the importer cannot see
    ["给别人的二", "13900000004", "", "", "", ""],  # 11 same phone as row 10
    ["坏电话", "12", "", "", "", ""],  # 12 error
    ["新丁", "13900000005", "ding@example.com", "", "", ""],  # 13 create
    ["新丁二", "13900000006", "Ding@Example.com", "", "", ""],  # 14 same email as row 13
]
EXPECTED = {2: "create", 3: "error", 4: "update", 5: "error", 6: "create", 7: "error", 8: "create"}
EXPECTED |= {10: "create", 11: "error", 12: "error", 13: "create", 14: "error"}
RUN_WORDS = {"created": "create", "updated": "update", "unchanged": "unchanged"}


class Killed(BaseException):
    """A worker killed in the middle of a batch."""


@pytest.fixture
def importer(make_user):
    make_user("customers.customer", actions=ALL, username="rep2")
    user = make_user("customers.customer", actions=ALL, read=Scope.OWN, write=Scope.OWN)
    customer_services.customer_create(data={"name": "已有客户", "phone": "13900000099"}, by=user)
    return user


def _job(importer, settings, batch: int, policy: str) -> ImportJob:
    settings.KEHU_IMPORT_BATCH = batch
    job = upload(importer, csv_bytes([HEADER, *ROWS]))
    configure(job, importer, mode="upsert", match_on="phone_email", duplicates=policy)
    return job


def _finish(job: ImportJob, monkeypatch, kill_at: int | None, function: str) -> None:
    """Run the pass; with kill_at, the worker dies inside that batch and another one resumes the pass."""
    if kill_at is not None:
        original, calls = getattr(writer, function), []

        def dying(planner, plans):
            calls.append(1)
            result = original(planner, plans)
            if len(calls) == kill_at:
                raise Killed
            return result

        monkeypatch.setattr(writer, function, dying)
        with pytest.raises(Killed):
            work(job)
        monkeypatch.setattr(writer, function, original)
        ImportJob.objects.filter(pk=job.pk).update(lease_token="", lease_until=None)  # its lease ran out
        job.refresh_from_db()
        assert 0 < job.cursor < len(ROWS)
    assert work(job) == "done", job.error


def _previewed(job, importer, monkeypatch, kill_at=None) -> dict[int, str]:
    services.import_preview(job=job, by=importer)
    _finish(job, monkeypatch, kill_at, "dry_run")
    assert len(job.preview["sample"]) == len(ROWS)
    return {row["row"]: row["action"] for row in job.preview["sample"]}


def _ran(job, importer, monkeypatch, kill_at=None) -> dict[int, str]:
    services.import_start(job=job, by=importer)
    _finish(job, monkeypatch, kill_at, "write")
    outcome = {r.row_number: RUN_WORDS[r.action] for r in ImportRow.objects.filter(job=job)}
    for issue in job.issues.filter(phase="run"):
        assert issue.row_number not in outcome
        outcome[issue.row_number] = "skip" if issue.level == "skipped" else "error"
    return outcome


@pytest.mark.parametrize("policy", ["skip", "flag"])
@pytest.mark.parametrize(("batch", "kill_at"), [(500, None), (1, None), (2, None), (3, 2), (1, 6), (4, 2)])
def test_preview_and_run_agree_whatever_the_batch_size_and_a_resume(
    importer, settings, monkeypatch, policy, batch, kill_at
):
    expected = EXPECTED | {9: "skip" if policy == "skip" else "create"}
    job = _job(importer, settings, batch, policy)
    assert _previewed(job, importer, monkeypatch, kill_at) == expected
    assert _ran(job, importer, monkeypatch, kill_at) == expected
    counts = (job.created, job.updated, job.skipped, job.failed, job.flagged)
    assert counts == ((5, 1, 1, 6, 0) if policy == "skip" else (6, 1, 0, 6, 1))
    if policy == "flag":  # the pair with the earlier row is recorded, whichever worker wrote which row
        assert DuplicateCandidate.objects.filter(first__name="星辰科技有限公司").count() == 1
    texts = {i.row_number: i.text for i in job.issues.filter(phase="run")}
    assert "Row 2 of this file has the same phone (+8613900000001)" in texts[3]
    assert "Row 10 of this file has the same phone" in texts[11]
    assert "Row 13 of this file has the same email" in texts[14]
    assert "Row 4 of this file already updates “已有客户”" in texts[5]
    assert "Row 6 of this file has the same WeChat id" in texts[7]
    if policy == "skip":
        assert "Looks like row 8 of this file" in texts[9]
        (skipped,) = [row for row in job.preview["sample"] if row["row"] == 9]
        assert skipped["messages"] == [texts[9]]  # skipped, not "will be flagged"


def test_a_row_flagged_against_an_earlier_row_that_could_not_be_saved_is_not_counted(importer, monkeypatch):
    from django.db import IntegrityError

    from .importing import import_rows

    original = writer._insert

    def refuse_row_2(planner, plans):
        if any(p.number == 2 for p in plans):
            raise IntegrityError("a race with another writer")
        return original(planner, plans)

    monkeypatch.setattr(writer, "_insert", refuse_row_2)
    rows = [["名称"], ["月亮科技有限公司"], ["月亮科技有限公司"]]
    job = import_rows(importer, rows, duplicates="flag")
    assert (job.created, job.failed, job.flagged) == (1, 1, 0)
    assert not DuplicateCandidate.objects.exists()
