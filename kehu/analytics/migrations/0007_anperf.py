"""The order-line summary of the report builder (issue #11 performance, ADR 0011 "Performance addendum"): the
table, and on PostgreSQL the triggers that keep it current and the function that rebuilds it."""

from django.db import migrations, models

GROUP = (
    "date_trunc('month', {t}.order_date::timestamp)::date, COALESCE(s.segment, ''), {t}.currency, {t}.counted,"
    " {o}.owner_id"
)
COLUMNS = "(month, segment, currency, counted, owner_id, lines, amount, quantity)"


def _delta(table: str, sign: str) -> str:
    return f"""
        INSERT INTO analytics_orderlinemonth {COLUMNS}
        SELECT {GROUP.format(t="r", o="o")}, {sign}count(*), {sign}sum(r.amount), {sign}sum(r.quantity)
        FROM {table} AS r JOIN sales_order AS o ON o.id = r.order_id
        LEFT JOIN analytics_customerscore AS s ON s.customer_id = r.customer_id
        GROUP BY 1, 2, 3, 4, 5;"""


def _owner_move(table: str, sign: str) -> str:
    """the lines of orders whose owner changed: out of the old owner's groups, into the new owner's"""
    return f"""
        INSERT INTO analytics_orderlinemonth {COLUMNS}
        SELECT {GROUP.format(t="l", o="x")}, {sign}count(*), {sign}sum(l.amount), {sign}sum(l.quantity)
        FROM old_rows AS b JOIN new_rows AS a ON a.id = b.id AND a.owner_id IS DISTINCT FROM b.owner_id
        JOIN {table} AS x ON x.id = b.id
        JOIN sales_orderline AS l ON l.order_id = b.id
        LEFT JOIN analytics_customerscore AS s ON s.customer_id = l.customer_id
        GROUP BY 1, 2, 3, 4, 5;"""


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

CREATE FUNCTION analytics_linemonth_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_owner_move("old_rows", "-")} {_owner_move("new_rows", "")}
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
    INSERT INTO analytics_orderlinemonth {COLUMNS}
    SELECT {GROUP.format(t="l", o="o")}, count(*), sum(l.amount), sum(l.quantity)
    FROM sales_orderline AS l JOIN sales_order AS o ON o.id = l.order_id
    LEFT JOIN analytics_customerscore AS s ON s.customer_id = l.customer_id
    GROUP BY 1, 2, 3, 4, 5;
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
CREATE TRIGGER analytics_linemonth_order_owner AFTER UPDATE ON sales_order
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_linemonth_owner();
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
DROP TRIGGER IF EXISTS analytics_linemonth_order_owner ON sales_order;
DROP TRIGGER IF EXISTS analytics_linemonth_scores ON analytics_customerscore;
DROP TRIGGER IF EXISTS analytics_linemonth_self_trunc ON analytics_orderlinemonth;
DROP FUNCTION IF EXISTS analytics_linemonth_rebuild();
DROP FUNCTION IF EXISTS analytics_linemonth_stale();
DROP FUNCTION IF EXISTS analytics_linemonth_owner();
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
        ("analytics", "0006_anfix"),
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
                ("owner_id", models.BigIntegerField(null=True)),
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
