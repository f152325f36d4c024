"""Move an embedded SQLite install to PostgreSQL: `kehu migrate-to-postgres --from var/kehu.sqlite3 --to URL`.

(`DATABASE_URL=postgres://… manage.py migrate_to_postgres --from var/kehu.sqlite3` is the same thing.)

1. The target's schema comes from the migrations (`migrate` on the target), as for any new install.
2. The target's tables are emptied (rows that `migrate` created, such as content types and permissions, are
   replaced by the source's, ids included) and every model's rows are copied in dependency order — referenced
   tables first — with COPY, in one transaction: a failure leaves the target as empty as it was.
   Django's PostgreSQL foreign keys are DEFERRABLE INITIALLY DEFERRED, so rows that refer to rows of their own
   table (an organisation's contacts, a manager's department) need no special order.
3. Every table's id sequence is reset past its largest id; summaries that only PostgreSQL keeps (DERIVED: the
   report builder's order-line months) are rebuilt from the copied rows instead of copied; the search vectors (`customers_customer.search_vector`,
   a generated column) are computed as rows arrive and checked afterwards, and ANALYZE gives the planner its
   statistics.
4. Verification: per table, the row count and a SHA-256 checksum of every row (its values as Django reads them,
   in id order, in one canonical form) on both sides; any difference fails the command.

The target must be empty of business data (no users): `--replace` empties one that is not. The audit trail's
append-only guard is lifted for the copy's transaction (kehu.core.dbguards), which needs the owner of the tables:
run this as the migration role (docs/deployment.md). The source is only read.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import time
import uuid
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connections, models, transaction

from kehu.core import dbguards

SOURCE = "kehu_source"
CHUNK = 5000
# Tables PostgreSQL derives from other tables (triggers, rebuild functions; SQLite leaves them empty): not copied
# but rebuilt on the target after the copy, and not compared with the source.
DERIVED = {
    # the report builder's order-line summary (analytics migration 0007)
    "analytics_orderlinemonth": "SELECT analytics_linemonth_rebuild()",
}


def copied_models() -> list[type[models.Model]]:
    """Every concrete, managed model (many-to-many tables included), referenced models before the models that
    refer to them (cycles, e.g. self-references, are left to the deferred constraints)."""
    candidates = [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy and not m._meta.swapped
    ]
    ordered: list[type[models.Model]] = []
    placed: set[type[models.Model]] = set()
    visiting: set[type[models.Model]] = set()

    def place(model: type[models.Model]) -> None:
        if model in placed or model in visiting:
            return
        visiting.add(model)
        for field in model._meta.concrete_fields:
            target = field.related_model if field.is_relation else None
            if target is not None and target is not model and target in candidate_set:
                place(target)
        visiting.discard(model)
        placed.add(model)
        ordered.append(model)

    candidate_set = set(candidates)
    for model in sorted(candidates, key=lambda m: m._meta.db_table):
        place(model)
    return ordered


def _columns(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not getattr(f, "generated", False)]


def canonical(value) -> str:
    """One text for a value read from either engine (datetimes in UTC, JSON with sorted keys, bytes as hex)."""
    if value is None:
        return "\x00"
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    if isinstance(value, bytes | memoryview | bytearray):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return value.hex
    return str(value)


def table_digest(model: type[models.Model], alias: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    count = 0
    names = [f.attname for f in _columns(model)]
    rows = model._base_manager.using(alias).order_by("pk").values_list(*names).iterator(chunk_size=CHUNK)
    for row in rows:
        count += 1
        digest.update("\x1f".join(canonical(v) for v in row).encode())
        digest.update(b"\x1e")
    return count, digest.hexdigest()


def add_source(path: Path) -> None:
    config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": {"timeout": 20}}
    configured = connections.configure_settings({"default": dict(config), SOURCE: config})
    connections.settings[SOURCE] = configured[SOURCE]


class Command(BaseCommand):
    help = "Copy an embedded SQLite database into the PostgreSQL database of DATABASE_URL and verify it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--from",
            dest="source",
            default=None,
            help="the SQLite file (default: var/kehu.sqlite3, the one `make run` uses)",
        )
        parser.add_argument("--replace", action="store_true", help="empty a target that already has data")
        parser.add_argument("--skip-verify", action="store_true", help="do not compare checksums afterwards")

    def handle(self, *args, source: str | None, replace: bool, skip_verify: bool, **options):
        target = connections["default"]
        if target.vendor != "postgresql":
            raise CommandError(
                "The target must be PostgreSQL: give --to postgres://… (kehu) or set DATABASE_URL (manage.py)."
            )
        path = Path(source) if source else Path(settings.VAR_DIR) / "kehu.sqlite3"
        if not path.is_file():
            raise CommandError(f"No SQLite database at {path}.")
        with path.open("rb") as file:
            if file.read(16) != b"SQLite format 3\x00":
                raise CommandError(f"{path} is not an SQLite database.")
        add_source(path)
        source_connection = connections[SOURCE]
        source_tables = set(source_connection.introspection.table_names())
        started = time.monotonic()

        self.stdout.write(f"schema: migrating {target.settings_dict['NAME']} …")
        call_command("migrate", database="default", interactive=False, verbosity=0)
        self.stdout.write(f"schema: done ({time.monotonic() - started:.1f}s)")
        started = time.monotonic()
        ordered = copied_models()
        missing = [m._meta.db_table for m in ordered if m._meta.db_table not in source_tables]
        if missing:
            raise CommandError(
                "The source lacks tables of this version ("
                + ", ".join(missing[:5])
                + "): run `kehu migrate` on "
                "the SQLite install first, with this version of Kehu."
            )
        user_model = apps.get_model(settings.AUTH_USER_MODEL)
        if user_model._base_manager.using("default").exists() and not replace:
            raise CommandError("The target already has data (users); add --replace to empty it first.")

        copied: dict[str, int] = {}
        with transaction.atomic(using="default"), dbguards.suspended(target):
            tables = ", ".join(target.ops.quote_name(m._meta.db_table) for m in ordered)
            with target.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            for model in ordered:
                if model._meta.db_table not in DERIVED:
                    copied[model._meta.db_table] = self.copy_table(model, source_connection, target)
            with target.cursor() as cursor:
                for sql in DERIVED.values():
                    cursor.execute(sql)
                for sql in target.ops.sequence_reset_sql(no_style(), ordered):
                    cursor.execute(sql)
                cursor.execute(
                    "SET CONSTRAINTS ALL IMMEDIATE"
                )  # every reference checked here, in the transaction
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()  # the copied content types keep the source's ids
        with target.cursor() as cursor:
            cursor.execute("ANALYZE")
        total = sum(copied.values())
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"copied {total} rows in {len(copied)} tables in {elapsed:.1f}s ({total / max(elapsed, 0.001):,.0f} rows/s)"
        )
        self.check_search_vectors(target)
        if skip_verify:
            return
        self.verify(ordered)

    def copy_table(self, model: type[models.Model], source, target) -> int:
        fields = _columns(model)
        names = [f.attname for f in fields]
        columns = ", ".join(target.ops.quote_name(f.column) for f in fields)
        rows = model._base_manager.using(SOURCE).order_by("pk").values_list(*names).iterator(chunk_size=CHUNK)
        count = 0
        with target.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor: COPY
            with raw.copy(
                f"COPY {target.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(
                        [
                            field.get_db_prep_save(value, connection=target)
                            for field, value in zip(fields, row, strict=True)
                        ]
                    )
                    count += 1
        return count

    def check_search_vectors(self, target) -> None:
        with target.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE search_vector IS NULL), count(*) FROM customers_customer"
            )
            empty, customers = cursor.fetchone()
        if empty:
            raise CommandError(f"{empty} of {customers} customers have no search vector.")
        self.stdout.write(f"search vectors: {customers} customers indexed")

    def verify(self, ordered: list[type[models.Model]]) -> None:
        width = max(len(m._meta.db_table) for m in ordered)
        failures = []
        for model in ordered:
            if model._meta.db_table in DERIVED:
                rows = model._base_manager.using("default").count()
                self.stdout.write(f"{model._meta.db_table:<{width}}  rebuilt on PostgreSQL: {rows} rows")
                continue
            rows_from, sum_from = table_digest(model, SOURCE)
            rows_to, sum_to = table_digest(model, "default")
            same = (rows_from, sum_from) == (rows_to, sum_to)
            if not same:
                failures.append(model._meta.db_table)
            if rows_from or not same:
                self.stdout.write(
                    f"{model._meta.db_table:<{width}}  {rows_from:>9} → {rows_to:>9}  "
                    f"{sum_from[:12]} {'=' if same else '≠'} {sum_to[:12]}"
                )
        if failures:
            raise CommandError("Verification failed for: " + ", ".join(failures))
        self.stdout.write(
            self.style.SUCCESS(f"verified: {len(ordered)} tables, row counts and checksums match")
        )
