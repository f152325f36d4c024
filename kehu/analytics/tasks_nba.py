"""Background job: the NBA run (after the nightly scoring, and on demand from the worklist page)."""

from __future__ import annotations

from django_tasks import task


@task()
def nba_recompute(started_by_id: int | None = None) -> dict:
    from kehu.core.models import User

    from .services_nba import nba_run

    by = User.objects.filter(pk=started_by_id).first() if started_by_id else None
    run = nba_run(by=by)
    return {"run": run.pk, "customers": run.customers, "recommendations": run.recommendations}
