"""The audit trail is append-only at the database level: triggers refuse UPDATE and DELETE (and TRUNCATE).

The SQL is frozen here as it was first installed (with the `core_dbguard` switch table); migration 0004
replaces it with triggers that have no switch (kehu.core.dbguards)."""

from django.db import migrations

SQLITE_INSTALL = [
    "CREATE TABLE IF NOT EXISTS core_dbguard (enabled INTEGER NOT NULL)",
    "INSERT INTO core_dbguard (enabled) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM core_dbguard)",
    """CREATE TRIGGER IF NOT EXISTS core_auditentry_no_update BEFORE UPDATE ON core_auditentry
       WHEN COALESCE((SELECT enabled FROM core_dbguard LIMIT 1), 1) = 1
       BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;""",
    """CREATE TRIGGER IF NOT EXISTS core_auditentry_no_delete BEFORE DELETE ON core_auditentry
       WHEN COALESCE((SELECT enabled FROM core_dbguard LIMIT 1), 1) = 1
       BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;""",
]
SQLITE_UNINSTALL = [
    "DROP TRIGGER IF EXISTS core_auditentry_no_update",
    "DROP TRIGGER IF EXISTS core_auditentry_no_delete",
    "DROP TABLE IF EXISTS core_dbguard",
]
POSTGRES_INSTALL = [
    "CREATE TABLE IF NOT EXISTS core_dbguard (enabled INTEGER NOT NULL)",
    "INSERT INTO core_dbguard (enabled) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM core_dbguard)",
    """CREATE OR REPLACE FUNCTION core_auditentry_append_only() RETURNS trigger AS $$
       BEGIN
         IF COALESCE((SELECT enabled FROM core_dbguard LIMIT 1), 1) = 1 THEN
           RAISE EXCEPTION 'audit trail is append-only';
         END IF;
         IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
         RETURN NEW;
       END; $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE TRIGGER core_auditentry_no_change BEFORE UPDATE OR DELETE ON core_auditentry
       FOR EACH ROW EXECUTE FUNCTION core_auditentry_append_only()""",
    # TRUNCATE bypasses row triggers; refuse it too.
    """CREATE OR REPLACE TRIGGER core_auditentry_no_truncate BEFORE TRUNCATE ON core_auditentry
       FOR EACH STATEMENT EXECUTE FUNCTION core_auditentry_append_only()""",
]
POSTGRES_UNINSTALL = [
    "DROP TRIGGER IF EXISTS core_auditentry_no_truncate ON core_auditentry",
    "DROP TRIGGER IF EXISTS core_auditentry_no_change ON core_auditentry",
    "DROP FUNCTION IF EXISTS core_auditentry_append_only()",
    "DROP TABLE IF EXISTS core_dbguard",
]


def _run(connection, statements) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def forwards(apps, schema_editor):
    c = schema_editor.connection
    _run(c, POSTGRES_INSTALL if c.vendor == "postgresql" else SQLITE_INSTALL)


def backwards(apps, schema_editor):
    c = schema_editor.connection
    _run(c, POSTGRES_UNINSTALL if c.vendor == "postgresql" else SQLITE_UNINSTALL)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
