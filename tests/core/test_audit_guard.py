"""The audit trail stays append-only against the application's own database role (issue 7, item 5), and the
tooling that must empty tables (flush, the test suite's teardown) still can — as the owner only."""

from __future__ import annotations

import psycopg
import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from kehu.core.models import AuditEntry
from kehu.customers import services as customer_services
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_audit_trail_and_leaves_the_guard_on():
    admin = UserFactory(is_superuser=True)
    customer_services.customer_create(data={"name": "清空测试"}, by=admin)
    assert AuditEntry.objects.exists()
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEntry.objects.exists()
    admin = UserFactory(is_superuser=True)
    customer_services.customer_create(data={"name": "清空之后"}, by=admin)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.update(actor_name="x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.all().delete()


@pytest.fixture
def app_role():
    """A login role like the one docs/deployment.md tells you to run the app as: it owns nothing, is no
    superuser, and holds the ordinary data rights on every table (plus TRUNCATE, to prove the trigger, not a
    missing grant, refuses it). Dropped afterwards."""
    if connection.vendor != "postgresql":
        pytest.skip("roles exist on PostgreSQL only; SQLite's guarantee is stated in ADR 0002")
    db = connection.settings_dict["NAME"]
    role = f"{db}_app"[:63]
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cur.fetchone():  # left over by an interrupted run
            cur.execute(f'DROP OWNED BY "{role}"')
            cur.execute(f'DROP ROLE "{role}"')
        cur.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD 'app-test' NOSUPERUSER NOCREATEDB NOCREATEROLE")
        cur.execute(f'GRANT CONNECT ON DATABASE "{db}" TO "{role}"')
        cur.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        cur.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public TO "{role}"'
        )
        cur.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
    settings = connection.settings_dict
    conn = psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        dbname=db,
        user=role,
        password="app-test",
        autocommit=True,
    )
    yield conn
    conn.close()
    with connection.cursor() as cur:
        cur.execute(f'DROP OWNED BY "{role}"')
        cur.execute(f'DROP ROLE "{role}"')


@pytest.mark.django_db(transaction=True)
def test_the_application_role_cannot_change_or_unguard_the_audit_trail(app_role):
    admin = UserFactory(is_superuser=True)
    c = customer_services.customer_create(data={"name": "应用角色"}, by=admin)
    entry = AuditEntry.objects.filter(object_id=str(c.pk)).latest("id")
    columns = ", ".join(f.column for f in AuditEntry._meta.concrete_fields if not f.primary_key)

    def run(sql, params=()):
        with app_role.cursor() as cur:
            cur.execute(sql, params)

    # the role does its ordinary work: reads, writes business rows, appends to the audit trail
    run("UPDATE customers_customer SET city = '杭州' WHERE id = %s", [c.pk])
    run(
        f"INSERT INTO core_auditentry ({columns}) SELECT {columns} FROM core_auditentry WHERE id = %s",  # noqa: S608
        [entry.pk],
    )
    assert AuditEntry.objects.filter(object_id=str(c.pk)).count() >= 2
    refused = {
        "UPDATE core_auditentry SET actor_name = 'x'": "append-only",
        "DELETE FROM core_auditentry": "append-only",
        "TRUNCATE core_auditentry": "append-only",
        "ALTER TABLE core_auditentry DISABLE TRIGGER ALL": "owner",
        "ALTER TABLE core_auditentry DISABLE TRIGGER core_auditentry_no_change": "owner",
        "DROP TRIGGER core_auditentry_no_change ON core_auditentry": "owner",
        "CREATE OR REPLACE FUNCTION core_auditentry_append_only() RETURNS trigger AS $$ BEGIN RETURN NEW; END; "
        "$$ LANGUAGE plpgsql": "owner|permission denied",
        "SET session_replication_role = replica": "permission denied",
        "UPDATE core_dbguard SET enabled = 0": "does not exist",
    }
    for sql, reason in refused.items():
        with pytest.raises(psycopg.Error, match=reason):
            run(sql)
    assert AuditEntry.objects.get(pk=entry.pk).actor_name == entry.actor_name
    with connection.cursor() as cur:
        cur.execute(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'core_auditentry'::regclass "
            "AND NOT tgisinternal ORDER BY tgname"
        )
        assert cur.fetchall() == [("core_auditentry_no_change", "A"), ("core_auditentry_no_truncate", "A")]
