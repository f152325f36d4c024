"""`manage.py automation_scheduler [--now] [--every N]`: enqueue (or run) the scan for time triggers of
workflow rules: dates reached, time without activity, schedules (started by `make run`)."""

from kehu.core.periodic import PeriodicJobCommand

from ...tasks import scan_time_triggers


class Command(PeriodicJobCommand):
    help = "Fire the time triggers of workflow rules (dates reached, no activity, schedules)."
    task = scan_time_triggers
    service_path = "kehu.automation.schedule.scan"
    label = "rule runs"
