"""Send due task reminders.

`make run` starts `manage.py db_worker` (runs django-tasks jobs) and `manage.py send_reminders --every 60`,
which enqueues the `send_due_reminders` job once a minute; the worker runs it. In production run both the same
way (systemd units or containers): any number of workers is safe, each reminder is claimed once. `--now` runs
the job in this process without a worker (cron-friendly: `send_reminders --now` from a crontab).
"""

import time

from django.core.management.base import BaseCommand

from kehu.interactions.tasks import send_due_reminders


class Command(BaseCommand):
    help = "Enqueue (or with --now, run) the job that sends due task reminders."

    def add_arguments(self, parser):
        parser.add_argument("--now", action="store_true", help="run in this process instead of enqueueing")
        parser.add_argument("--every", type=int, default=0, help="repeat every N seconds (0 = once)")

    def handle(self, *args, now: bool, every: int, **options):
        while True:
            if now:
                from kehu.interactions.services import reminders_send_due

                self.stdout.write(f"reminders sent: {reminders_send_due()}")
            else:
                result = send_due_reminders.enqueue()
                self.stdout.write(f"enqueued {result.id}")
            if not every:
                return
            time.sleep(every)
