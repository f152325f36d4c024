"""Re-enqueue imports whose worker died (its lease ran out) so that another worker continues them.

A worker killed mid-import leaves the job claimed until its lease (5 minutes by default,
KEHU_IMPORT_LEASE_SECONDS) runs out; this command hands such jobs to the queue again. Run it from cron or
next to the worker (`resume_imports --every 300`). Enqueueing a job twice is harmless: one worker claims it.
"""

import time

from django.core.management.base import BaseCommand

from kehu.customers.imports.services import imports_resume_stalled


class Command(BaseCommand):
    help = "Enqueue stalled imports again (their worker stopped)."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=int, default=0, help="repeat every N seconds (0 = once)")

    def handle(self, *args, every: int, **options):
        while True:
            self.stdout.write(f"imports resumed: {imports_resume_stalled()}")
            if not every:
                return
            time.sleep(every)
