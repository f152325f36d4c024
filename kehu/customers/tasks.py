from django_tasks import task


@task()
def find_duplicates() -> dict:
    from .dedup import scan

    return scan()
