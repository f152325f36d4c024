"""Send due webhook deliveries (retries included) and purge old idempotency keys, once or every N seconds."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from kehu.integrations import delivery, idempotency


class Command(BaseCommand):
    help = "Send due webhook deliveries and purge idempotency keys older than a day."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=int, default=0, help="repeat every N seconds (0: once)")

    def handle(self, *args, every: int = 0, **options):
        while True:
            sent = delivery.dispatch()
            purged = idempotency.purge()
            self.stdout.write(f"delivered {sent}, purged {purged} idempotency keys")
            if not every:
                return
            time.sleep(every)
