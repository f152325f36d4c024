"""Database-level guards: the audit trail is append-only (triggers refuse UPDATE, DELETE and TRUNCATE).

Installed by migration core.0002. The guard reads a one-row switch table (core_dbguard, not a Django model,
so table flushes leave it alone). It is on in every real database; the test suite switches it off because
Django empties all tables between transactional tests, and the guard's own tests switch it on again inside
their transaction.
"""

from contextlib import contextmanager

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


def install(connection) -> None:
    _run(connection, POSTGRES_INSTALL if connection.vendor == "postgresql" else SQLITE_INSTALL)


def uninstall(connection) -> None:
    _run(connection, POSTGRES_UNINSTALL if connection.vendor == "postgresql" else SQLITE_UNINSTALL)


def set_enabled(connection, enabled: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_dbguard SET enabled = %s", [1 if enabled else 0])


@contextmanager
def enabled(connection):
    """Switch the guard on for the duration (tests of the guard, inside their transaction)."""
    set_enabled(connection, True)
    try:
        yield
    finally:
        set_enabled(connection, False)
