"""The weekly forecast snapshot as a django-tasks job (enqueued by `manage.py forecast_snapshot`)."""

from django_tasks import task


@task()
def take_forecast_snapshots() -> int:
    from .services.forecast import snapshot_take

    return snapshot_take()
