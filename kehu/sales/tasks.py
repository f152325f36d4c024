"""Background jobs (django-tasks API). `manage.py sales_scheduler --every 60` enqueues `run_sales_schedule`."""

from __future__ import annotations

from django_tasks import task


@task()
def run_sales_schedule() -> dict:
    """The periodic sales work: lead first-contact SLA reminders and escalations, quote expiry, overdue
    instalment reminders. (Contract renewals and pool recycling join here.)"""
    from .services.quotes import quotes_expire
    from .services.receivables import instalments_overdue_remind
    from .services.sla import lead_sla_scan

    return {
        "lead_sla": lead_sla_scan(),
        "quotes_expired": quotes_expire(),
        "instalments_reminded": instalments_overdue_remind(),
    }
