"""`manage.py approvals_adopt`: start an engine request for every record left "awaiting approval" without one
(migration 0003 does the same once; safe to repeat)."""

from django.core.management.base import BaseCommand

from kehu.approvals.services import adopt_awaiting


class Command(BaseCommand):
    help = "Start an approval request for records awaiting approval that have none on the engine."

    def handle(self, *args, **options):
        for label, count in adopt_awaiting().items():
            self.stdout.write(f"{label}: {count}")
