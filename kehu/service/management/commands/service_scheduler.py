"""Run the service app's periodic work: SLA warnings, breaches and escalations; closing resolved tickets.

`make run` starts `manage.py service_scheduler --every 60`, which enqueues the job once a minute for the task
worker (`manage.py db_worker`). Several schedulers and workers are safe: each ticket is handled under its row
lock and each SLA event is recorded once. `--now` runs the job in this process (cron-friendly).
"""

from kehu.core.periodic import PeriodicJobCommand
from kehu.service.tasks import run_service_schedule


class Command(PeriodicJobCommand):
    help = "Enqueue (or with --now, run) the service app's periodic job (SLA escalation, auto-close)."
    task = run_service_schedule
    service_path = "kehu.service.services.schedule.schedule_run"
    label = "service schedule"
