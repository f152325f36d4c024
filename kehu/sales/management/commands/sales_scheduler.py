"""Run the periodic sales work (lead SLA reminders and escalations).

`make run` starts `manage.py sales_scheduler --every 60`, which enqueues the `run_sales_schedule` job once a
minute for the task worker (`manage.py db_worker`). Any number of workers is safe: each reminder and
escalation is claimed once. `--now` runs the job in this process (cron-friendly)."""

from kehu.core.periodic import PeriodicJobCommand
from kehu.sales.tasks import run_sales_schedule


class Command(PeriodicJobCommand):
    help = "Enqueue (or with --now, run) the periodic sales job: lead SLA reminders and escalations."
    task = run_sales_schedule
    service_path = "kehu.sales.services.sla.lead_sla_scan"
    label = "lead SLA"
