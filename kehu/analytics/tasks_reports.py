"""Background job of the report builder (django-tasks API): the scheduled e-mail delivery of saved reports.
`manage.py reports_scheduler --every 3600` enqueues it hourly (or cron calls it with --now); a report is sent at
most once per period (claimed under a row lock), so any number of workers and runs a day are safe."""

from __future__ import annotations

from django_tasks import task


@task()
def deliver_reports() -> dict:
    from .services_reports import reports_deliver_due

    return reports_deliver_due()
