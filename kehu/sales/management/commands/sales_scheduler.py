"""Run the periodic sales work (lead SLA reminders and escalations).

`make run` starts `manage.py sales_scheduler --every 60`, which enqueues the `run_sales_schedule` job once a
minute for the task worker (`manage.py db_worker`). Any number of workers is safe: each reminder and
escalation is claimed once. `--now` runs the job in this process (cron-friendly)."""

import time

from django.core.management.base import BaseCommand

from kehu.sales.tasks import run_sales_schedule


class Command(BaseCommand):
    help = "Enqueue (or with --now, run) the periodic sales job: lead SLA reminders and escalations."

    def add_arguments(self, parser):
        parser.add_argument("--now", action="store_true", help="run in this process instead of enqueueing")
        parser.add_argument("--every", type=int, default=0, help="repeat every N seconds (0 = once)")

    def handle(self, *args, now: bool, every: int, **options):
        while True:
            if now:
                from kehu.sales.services.sla import lead_sla_scan

                self.stdout.write(f"lead SLA: {lead_sla_scan()}")
            else:
                result = run_sales_schedule.enqueue()
                self.stdout.write(f"enqueued {result.id}")
            if not every:
                return
            time.sleep(every)
