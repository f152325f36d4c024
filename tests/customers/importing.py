"""Helpers of the import tests: files in every encoding and format, and a job driven through its passes.

Services enqueue the worker with transaction.on_commit, which never fires inside a test transaction; the
tests run the worker themselves (`work`), which is also how they simulate killed and competing workers."""

from __future__ import annotations

import csv
import io

from kehu.customers.imports import services, worker
from kehu.customers.imports.models import ImportJob


def csv_bytes(rows, *, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows, *, sheets: dict | None = None) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.title = "客户"
    for row in rows:
        workbook.active.append(list(row))
    for title, extra in (sheets or {}).items():
        sheet = workbook.create_sheet(title)
        for row in extra:
            sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def work(job: ImportJob, **kwargs) -> str:
    """Run the job's current pass like a worker would; returns the worker's outcome."""
    outcome = worker.import_job_work(job.pk, **kwargs)
    job.refresh_from_db()
    return outcome


def upload(user, data: bytes, name: str = "customers.csv", **kwargs) -> ImportJob:
    return services.import_upload(by=user, file_name=name, data=data, **kwargs)


def configure(job: ImportJob, user, mapping=None, **options) -> ImportJob:
    return services.import_configure(
        job=job,
        by=user,
        mapping_=job.mapping if mapping is None else mapping,
        options={**job.options, **options},
    )


def preview(job: ImportJob, user) -> ImportJob:
    services.import_preview(job=job, by=user)
    assert work(job) == "done", job.error
    return job


def run(job: ImportJob, user) -> ImportJob:
    services.import_start(job=job, by=user)
    assert work(job) == "done", job.error
    return job


def import_rows(user, rows, *, name: str = "customers.csv", mapping=None, **options) -> ImportJob:
    """Upload rows as CSV, map (suggested mapping unless given), run; the finished job."""
    job = upload(user, csv_bytes(rows), name)
    configure(job, user, mapping, **options)
    return run(job, user)
