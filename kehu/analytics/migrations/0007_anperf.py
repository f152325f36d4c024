"""The order-line summary of the report builder (issue #11 performance, ADR 0011 "Performance addendum"): the
table, and on PostgreSQL the triggers that keep it current and the function that rebuilds it."""

from django.db import migrations, models

GROUP = (
    "date_trunc('month', {t}.order_date::timestamp)::date, COALESCE(s.segment, ''), {t}.currency, {t}.counted"
)


def _delta(table: str, sign: str) -> str:
    return f"""
        INSERT INTO analytics_orderlinemonth (month, segment, currency, counted, lines, amount, quantity)
        SELECT {GROUP.format(t="r")}, {sign}count(*), {sign}sum(r.amount), {sign}sum(r.quantity)
        FROM {table} AS r LEFT JOIN analytics_customerscore AS s ON s.customer_id = r.customer_id
        GROUP BY 1, 2, 3, 4;"""


FORWARD = f"""
CREATE TABLE analytics_linemonth_state (id integer PRIMARY KEY CHECK (id = 1), valid boolean NOT NULL);
INSERT INTO analytics_linemonth_state VALUES (1, false);

CREATE FUNCTION analytics_linemonth_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN {_delta("old_rows", "-")}
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN {_delta("new_rows", "")}
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION analytics_linemonth_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE analytics_linemonth_state SET valid = false WHERE valid;
    RETURN NULL;
END $$;

CREATE FUNCTION analytics_linemonth_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    -- order entries that already wrote deltas finish first; later ones wait and add theirs on top
    LOCK TABLE analytics_orderlinemonth IN EXCLUSIVE MODE;
    DELETE FROM analytics_orderlinemonth;
    INSERT INTO analytics_orderlinemonth (month, segment, currency, counted, lines, amount, quantity)
    SELECT {GROUP.format(t="l")}, count(*), sum(l.amount), sum(l.quantity)
    FROM sales_orderline AS l LEFT JOIN analytics_customerscore AS s ON s.customer_id = l.customer_id
    GROUP BY 1, 2, 3, 4;
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE analytics_linemonth_state SET valid = true;
    RETURN n;
END $$;

CREATE TRIGGER analytics_linemonth_ins AFTER INSERT ON sales_orderline
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_linemonth_delta();
CREATE TRIGGER analytics_linemonth_upd AFTER UPDATE ON sales_orderline
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_linemonth_delta();
CREATE TRIGGER analytics_linemonth_del AFTER DELETE ON sales_orderline
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_linemonth_delta();
CREATE TRIGGER analytics_linemonth_trunc AFTER TRUNCATE ON sales_orderline
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_linemonth_stale();
CREATE TRIGGER analytics_linemonth_scores AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON analytics_customerscore
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_linemonth_stale();
CREATE TRIGGER analytics_linemonth_self_trunc AFTER TRUNCATE ON analytics_orderlinemonth
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_linemonth_stale();
SELECT analytics_linemonth_rebuild();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS analytics_linemonth_ins ON sales_orderline;
DROP TRIGGER IF EXISTS analytics_linemonth_upd ON sales_orderline;
DROP TRIGGER IF EXISTS analytics_linemonth_del ON sales_orderline;
DROP TRIGGER IF EXISTS analytics_linemonth_trunc ON sales_orderline;
DROP TRIGGER IF EXISTS analytics_linemonth_scores ON analytics_customerscore;
DROP TRIGGER IF EXISTS analytics_linemonth_self_trunc ON analytics_orderlinemonth;
DROP FUNCTION IF EXISTS analytics_linemonth_rebuild();
DROP FUNCTION IF EXISTS analytics_linemonth_stale();
DROP FUNCTION IF EXISTS analytics_linemonth_delta();
DROP TABLE IF EXISTS analytics_linemonth_state;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_scorecard"),
        ("sales", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="OrderLineMonth",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("month", models.DateField()),
                ("segment", models.CharField(blank=True, max_length=20)),
                ("currency", models.CharField(max_length=3)),
                ("counted", models.BooleanField()),
                ("lines", models.BigIntegerField()),
                ("amount", models.DecimalField(decimal_places=2, max_digits=24)),
                ("quantity", models.DecimalField(decimal_places=3, max_digits=24)),
            ],
            options={
                "default_permissions": (),
                "indexes": [models.Index(fields=["month", "segment"], name="ix_linemonth")],
            },
        ),
        migrations.RunPython(forward, backward, elidable=False),
    ]
