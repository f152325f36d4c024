"""Background jobs of webhooks (django-tasks; `manage.py db_worker` runs them)."""

from __future__ import annotations

from django_tasks import task


@task()
def fan_out(payload: dict) -> int:
    from . import webhooks

    return webhooks.fan_out(payload)


@task()
def dispatch_due() -> int:
    from . import delivery

    return delivery.dispatch()
