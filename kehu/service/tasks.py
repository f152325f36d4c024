"""Background jobs (django-tasks). `manage.py db_worker` runs them; `manage.py service_scheduler` enqueues
the periodic ones."""

from __future__ import annotations

from django_tasks import task


@task()
def send_ticket_message(message_id: int) -> str:
    from .services.conversation import message_send

    return message_send(message_id=message_id)


@task()
def run_service_schedule() -> dict:
    from .services.schedule import schedule_run

    return schedule_run()
