"""Database-level guards: the audit trail is append-only (triggers refuse UPDATE, DELETE and TRUNCATE).

Installed by migration core.0002, replaced by core.0004: the triggers have no switch. (Until 0004 they read a
one-row table `core_dbguard`, which the application's own database role could set to 0 — issue 7.)

What holds, and against whom (docs/adr/0002-audit-trail.md, docs/deployment.md):
- PostgreSQL: a role that does not own `core_auditentry` and is not a superuser — the role the application
  runs as in production — can INSERT and SELECT audit rows, nothing else: UPDATE, DELETE and TRUNCATE raise,
  and it may not disable, drop or replace the triggers (that needs the table's owner) nor set
  `session_replication_role` (superuser). Only the owner (the migration role) can suspend the guard, with
  `ALTER TABLE ... DISABLE TRIGGER`, which is what `suspended()` does for `manage.py flush`.
- SQLite: the triggers refuse the application's UPDATE/DELETE statements; SQLite has no roles, so anyone who
  can write the database file (or run SQL on it) can drop them. They protect against bugs, not against an
  attacker with the file.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import transaction

MESSAGE = "audit trail is append-only"

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER IF NOT EXISTS core_auditentry_no_update BEFORE UPDATE ON core_auditentry
       BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;""",
    f"""CREATE TRIGGER IF NOT EXISTS core_auditentry_no_delete BEFORE DELETE ON core_auditentry
       BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;""",
]
SQLITE_DROP_TRIGGERS = [
    "DROP TRIGGER IF EXISTS core_auditentry_no_update",
    "DROP TRIGGER IF EXISTS core_auditentry_no_delete",
]
SQLITE_INSTALL = [*SQLITE_DROP_TRIGGERS, *SQLITE_TRIGGERS, "DROP TABLE IF EXISTS core_dbguard"]
POSTGRES_INSTALL = [
    f"""CREATE OR REPLACE FUNCTION core_auditentry_append_only() RETURNS trigger AS $$
       BEGIN
         RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
       END; $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE TRIGGER core_auditentry_no_change BEFORE UPDATE OR DELETE ON core_auditentry
       FOR EACH ROW EXECUTE FUNCTION core_auditentry_append_only()""",
    # TRUNCATE bypasses row triggers; refuse it too.
    """CREATE OR REPLACE TRIGGER core_auditentry_no_truncate BEFORE TRUNCATE ON core_auditentry
       FOR EACH STATEMENT EXECUTE FUNCTION core_auditentry_append_only()""",
    # `ENABLE ALWAYS`: the triggers fire even with session_replication_role = replica
    "ALTER TABLE core_auditentry ENABLE ALWAYS TRIGGER core_auditentry_no_change",
    "ALTER TABLE core_auditentry ENABLE ALWAYS TRIGGER core_auditentry_no_truncate",
    "DROP TABLE IF EXISTS core_dbguard",
]
POSTGRES_TRIGGERS = ("core_auditentry_no_change", "core_auditentry_no_truncate")


def _run(connection, statements) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def install(connection) -> None:
    _run(connection, POSTGRES_INSTALL if connection.vendor == "postgresql" else SQLITE_INSTALL)


@contextmanager
def suspended(connection):
    """Lift the guard for the duration, in one transaction, and put it back (also when the body fails, by
    rolling back). For tooling that empties every table — `manage.py flush`, the test suite's teardown of
    transactional tests. On PostgreSQL it needs the table's owner (ALTER TABLE), which the application role
    is not; on SQLite it drops and re-creates the triggers."""
    with transaction.atomic(using=connection.alias):
        if connection.vendor == "postgresql":
            _run(connection, [f"ALTER TABLE core_auditentry DISABLE TRIGGER {t}" for t in POSTGRES_TRIGGERS])
            yield
            _run(
                connection,
                [f"ALTER TABLE core_auditentry ENABLE ALWAYS TRIGGER {t}" for t in POSTGRES_TRIGGERS],
            )
        else:
            _run(connection, SQLITE_DROP_TRIGGERS)
            yield
            _run(connection, SQLITE_TRIGGERS)
