"""The lease a worker holds covers the batch it is writing: a slow batch (updates go one by one) never looks
stalled and cannot be claimed by another worker, yet a worker that lost its claim still stops. Time is a fake
clock advanced by the test; nothing sleeps."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kehu.core.models import Scope
from kehu.customers import services as customer_services
from kehu.customers.imports import services, worker, writer
from kehu.customers.imports.models import ImportJob

from .importing import configure, csv_bytes, upload, work

pytestmark = pytest.mark.django_db

LEASE, PER_ROW, BATCH = 60, 2, 4


@pytest.fixture
def rep(make_user):
    return make_user("customers.customer", actions=("view", "add", "change", "import"), read=Scope.OWN)


@pytest.fixture
def clock(monkeypatch, settings):
    settings.KEHU_IMPORT_LEASE_SECONDS = LEASE
    settings.KEHU_IMPORT_ROW_SECONDS = PER_ROW
    settings.KEHU_IMPORT_BATCH = BATCH
    start = timezone.now()
    state = {"now": start}
    monkeypatch.setattr(timezone, "now", lambda: state["now"])

    def advance(seconds: float) -> dt.datetime:
        state["now"] += dt.timedelta(seconds=seconds)
        return state["now"]

    advance.now = lambda: state["now"]  # type: ignore[attr-defined]
    return advance


def test_a_batch_slower_than_the_lease_keeps_its_claim(rep, clock, monkeypatch):
    for i in range(6):
        customer_services.customer_create(data={"name": f"慢客户{i}", "phone": f"1388888000{i}"}, by=rep)
    rows = [["电话", "城市"]] + [[f"1388888000{i}", "慢城"] for i in range(6)] + [["", "坏行"]]
    job = upload(rep, csv_bytes(rows))
    configure(job, rep, mode="update", match_on="phone")
    services.import_start(job=job, by=rep)
    original, seen = writer.write, []

    def slow_write(planner, plans):
        started = clock.now()
        lease_until = ImportJob.objects.get(pk=job.pk).lease_until
        updates = sum(p.action == "update" for p in plans)
        clock(LEASE + PER_ROW * updates - 1)  # longer than the plain lease, within the batch's
        current = ImportJob.objects.get(pk=job.pk)
        # what another worker (resume_imports) does: claim the job if its lease ran out
        seen.append((lease_until - started, current.is_stalled, worker.claim(job.pk, "other worker")))
        return original(planner, plans)

    monkeypatch.setattr(writer, "write", slow_write)
    assert work(job) == "done"
    assert (job.updated, job.failed) == (6, 1)
    # each batch took its lease from its work before it started: the plain lease plus per row written alone
    assert [s[0] for s in seen] == [dt.timedelta(seconds=LEASE + PER_ROW * n) for n in (4, 2)]
    assert [(stalled, claimed) for _lease, stalled, claimed in seen] == [(False, False)] * 2


def test_a_worker_that_lost_its_claim_while_planning_stops_before_its_batch(rep, clock, monkeypatch):
    from kehu.customers.imports import rows as rows_module

    job = upload(rep, csv_bytes([["名称"]] + [[f"租约客户{i}"] for i in range(6)]))
    configure(job, rep)
    services.import_start(job=job, by=rep)
    original, calls = rows_module.Planner.plan, []

    def plan(self, batch):
        calls.append(1)
        if len(calls) == 2:  # the lease ran out while planning and another worker claimed the job
            clock(LEASE + 1)
            assert worker.claim(self.job.pk, "other")
        return original(self, batch)

    monkeypatch.setattr(rows_module.Planner, "plan", plan)
    assert work(job) == "lease lost"
    assert (job.cursor, job.created, job.lease_token) == (BATCH, BATCH, "other")


def test_an_undo_batch_holds_the_job_for_its_deletes(rep, clock, monkeypatch, make_user):
    from kehu.customers.imports.models import ImportStatus

    from .importing import import_rows

    undoer = make_user("customers.customer", actions=("view", "add", "delete", "import"), read=Scope.OWN)
    job = import_rows(undoer, [["名称"]] + [[f"撤销租约{i}"] for i in range(3)])
    original, seen = worker.records.record_delete, []

    def slow_delete(**kwargs):
        current = ImportJob.objects.get(pk=job.pk)
        seen.append(current.lease_until - clock.now())
        clock(LEASE + 1 if len(seen) == 1 else 1)  # past the plain lease, within the batch's
        assert current.status == ImportStatus.UNDOING
        seen.append(worker.claim(job.pk, "other worker"))
        return original(**kwargs)

    monkeypatch.setattr(worker.records, "record_delete", slow_delete)
    services.import_undo(job=job, by=undoer)
    assert work(job) == "done" and job.undone == 3
    assert seen[0] == dt.timedelta(seconds=LEASE + PER_ROW * 3)
    assert seen[1::2] == [False, False, False]
