"""Scan every text column of every table of the database (introspected, not only Django's models) for values."""

from __future__ import annotations

import json

from django.db import connection

TEXT_TYPES = ("char", "text", "json", "clob", "varchar")


def text_columns():
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for col in connection.introspection.get_table_description(cursor, table):
                type_name = str(getattr(col, "type_code", "")).lower()
                if connection.vendor == "sqlite":
                    sql = f"SELECT type FROM pragma_table_info('{table}') WHERE name = %s"  # noqa: S608
                    cursor.execute(sql, [col.name])
                    row = cursor.fetchone()
                    type_name = (row[0] if row else "").lower()
                    if table.endswith(("_data", "_idx", "_docsize", "_config")) and "fts" in table:
                        continue  # FTS5 shadow tables: binary segments
                    if not type_name or any(t in type_name for t in TEXT_TYPES):
                        yield table, col.name
                else:
                    cursor.execute(
                        "SELECT data_type FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
                        [table, col.name],
                    )
                    row = cursor.fetchone()
                    if row and row[0] in ("character varying", "text", "jsonb", "json", "character"):
                        yield table, col.name


def occurrences(values, *, exclude_rows=None) -> list[tuple[str, str, str]]:
    """(table, column, value) for every value found in a text column; `exclude_rows` {table: sql condition}."""
    found = []
    qn = connection.ops.quote_name
    forms = {}
    for v in values:
        forms[v] = v
        forms[json.dumps(v)[1:-1]] = v
    with connection.cursor() as cursor:
        for table, column in list(text_columns()):
            cast = "::text" if connection.vendor == "postgresql" else ""
            where = exclude_rows.get(table, "") if exclude_rows else ""
            for form, original in forms.items():
                cursor.execute(
                    f"SELECT COUNT(*) FROM {qn(table)} WHERE {qn(column)}{cast} LIKE %s {where}",  # noqa: S608
                    ["%" + form + "%"],
                )
                if cursor.fetchone()[0]:
                    found.append((table, column, original))
    return found
