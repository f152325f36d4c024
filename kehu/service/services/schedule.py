"""The service app's periodic work, run by `manage.py service_scheduler` (started by `make run`): SLA
warnings, breaches and escalations, and closing tickets that stayed resolved."""

from __future__ import annotations

from django.conf import settings

from .sla import sla_scan
from .tickets import tickets_autoclose


def schedule_run() -> dict[str, int]:
    counts = sla_scan()
    counts["closed"] = tickets_autoclose(days=settings.KEHU_TICKET_AUTOCLOSE_DAYS)
    return counts
