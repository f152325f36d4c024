from django_tasks import task


@task()
def run_retention() -> str:
    from .retention import run_scheduled

    return run_scheduled()
