"""The audit trail's append-only triggers lose their switch (issue 7): the `core_dbguard` table, which the
application's own database role could set to 0, is dropped, and the triggers always refuse UPDATE, DELETE and
TRUNCATE. On PostgreSQL they are `ENABLE ALWAYS` (they fire under session_replication_role = replica too);
only the table's owner can disable them (kehu.core.dbguards.suspended, used by `manage.py flush`)."""

import importlib

from django.db import migrations

from kehu.core import dbguards


def forwards(apps, schema_editor):
    dbguards.install(schema_editor.connection)


def backwards(apps, schema_editor):
    # back to the triggers of 0002 (with their switch table, on)
    old = importlib.import_module("kehu.core.migrations.0002_audit_append_only")
    c = schema_editor.connection
    if c.vendor == "postgresql":
        old._run(c, old.POSTGRES_UNINSTALL)
        old._run(c, old.POSTGRES_INSTALL)
    else:
        old._run(c, old.SQLITE_UNINSTALL)
        old._run(c, old.SQLITE_INSTALL)


class Migration(migrations.Migration):
    dependencies = [("core", "0003_audit_signin_actions")]
    operations = [migrations.RunPython(forwards, backwards)]
