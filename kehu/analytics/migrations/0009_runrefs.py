"""The run and cycle references that migration 0008 left without a database constraint keep their referential
actions inside the database (ADR 0011, "Run references" addendum): deleting a scoring run — through the ORM,
in SQL or in bulk — clears `run_id` of the scores and value rows that pointed at it (SET NULL), and deleting a
value cycle (also through its run's cascade) deletes its snapshot rows (CASCADE). Statement-level triggers on
the run and cycle tables: they fire only when runs or cycles are deleted, never on the millions of rows a
scoring run writes, so the write-back keeps its speed. The other half of the guarantee — no row is written
for a run that no longer exists — is the scoring run's: it holds its run row `FOR KEY SHARE` (as a foreign
key check would) from the start of its write transaction to the commit (services.scoring_run)."""

from django.db import migrations

POSTGRES_FORWARD = """
CREATE FUNCTION analytics_run_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- only when a row points at a deleted run: an UPDATE of the scores marks the report summary stale
    IF EXISTS (SELECT 1 FROM analytics_customerscore WHERE run_id IN (SELECT id FROM old_rows)) THEN
        UPDATE analytics_customerscore SET run_id = NULL WHERE run_id IN (SELECT id FROM old_rows);
    END IF;
    UPDATE analytics_customervalue SET run_id = NULL WHERE run_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END $$;
CREATE FUNCTION analytics_cycle_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM analytics_valuesnapshot WHERE cycle_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END $$;
CREATE FUNCTION analytics_runs_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'analytics_scoringrun' THEN
        UPDATE analytics_customerscore SET run_id = NULL WHERE run_id IS NOT NULL;
        UPDATE analytics_customervalue SET run_id = NULL WHERE run_id IS NOT NULL;
    END IF;
    DELETE FROM analytics_valuesnapshot;
    RETURN NULL;
END $$;
CREATE TRIGGER analytics_run_deleted AFTER DELETE ON analytics_scoringrun
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_run_deleted();
CREATE TRIGGER analytics_cycle_deleted AFTER DELETE ON analytics_valuecycle
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_cycle_deleted();
CREATE TRIGGER analytics_runs_truncated AFTER TRUNCATE ON analytics_scoringrun
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_runs_truncated();
CREATE TRIGGER analytics_cycles_truncated AFTER TRUNCATE ON analytics_valuecycle
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_runs_truncated();
"""

POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS analytics_run_deleted ON analytics_scoringrun;
DROP TRIGGER IF EXISTS analytics_cycle_deleted ON analytics_valuecycle;
DROP TRIGGER IF EXISTS analytics_runs_truncated ON analytics_scoringrun;
DROP TRIGGER IF EXISTS analytics_cycles_truncated ON analytics_valuecycle;
DROP FUNCTION IF EXISTS analytics_run_deleted();
DROP FUNCTION IF EXISTS analytics_cycle_deleted();
DROP FUNCTION IF EXISTS analytics_runs_truncated();
"""

# SQLite (development, tests): row-level triggers, no TRUNCATE
SQLITE_FORWARD = [
    """CREATE TRIGGER analytics_run_deleted AFTER DELETE ON analytics_scoringrun FOR EACH ROW BEGIN
        UPDATE analytics_customerscore SET run_id = NULL WHERE run_id = OLD.id;
        UPDATE analytics_customervalue SET run_id = NULL WHERE run_id = OLD.id;
    END""",
    """CREATE TRIGGER analytics_cycle_deleted AFTER DELETE ON analytics_valuecycle FOR EACH ROW BEGIN
        DELETE FROM analytics_valuesnapshot WHERE cycle_id = OLD.id;
    END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS analytics_run_deleted",
    "DROP TRIGGER IF EXISTS analytics_cycle_deleted",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD)
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKWARD)
    elif vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0008_scoring"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
