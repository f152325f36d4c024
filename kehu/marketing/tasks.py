"""Background work of campaigns (django-tasks): one tick moves the journeys on and sends what is due."""

from __future__ import annotations

from django_tasks import task


@task()
def campaign_tick() -> dict:
    """Advance the journeys, then send until nothing is due. Safe to run in several workers at once: the
    enrolments and messages are claimed with SKIP LOCKED and every send is checked under per-customer locks."""
    from .services import campaigns, sending

    moved = campaigns.journeys_advance()
    out = sending.dispatch()
    return {"moved": moved, "sent": out.sent, "held": out.held, "dropped": out.dropped, "failed": out.failed}


def campaign_tick_run() -> dict:
    """The tick in this process (``campaign_scheduler --now``, the kill tests' worker process)."""
    return campaign_tick.func()
