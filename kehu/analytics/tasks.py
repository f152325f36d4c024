"""Background jobs (django-tasks API): the scoring run, enqueued nightly (`manage.py analytics_score
--enqueue` from cron or a scheduler) and on demand from the analytics page."""

from __future__ import annotations

from django_tasks import task


@task()
def score_customers(started_by_id: int | None = None) -> dict:
    from kehu.core.models import User

    from .services import scoring_run

    by = User.objects.filter(pk=started_by_id).first() if started_by_id else None
    run = scoring_run(by=by)
    return {"run": run.pk, "customers": run.customers, "messages": run.messages}
