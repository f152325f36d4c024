"""Send the saved reports that are due by e-mail (daily; weekly on Mondays; monthly on the 1st).

`manage.py reports_scheduler --every 3600` enqueues the `deliver_reports` job every hour for the task worker
(`manage.py db_worker`); `--now` runs it in this process (cron-friendly). Each recipient receives the figures
of the records they may see, with the table attached as an Excel file."""

import time

from django.core.management.base import BaseCommand

from kehu.analytics.tasks_reports import deliver_reports


class Command(BaseCommand):
    help = "Enqueue (or with --now, run) the scheduled e-mail delivery of saved reports."

    def add_arguments(self, parser):
        parser.add_argument("--now", action="store_true", help="run in this process instead of enqueueing")
        parser.add_argument("--every", type=int, default=0, help="repeat every N seconds (0 = once)")

    def handle(self, *args, now: bool, every: int, **options):
        while True:
            if now:
                from kehu.analytics.services_reports import reports_deliver_due

                self.stdout.write(f"reports: {reports_deliver_due()}")
            else:
                result = deliver_reports.enqueue()
                self.stdout.write(f"enqueued {result.id}")
            if not every:
                return
            time.sleep(every)
