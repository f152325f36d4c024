"""NBA worklist per rep and the nightly score update (ADR 0011, an11 addendum).

- `NbaRecommendation.customer_owner_id` and `consent_ok`: the customer's owner and their consent for the
  action's channel copied onto each recommendation, with a partial index (owner, benefit index) over the
  worklist's rows that are still consented, so that a rep's worklist walks only that rep's rows in
  benefit order (before: the whole benefit index, filtered row by row — ~6 s for a rep with almost no eligible
  customer among a million). Kept current by row triggers on the customer's owner and consent (PostgreSQL and
  SQLite); the NBA run writes them and re-reads them inside its write transaction.
- `analytics_customerscore` gets fillfactor 50 on PostgreSQL: the nightly run updates every score row, none of
  the updated columns but the segment is indexed, so with free room on each page the updates are HOT (no index
  entries written for the unchanged ones).
"""

from django.db import migrations, models

POSTGRES_FORWARD = """
CREATE FUNCTION analytics_nba_owner_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE analytics_nbarecommendation SET customer_owner_id = NEW.owner_id WHERE customer_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER analytics_nba_owner_moved AFTER UPDATE OF owner_id ON customers_customer
    FOR EACH ROW WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id) EXECUTE FUNCTION analytics_nba_owner_moved();
CREATE FUNCTION analytics_nba_consent_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE analytics_nbarecommendation AS r
        SET consent_ok = COALESCE(a.consent_channel = '' OR (NEW.consent -> a.consent_channel ->> 'status') = 'granted', false)
        FROM analytics_nbaaction AS a
        WHERE r.customer_id = NEW.id AND a.id = r.action_id
          AND r.consent_ok IS DISTINCT FROM
              COALESCE(a.consent_channel = '' OR (NEW.consent -> a.consent_channel ->> 'status') = 'granted', false);
    RETURN NULL;
END $$;
CREATE TRIGGER analytics_nba_consent_changed AFTER UPDATE OF consent ON customers_customer
    FOR EACH ROW WHEN (OLD.consent IS DISTINCT FROM NEW.consent) EXECUTE FUNCTION analytics_nba_consent_changed();
UPDATE analytics_nbarecommendation AS r SET customer_owner_id = c.owner_id
    FROM customers_customer AS c WHERE c.id = r.customer_id;
ALTER TABLE analytics_customerscore SET (fillfactor = 50);
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS analytics_nba_owner_moved ON customers_customer;
DROP FUNCTION IF EXISTS analytics_nba_owner_moved();
DROP TRIGGER IF EXISTS analytics_nba_consent_changed ON customers_customer;
DROP FUNCTION IF EXISTS analytics_nba_consent_changed();
ALTER TABLE analytics_customerscore RESET (fillfactor);
"""
SQLITE_FORWARD = [
    """CREATE TRIGGER analytics_nba_owner_moved AFTER UPDATE OF owner_id ON customers_customer FOR EACH ROW
        WHEN OLD.owner_id IS NOT NEW.owner_id BEGIN
        UPDATE analytics_nbarecommendation SET customer_owner_id = NEW.owner_id WHERE customer_id = NEW.id;
    END""",
    """UPDATE analytics_nbarecommendation SET customer_owner_id = (SELECT c.owner_id FROM customers_customer AS c
        WHERE c.id = analytics_nbarecommendation.customer_id)""",
    """CREATE TRIGGER analytics_nba_consent_changed AFTER UPDATE OF consent ON customers_customer FOR EACH ROW
        WHEN OLD.consent IS NOT NEW.consent BEGIN
        UPDATE analytics_nbarecommendation SET consent_ok = (
            SELECT CASE WHEN a.consent_channel = '' THEN 1
                ELSE COALESCE(json_extract(NEW.consent, '$.' || a.consent_channel || '.status') = 'granted', 0) END
            FROM analytics_nbaaction AS a WHERE a.id = analytics_nbarecommendation.action_id)
        WHERE customer_id = NEW.id;
    END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS analytics_nba_owner_moved",
    "DROP TRIGGER IF EXISTS analytics_nba_consent_changed",
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
        ("analytics", "0009_runrefs"),
        ("customers", "0013_search_restricted"),
    ]

    operations = [
        migrations.AddField(
            model_name="nbarecommendation",
            name="customer_owner_id",
            field=models.BigIntegerField(editable=False, null=True, verbose_name="customer's owner"),
        ),
        migrations.AddField(
            model_name="nbarecommendation",
            name="consent_ok",
            field=models.BooleanField(default=True, editable=False, verbose_name="consent given"),
        ),
        migrations.AddIndex(
            model_name="nbarecommendation",
            index=models.Index(
                condition=models.Q(
                    ("benefit_index__gt", 0), ("consent_ok", True), ("rank", 1), ("state", "open")
                ),
                fields=["customer_owner_id", "-benefit_index", "customer"],
                name="ix_nba_owner_worklist",
            ),
        ),
        migrations.RunPython(forward, backward, elidable=False),
    ]
