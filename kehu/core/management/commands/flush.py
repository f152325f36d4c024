"""`manage.py flush` that works with the audit trail's append-only guard: the guard is suspended for the
flush, in the same transaction (kehu.core.dbguards.suspended). On PostgreSQL that needs the owner of the
audit table — the migration role, never the application role — so the application cannot empty its own
audit trail. The test suite's teardown of transactional tests runs this command too."""

from django.core.management.commands.flush import Command as DjangoFlush
from django.db import connections

from kehu.core import dbguards


class Command(DjangoFlush):
    def handle(self, **options):
        connection = connections[options["database"]]
        with dbguards.suspended(connection):
            return super().handle(**options)
