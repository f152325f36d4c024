"""Search index over Customer.search_text: GIN on PostgreSQL, an FTS5 table kept in sync on SQLite."""

from django.db import migrations

SQLITE = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS customers_customer_fts USING fts5(
         search_text, content='customers_customer', content_rowid='id',
         tokenize="unicode61 remove_diacritics 0 tokenchars '.@-_+'", prefix='1 2 3 4')""",
    """CREATE TRIGGER IF NOT EXISTS customers_customer_fts_ai AFTER INSERT ON customers_customer BEGIN
         INSERT INTO customers_customer_fts(rowid, search_text) VALUES (new.id, new.search_text); END""",
    """CREATE TRIGGER IF NOT EXISTS customers_customer_fts_ad AFTER DELETE ON customers_customer BEGIN
         INSERT INTO customers_customer_fts(customers_customer_fts, rowid, search_text)
         VALUES ('delete', old.id, old.search_text); END""",
    """CREATE TRIGGER IF NOT EXISTS customers_customer_fts_au AFTER UPDATE OF search_text ON customers_customer
       BEGIN
         INSERT INTO customers_customer_fts(customers_customer_fts, rowid, search_text)
         VALUES ('delete', old.id, old.search_text);
         INSERT INTO customers_customer_fts(rowid, search_text) VALUES (new.id, new.search_text); END""",
    "INSERT INTO customers_customer_fts(customers_customer_fts) VALUES ('rebuild')",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS customers_customer_fts_ai",
    "DROP TRIGGER IF EXISTS customers_customer_fts_ad",
    "DROP TRIGGER IF EXISTS customers_customer_fts_au",
    "DROP TABLE IF EXISTS customers_customer_fts",
]
POSTGRES = [
    "CREATE INDEX IF NOT EXISTS customers_customer_search_gin ON customers_customer "
    "USING gin ((search_text::tsvector))",
]
POSTGRES_REVERSE = ["DROP INDEX IF EXISTS customers_customer_search_gin"]


def forwards(apps, schema_editor):
    statements = POSTGRES if schema_editor.connection.vendor == "postgresql" else (
        SQLITE if schema_editor.connection.vendor == "sqlite" else [])
    for sql in statements:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    statements = POSTGRES_REVERSE if schema_editor.connection.vendor == "postgresql" else (
        SQLITE_REVERSE if schema_editor.connection.vendor == "sqlite" else [])
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
