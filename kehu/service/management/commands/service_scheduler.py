"""Run the service app's periodic work: SLA warnings, breaches and escalations; closing resolved tickets.

`make run` starts `manage.py service_scheduler --every 60`, which enqueues the job once a minute for the task
worker (`manage.py db_worker`). Several schedulers and workers are safe: each ticket is handled under its row
lock and each SLA event is recorded once. `--now` runs the job in this process (cron-friendly).
"""

import time

from django.core.management.base import BaseCommand

from kehu.service.tasks import run_service_schedule


class Command(BaseCommand):
    help = "Enqueue (or with --now, run) the service app's periodic job (SLA escalation, auto-close)."

    def add_arguments(self, parser):
        parser.add_argument("--now", action="store_true", help="run in this process instead of enqueueing")
        parser.add_argument("--every", type=int, default=0, help="repeat every N seconds (0 = once)")

    def handle(self, *args, now: bool, every: int, **options):
        while True:
            if now:
                from kehu.service.services.schedule import schedule_run

                self.stdout.write(f"service schedule: {schedule_run()}")
            else:
                result = run_service_schedule.enqueue()
                self.stdout.write(f"enqueued {result.id}")
            if not every:
                return
            time.sleep(every)
