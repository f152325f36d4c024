"""Background jobs (django-tasks API). `manage.py sales_scheduler --every 60` enqueues `run_sales_schedule`."""

from __future__ import annotations

from django_tasks import task


@task()
def run_sales_schedule() -> dict:
    """The periodic sales work: lead first-contact SLA reminders and escalations, quote expiry, overdue
    instalment reminders, contract renewal reminders and expiry, pool recycling (warnings, then returns)."""
    from .services.quotes import quotes_expire
    from .services.receivables import instalments_overdue_remind
    from .services.renewals import contracts_expire, contracts_renewal_remind
    from .services.sla import lead_sla_scan

    return {
        "lead_sla": lead_sla_scan(),
        "quotes_expired": quotes_expire(),
        "instalments_reminded": instalments_overdue_remind(),
        "contracts_renewal_reminded": contracts_renewal_remind(),
        "contracts_expired": contracts_expire(),
        "pools": _pools_recycle(),
    }


def _pools_recycle() -> dict:
    """Recycle rules of the public pools: warn owners, then return customers to the pool. A scan over every
    owned customer takes seconds at scale, so it runs once an hour, not with every minute's schedule (the
    claim in the cache is per hour; a second run in the same hour would change nothing anyway)."""
    from django.core.cache import cache
    from django.utils import timezone

    from .services.pools import pools_recycle

    hour = timezone.now().strftime("%Y%m%d%H")
    if not cache.add(f"kehu:sales:pools_recycle:{hour}", True, 2 * 3600):
        return {"skipped": 1}
    return pools_recycle()
