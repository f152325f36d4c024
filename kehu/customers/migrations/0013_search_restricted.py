"""Field-level security for search (ADR 0009): the tokens of fields a role may be denied (alias, phones,
emails, tax id) leave the shared bag `search_text` for a second bag `search_restricted`, each token tagged with
its field, searched only with the tags of the fields the user may see.

- SQLite: the FTS5 table gets a second column (recreated; triggers follow both columns);
- PostgreSQL: a second stored tsvector column `search_restricted_vector` with its own GIN index;
- every row's bags are rebuilt with the version 3 rules (keys.KEYS_VERSION), in chunks.
"""

from django.db import migrations, models

CHUNK = 5000

SQLITE = [
    "DROP TRIGGER IF EXISTS customers_customer_fts_ai",
    "DROP TRIGGER IF EXISTS customers_customer_fts_ad",
    "DROP TRIGGER IF EXISTS customers_customer_fts_au",
    "DROP TABLE IF EXISTS customers_customer_fts",
    """CREATE VIRTUAL TABLE customers_customer_fts USING fts5(
         search_text, search_restricted, content='customers_customer', content_rowid='id',
         tokenize="unicode61 remove_diacritics 0 tokenchars '.@-_+'", prefix='1 2 3 4')""",
    """CREATE TRIGGER customers_customer_fts_ai AFTER INSERT ON customers_customer BEGIN
         INSERT INTO customers_customer_fts(rowid, search_text, search_restricted)
         VALUES (new.id, new.search_text, new.search_restricted); END""",
    """CREATE TRIGGER customers_customer_fts_ad AFTER DELETE ON customers_customer BEGIN
         INSERT INTO customers_customer_fts(customers_customer_fts, rowid, search_text, search_restricted)
         VALUES ('delete', old.id, old.search_text, old.search_restricted); END""",
    """CREATE TRIGGER customers_customer_fts_au
       AFTER UPDATE OF search_text, search_restricted ON customers_customer BEGIN
         INSERT INTO customers_customer_fts(customers_customer_fts, rowid, search_text, search_restricted)
         VALUES ('delete', old.id, old.search_text, old.search_restricted);
         INSERT INTO customers_customer_fts(rowid, search_text, search_restricted)
         VALUES (new.id, new.search_text, new.search_restricted); END""",
]
SQLITE_REBUILD = "INSERT INTO customers_customer_fts(customers_customer_fts) VALUES ('rebuild')"
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS customers_customer_fts_ai",
    "DROP TRIGGER IF EXISTS customers_customer_fts_ad",
    "DROP TRIGGER IF EXISTS customers_customer_fts_au",
    "DROP TABLE IF EXISTS customers_customer_fts",
    """CREATE VIRTUAL TABLE customers_customer_fts USING fts5(
         search_text, content='customers_customer', content_rowid='id',
         tokenize="unicode61 remove_diacritics 0 tokenchars '.@-_+'", prefix='1 2 3 4')""",
    """CREATE TRIGGER customers_customer_fts_ai AFTER INSERT ON customers_customer BEGIN
         INSERT INTO customers_customer_fts(rowid, search_text) VALUES (new.id, new.search_text); END""",
    """CREATE TRIGGER customers_customer_fts_ad AFTER DELETE ON customers_customer BEGIN
         INSERT INTO customers_customer_fts(customers_customer_fts, rowid, search_text)
         VALUES ('delete', old.id, old.search_text); END""",
    """CREATE TRIGGER customers_customer_fts_au AFTER UPDATE OF search_text ON customers_customer
       BEGIN
         INSERT INTO customers_customer_fts(customers_customer_fts, rowid, search_text)
         VALUES ('delete', old.id, old.search_text);
         INSERT INTO customers_customer_fts(rowid, search_text) VALUES (new.id, new.search_text); END""",
    SQLITE_REBUILD,
]
POSTGRES = [
    "ALTER TABLE customers_customer ADD COLUMN IF NOT EXISTS search_restricted_vector tsvector "
    "GENERATED ALWAYS AS (search_restricted::tsvector) STORED",
    "CREATE INDEX IF NOT EXISTS customers_customer_search_restricted_vector ON customers_customer "
    "USING gin (search_restricted_vector)",
]
POSTGRES_REVERSE = [
    "DROP INDEX IF EXISTS customers_customer_search_restricted_vector",
    "ALTER TABLE customers_customer DROP COLUMN IF EXISTS search_restricted_vector",
]


def _run(schema_editor, statements):
    for sql in statements:
        schema_editor.execute(sql)


def index_forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE)
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES)


def index_backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE_REVERSE)
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES_REVERSE)


def rebuild(apps, schema_editor):
    """Both bags of every customer with the version 3 rules. Derived data only; streamed in chunks."""
    from kehu.customers import keys

    Customer = apps.get_model("customers", "Customer")
    related_models = {
        "phones": (apps.get_model("customers", "CustomerPhone"), "number"),
        "emails": (apps.get_model("customers", "CustomerEmail"), "email"),
        "handles": (apps.get_model("customers", "SocialIdentity"), "handle"),
    }
    connection = schema_editor.connection
    table = Customer._meta.db_table
    last = 0
    while True:
        rows = list(
            Customer.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "name", "alias", "phone", "email", "tax_id")[:CHUNK]
        )
        if not rows:
            break
        last = rows[-1][0]
        ids = [r[0] for r in rows]
        related: dict[str, dict[int, set]] = {key: {} for key in related_models}
        for key, (model, column) in related_models.items():
            for cid, value in model.objects.filter(customer_id__in=ids).values_list("customer_id", column):
                related[key].setdefault(cid, set()).add(value)
        values = []
        for pk, name, alias, phone, email, tax_id in rows:
            shared, restricted = keys.build_bags(
                name=name,
                alias=alias,
                phones=sorted(related["phones"].get(pk, set()) | ({phone} if phone else set())),
                emails=sorted(related["emails"].get(pk, set()) | ({email} if email else set())),
                tax_id=tax_id,
                handles=sorted(related["handles"].get(pk, set())),
            )
            values.append((shared, restricted, pk))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET search_text = %s, search_restricted = %s WHERE id = %s",  # noqa: S608
                values,
            )
    if connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_REBUILD)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("customers", "0012_real_imports")]
    operations = [
        migrations.AddField(
            model_name="customer",
            name="search_restricted",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(index_forwards, index_backwards),
        migrations.RunPython(rebuild, migrations.RunPython.noop, elidable=True),
    ]
