"""Background jobs (django-tasks API). `manage.py sales_scheduler --every 60` enqueues `run_sales_schedule`."""

from __future__ import annotations

from django_tasks import task


@task()
def run_sales_schedule() -> dict:
    """The periodic sales work: lead first-contact SLA reminders and escalations. (Phase 2 adds overdue
    instalments, contract renewals and pool recycling here.)"""
    from .services.sla import lead_sla_scan

    return {"lead_sla": lead_sla_scan()}
