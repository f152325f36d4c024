"""Knowledge-base search index over Article.search_text, the same machinery as customers (ADR 0004):
PostgreSQL a stored tsvector column with a GIN index; SQLite an FTS5 table kept in sync by triggers."""

from django.db import migrations

SQLITE = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS service_article_fts USING fts5(
         search_text, content='service_article', content_rowid='id',
         tokenize="unicode61 remove_diacritics 0 tokenchars '.@-_+'", prefix='1 2 3 4')""",
    """CREATE TRIGGER IF NOT EXISTS service_article_fts_ai AFTER INSERT ON service_article BEGIN
         INSERT INTO service_article_fts(rowid, search_text) VALUES (new.id, new.search_text); END""",
    """CREATE TRIGGER IF NOT EXISTS service_article_fts_ad AFTER DELETE ON service_article BEGIN
         INSERT INTO service_article_fts(service_article_fts, rowid, search_text)
         VALUES ('delete', old.id, old.search_text); END""",
    """CREATE TRIGGER IF NOT EXISTS service_article_fts_au AFTER UPDATE OF search_text ON service_article
       BEGIN
         INSERT INTO service_article_fts(service_article_fts, rowid, search_text)
         VALUES ('delete', old.id, old.search_text);
         INSERT INTO service_article_fts(rowid, search_text) VALUES (new.id, new.search_text); END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS service_article_fts_ai",
    "DROP TRIGGER IF EXISTS service_article_fts_ad",
    "DROP TRIGGER IF EXISTS service_article_fts_au",
    "DROP TABLE IF EXISTS service_article_fts",
]
POSTGRES = [
    "ALTER TABLE service_article ADD COLUMN IF NOT EXISTS search_vector tsvector "
    "GENERATED ALWAYS AS (search_text::tsvector) STORED",
    "CREATE INDEX IF NOT EXISTS service_article_search_vector ON service_article USING gin (search_vector)",
]
POSTGRES_REVERSE = [
    "DROP INDEX IF EXISTS service_article_search_vector",
    "ALTER TABLE service_article DROP COLUMN IF EXISTS search_vector",
]


def run(sqlite, postgres):
    def apply(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for sql in postgres if vendor == "postgresql" else sqlite if vendor == "sqlite" else []:
            schema_editor.execute(sql)

    return apply


class Migration(migrations.Migration):
    dependencies = [("service", "0001_initial")]
    operations = [migrations.RunPython(run(SQLITE, POSTGRES), run(SQLITE_REVERSE, POSTGRES_REVERSE))]
