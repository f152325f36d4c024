"""Background jobs (django-tasks API). `manage.py db_worker` runs them; `make run` starts one."""

from __future__ import annotations

from django_tasks import task


@task()
def send_due_reminders() -> int:
    from . import services

    return services.reminders_send_due()
