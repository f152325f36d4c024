"""Idempotent, resumable runs: a worker killed between or inside batches, a failed pass resumed, a worker
that lost its lease, and two workers racing for the same job (PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection, connections

from kehu.core.models import AuditEntry, Scope
from kehu.customers.imports import services, worker, writer
from kehu.customers.imports.models import ImportJob, ImportRow, ImportStatus
from kehu.customers.models import Customer

from .importing import configure, csv_bytes, upload, work

ROWS = 23
BATCH = 5


class Killed(BaseException):
    """What a SIGKILL looks like to the code under test: nothing of Kehu's runs after it (not even except)."""


@pytest.fixture
def importer(make_user):
    return make_user("customers.customer", actions=("view", "add", "change", "import"), read=Scope.OWN)


@pytest.fixture
def queued(importer, settings):
    return make_queued(importer, settings)


def make_queued(importer, settings) -> ImportJob:
    settings.KEHU_IMPORT_BATCH = BATCH
    rows = [["名称", "电话"]] + [[f"续传客户{i:02d}", f"1390000{i:04d}"] for i in range(ROWS)]
    rows.insert(8, ["", "坏行"])  # a bad row in the middle: reported once, whatever happens
    job = upload(importer, csv_bytes(rows))
    configure(job, importer)
    services.import_start(job=job, by=importer)
    return job


def assert_exactly_once(job: ImportJob) -> None:
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    names = list(Customer.objects.filter(name__startswith="续传客户").values_list("name", flat=True))
    assert sorted(names) == [f"续传客户{i:02d}" for i in range(ROWS)]  # none lost, none twice
    rows = list(ImportRow.objects.filter(job=job).values_list("row_number", flat=True))
    assert len(rows) == len(set(rows)) == ROWS
    assert (job.created, job.failed, job.cursor) == (ROWS, 1, ROWS + 1)
    assert job.issues.filter(phase="run").count() == 1
    creates = AuditEntry.objects.filter(action="create", note=job.note).values_list("object_id", flat=True)
    assert Counter(creates) == Counter(
        str(pk) for pk in Customer.objects.filter(name__in=names).values_list("pk", flat=True)
    )


def kill_on_batch(monkeypatch, number: int, *, after_writing: bool) -> None:
    original, calls = writer.write, []

    def write(planner, plans):
        calls.append(1)
        if len(calls) == number and not after_writing:
            raise Killed
        result = original(planner, plans)
        if len(calls) == number:
            raise Killed  # the batch's rows are written but its transaction never commits
        return result

    monkeypatch.setattr(writer, "write", write)


@pytest.mark.django_db
@pytest.mark.parametrize("after_writing", [False, True], ids=["between-batches", "inside-a-batch"])
def test_a_killed_worker_leaves_the_job_to_the_next_one_without_duplicates_or_losses(
    queued, monkeypatch, after_writing
):
    kill_on_batch(monkeypatch, 3, after_writing=after_writing)
    with pytest.raises(Killed):
        work(queued)
    queued.refresh_from_db()
    assert queued.status == ImportStatus.RUNNING and queued.cursor == 2 * BATCH and queued.lease_token
    assert Customer.objects.filter(name__startswith="续传客户").count() == 2 * BATCH - 1
    monkeypatch.undo()
    # while the dead worker's lease runs, nobody else may take the job
    assert work(queued) == "not claimed"
    assert queued.is_stalled is False
    ImportJob.objects.filter(pk=queued.pk).update(lease_until=queued.lease_until.replace(year=2000))
    queued.refresh_from_db()
    assert queued.is_stalled
    # what `manage.py resume_imports` does: enqueue the stalled job (the test backend runs it at once)
    assert services.imports_resume_stalled() == 1
    assert work(queued) == "not claimed"  # finished by the resumed task
    assert_exactly_once(queued)


@pytest.mark.django_db
def test_a_failed_pass_is_resumed_after_the_last_committed_batch(queued, monkeypatch, importer):
    original, calls = writer.write, []

    def write(planner, plans):
        calls.append(1)
        if len(calls) == 2:
            original(planner, plans)
            raise ConnectionError("database went away")
        return original(planner, plans)

    monkeypatch.setattr(writer, "write", write)
    assert work(queued) == "failed"
    assert queued.status == "failed" and "ConnectionError" in queued.error and queued.cursor == BATCH
    monkeypatch.undo()
    services.import_resume(job=queued, by=importer)
    assert queued.status == ImportStatus.RUNNING
    assert work(queued) == "done"
    assert_exactly_once(queued)


@pytest.mark.django_db
def test_a_worker_that_lost_its_lease_stops_before_writing(queued, monkeypatch):
    from kehu.customers.imports import rows

    original, calls = rows.Planner.plan, []

    def plan(self, batch):
        calls.append(1)
        if len(calls) == 2:  # meanwhile the job was given to another worker
            ImportJob.objects.filter(pk=self.job.pk).update(lease_token="someone-else")
        return original(self, batch)

    monkeypatch.setattr(rows.Planner, "plan", plan)
    assert work(queued) == "lease lost"
    assert queued.cursor == BATCH and Customer.objects.filter(name__startswith="续传客户").count() == BATCH
    monkeypatch.undo()
    ImportJob.objects.filter(pk=queued.pk).update(lease_token="", lease_until=None)
    assert work(queued) == "done"
    assert_exactly_once(queued)


@pytest.mark.django_db
def test_paused_passes_continue_where_they_stopped_and_enqueueing_twice_is_harmless(queued):
    outcomes = [work(queued, max_batches=1) for _i in range(3)]
    assert outcomes == ["paused"] * 3 and queued.cursor == 3 * BATCH
    assert work(queued) == "done"
    assert work(queued) == "not claimed"  # a second task for the same job finds nothing to do
    assert_exactly_once(queued)


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_job_write_every_row_once(importer, settings, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent row locks (SQLite serialises writers in one file)")
    # outside a test transaction on_commit fires at once: queue the task nowhere, the threads are the workers
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    queued = make_queued(importer, settings)
    assert queued.status == ImportStatus.QUEUED
    # a lease of zero seconds: each worker may take the job from the other at every batch, so the fencing
    # (row lock + lease token + cursor check in each batch's transaction) is what keeps rows from doubling
    settings.KEHU_IMPORT_LEASE_SECONDS = 0
    from kehu.customers.imports import rows

    original = rows.Planner.plan

    def slow_plan(self, batch):
        time.sleep(0.02)
        return original(self, batch)

    monkeypatch.setattr(rows.Planner, "plan", slow_plan)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def compete():
        try:
            for _attempt in range(400):
                outcome = worker.import_job_work(queued.pk)
                outcomes.append(outcome)
                if ImportJob.objects.filter(pk=queued.pk, status=ImportStatus.DONE).exists():
                    return
                time.sleep(0.005)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=compete) for _i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert "done" in outcomes and "failed" not in outcomes
    assert_exactly_once(queued)


@pytest.mark.django_db
def test_the_resume_command_enqueues_stalled_jobs(queued, settings):
    from io import StringIO

    from django.core.management import call_command

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    ImportJob.objects.filter(pk=queued.pk).update(lease_token="dead-worker", lease_until=queued.created_at)
    out = StringIO()
    call_command("resume_imports", stdout=out)
    assert out.getvalue().strip() == "imports resumed: 1"
    from django_tasks import default_task_backend

    assert [r.args for r in default_task_backend.results] == [[queued.pk]]
