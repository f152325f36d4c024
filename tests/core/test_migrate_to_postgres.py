"""`kehu migrate-to-postgres`: the demo database, built on SQLite, round-trips into PostgreSQL (every table's row
count and checksum verified, sequences reset, search vectors built). The round trip needs PostgreSQL (the CI
PostgreSQL run); the refusals and the canonical form of values are tested on every database."""

from __future__ import annotations

import datetime
import decimal
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from kehu.core.management.commands.migrate_to_postgres import canonical, copied_models

ROOT = Path(__file__).resolve().parent.parent.parent


def test_canonical_values_agree_across_engines():
    shanghai = datetime.datetime(2026, 3, 1, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert canonical(shanghai) == canonical(datetime.datetime(2026, 3, 1, 0, 0, tzinfo=datetime.UTC))
    assert canonical(decimal.Decimal("1.50")) == canonical(decimal.Decimal("1.5")) == "1.5"
    assert canonical(decimal.Decimal("1E+1")) == "10"
    assert canonical({"b": 1, "a": [1, "客户"]}) == canonical({"a": [1, "客户"], "b": 1})
    assert canonical(memoryview(b"\x00\xff")) == canonical(b"\x00\xff") == "00ff"
    assert canonical(None) != canonical("") and canonical(True) != canonical(1)


def test_referenced_tables_come_first():
    order = [m._meta.label_lower for m in copied_models()]
    assert order.index("core.user") < order.index("customers.customer")
    assert order.index("customers.customer") < order.index("interactions.interaction")
    assert order.index("contenttypes.contenttype") < order.index("auth.permission")
    assert len(order) == len(set(order)) and "core.team_members" in order  # many-to-many tables too
    assert order.index("core.team") < order.index("core.team_members")


@pytest.mark.django_db
def test_refusals(tmp_path):
    if connection.vendor != "postgresql":
        with pytest.raises(CommandError, match="target must be PostgreSQL"):
            call_command("migrate_to_postgres", "--from", str(tmp_path / "x.sqlite3"))
        return
    with pytest.raises(CommandError, match="No SQLite database"):
        call_command("migrate_to_postgres", "--from", str(tmp_path / "missing.sqlite3"))
    (tmp_path / "notes.txt").write_text("not a database")
    with pytest.raises(CommandError, match="is not an SQLite database"):
        call_command("migrate_to_postgres", "--from", str(tmp_path / "notes.txt"))


def test_cli_takes_hyphenated_name_and_target(monkeypatch):
    from django.core import management

    from kehu import cli

    seen = {}
    monkeypatch.setattr(management, "execute_from_command_line", lambda argv: seen.setdefault("argv", argv))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    cli.main(["migrate-to-postgres", "--from", "var/kehu.sqlite3", "--to", "postgres://kehu@db/kehu"])
    assert seen["argv"] == ["kehu", "migrate_to_postgres", "--from", "var/kehu.sqlite3"]
    assert os.environ["DATABASE_URL"] == "postgres://kehu@db/kehu"


@pytest.fixture(scope="module")
def demo_sqlite(tmp_path_factory):
    """The demo database as `make run` builds it, on SQLite (in a subprocess: the suite runs on PostgreSQL).
    Skipped before it is built when the suite runs on SQLite (the round trip needs PostgreSQL)."""
    if connection.vendor != "postgresql":
        pytest.skip("moves SQLite into PostgreSQL: runs in the CI PostgreSQL run")
    var = tmp_path_factory.mktemp("sqlite-demo")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(KEHU_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="kehu.settings.dev")
    for command in (["migrate", "--noinput", "-v0"], ["seed_demo", "--customers", "40"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
    return var / "kehu.sqlite3"


@pytest.mark.django_db(transaction=True)
def test_demo_database_round_trips(demo_sqlite):
    from django.contrib.contenttypes.models import ContentType

    from kehu.core.models import AuditEntry
    from kehu.customers.models import Customer

    source = sqlite3.connect(demo_sqlite)
    customers, audit, last_id, name = source.execute(
        "SELECT (SELECT count(*) FROM customers_customer), (SELECT count(*) FROM core_auditentry), "
        "(SELECT max(id) FROM customers_customer), (SELECT name FROM customers_customer ORDER BY id LIMIT 1)"
    ).fetchone()
    source.close()
    assert customers >= 40 and audit > 0

    # as a user runs it: the `kehu` command in its own process, the target named by --to (the test database)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env["KEHU_VAR_DIR"] = str(demo_sqlite.parent)
    cli = [sys.executable, "-c", "from kehu.cli import main; main()", "migrate-to-postgres"]
    try:
        done = subprocess.run(
            [*cli, "--from", str(demo_sqlite), "--to", url], cwd=ROOT, env=env, capture_output=True, text=True
        )
        report = done.stdout
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "verified:" in report and "≠" not in report, report
        assert f"search vectors: {customers} customers indexed" in report
        assert "analytics_orderlinemonth" in report and "rebuilt on PostgreSQL" in report
        assert Customer.objects.count() == customers and AuditEntry.objects.count() == audit
        again = subprocess.run(
            [*cli, "--from", str(demo_sqlite), "--to", url, "--skip-verify"],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert again.returncode != 0 and "already has data" in again.stderr
    finally:
        ContentType.objects.clear_cache()  # the copy gave the content types the source's ids
    # the copied customer is found by full-text search on its generated vector
    first = Customer.objects.order_by("pk").first()
    assert first.name == name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM customers_customer WHERE id = %s AND search_vector @@ "
            "(SELECT string_agg(quote_literal(lexeme), ' & ')::tsquery FROM unnest(search_vector) LIMIT 1)",
            [first.pk],
        )
        assert cursor.fetchone()[0] == 1
    # sequences reset: a new row gets the next id instead of colliding with a copied one
    new = Customer.objects.create(name="迁移后新客户", owner=first.owner)
    assert new.pk == last_id + 1
