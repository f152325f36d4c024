"""Fast bulk inserts for demo data, benchmarks and imports: plain executemany, explicit ids.

The ORM's bulk_create spends most of its time preparing values field by field; for hundreds of thousands of
rows a prepared INSERT with executemany is several times faster on SQLite and PostgreSQL (psycopg pipelines
it). Ids are assigned here so that callers can link child rows without reading them back; the PostgreSQL
sequence is moved past them afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from django.db import connection, models


def next_ids(model: type[models.Model], count: int) -> range:
    """Reserve `count` ids after the current maximum (call inside the inserting transaction)."""
    current = model._default_manager.aggregate(m=models.Max("pk"))["m"] or 0
    return range(current + 1, current + 1 + count)


def _adapt(value):
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def insert_rows(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence], *, chunk: int = 5000
) -> int:
    """INSERT rows (tuples in `fields` order, column names = field attnames) into the model's table."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(model._meta.get_field(f).column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 - names come from the model # nosec B608
    if connection.vendor == "postgresql":
        return _copy_rows(table, columns, rows)
    total, batch = 0, []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append([_adapt(v) for v in row])
            if len(batch) >= chunk:
                cursor.executemany(sql, batch)
                total += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            total += len(batch)
    return total


def _copy_rows(table: str, columns: str, rows: Iterable[Sequence]) -> int:
    """PostgreSQL: COPY ... FROM STDIN, several times faster than INSERTs for large batches."""
    total = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_adapt(v) for v in row])
                total += 1
    return total


def reset_sequences(*model_classes: type[models.Model]) -> None:
    """After inserting explicit ids, move PostgreSQL sequences past them (no-op on SQLite)."""
    if connection.vendor != "postgresql":
        return
    from django.core.management.color import no_style

    statements = connection.ops.sequence_reset_sql(no_style(), list(model_classes))
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
