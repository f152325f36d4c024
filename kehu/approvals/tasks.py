"""The approvals' periodic job as a django-tasks job (enqueued by `manage.py approvals_scheduler`)."""

from django_tasks import task


@task()
def remind_and_escalate() -> dict:
    from .services import approvals_remind_escalate

    return approvals_remind_escalate()
