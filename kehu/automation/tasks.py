"""Background jobs of workflow rules (django-tasks; `manage.py db_worker` runs them)."""

from __future__ import annotations

from django_tasks import task


@task()
def process_writes(payload: dict) -> int:
    from . import engine

    return engine.process_writes(payload)


@task()
def retry_run(run_id: int) -> str:
    from . import engine

    run = engine.retry(run_id)
    return run.status if run else "gone"


@task()
def scan_time_triggers() -> int:
    from . import schedule

    return schedule.scan()
