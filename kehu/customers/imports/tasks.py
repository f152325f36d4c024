"""Background work of imports (django-tasks; `manage.py db_worker` runs it)."""

from django_tasks import task


@task()
def import_work(job_id: int) -> str:
    """Run the job's current pass; safe to enqueue twice (only one worker can claim a job)."""
    from .worker import import_job_work

    return import_job_work(job_id)
