import time

from django.core.management.base import BaseCommand

from kehu.customers.dedup import scan


class Command(BaseCommand):
    help = "Scan all customers for likely duplicates and refresh the review list."

    def handle(self, *args, **options):
        started = time.perf_counter()
        result = scan()
        self.stdout.write(
            f"{result['customers']} customers, {result['pairs']} candidate pairs "
            f"in {time.perf_counter() - started:.1f}s"
        )
