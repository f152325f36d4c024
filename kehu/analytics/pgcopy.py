"""Columns of numbers in and out of PostgreSQL without a Python object per value (the scoring run's hundreds of
thousands of customers; ADR 0011, "Scoring addendum").

    arrays = copy_out(cursor, "SELECT id, n, amount::float8 FROM …", params, ["int8", "int8", "float8"])
    copy_in(cursor, "stage_table", ["id", "n", "amount"], [(ids, "int8"), (n, "int8"), (amount, "float8")])

Both use COPY's binary format, whose rows are fixed-width when every column is a fixed-width type and no value
is NULL: a row is then one record of a NumPy structured type (big-endian), so a whole result is read or written
with one `frombuffer` / `tobytes`. The query of `copy_out` must never yield NULL (COALESCE in SQL); a NULL or a
type of another width is detected and raised as an error, never read as a wrong number.

Dates travel as PostgreSQL `date` (days since 2000-01-01, int4) and are handed back as `datetime64[D]`.
"""

from __future__ import annotations

import time

import numpy as np

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # flags 0, no header extension
TRAILER = b"\xff\xff"
#: PostgreSQL binary type → (NumPy big-endian type, width)
TYPES = {
    "int2": (">i2", 2),
    "int4": (">i4", 4),
    "int8": (">i8", 8),
    "float8": (">f8", 8),
    "date": (">i4", 4),
}
PG_EPOCH_DAYS = 10957  # 2000-01-01 − 1970-01-01


class CopyFormatError(ValueError):
    """The binary stream is not the fixed-width layout expected (a NULL, another type, a damaged stream)."""


def _row_dtype(types: list[str]) -> np.dtype:
    fields = [("n", ">i2")]
    for i, t in enumerate(types):
        code, _width = TYPES[t]
        fields += [(f"l{i}", ">i4"), (f"v{i}", code)]
    return np.dtype(fields)


def _literal_sql(cursor, sql: str, params) -> str:
    """The statement with its parameters inlined as SQL literals (COPY takes no bind parameters)."""
    from psycopg import sql as pgsql

    raw = cursor.cursor  # psycopg's cursor under Django's wrapper
    template = sql.replace("{", "{{").replace("}", "}}").replace("%s", "{}")
    return pgsql.SQL(template).format(*[pgsql.Literal(p) for p in params]).as_string(raw.connection)


def _logged(cursor, statement: str, t0: float) -> None:
    """Record the COPY like Django's debug cursor records statements (CaptureQueriesContext, debug pages)."""
    db = cursor.db
    if db.queries_logged:
        db.queries_log.append({"sql": statement, "time": f"{time.monotonic() - t0:.3f}"})


def copy_out(cursor, sql: str, params, types: list[str]) -> list[np.ndarray]:
    """Run `sql` and return its columns as arrays (int64 / float64 / datetime64[D] by `types`)."""
    raw = cursor.cursor
    chunks = []
    t0 = time.monotonic()
    statement = f"COPY ({_literal_sql(cursor, sql, params)}) TO STDOUT (FORMAT binary)"
    with raw.copy(statement) as copy:
        for data in copy:
            chunks.append(bytes(data))
    _logged(cursor, statement, t0)
    return decode(b"".join(chunks), types)


def decode(buf: bytes, types: list[str]) -> list[np.ndarray]:
    if not buf.startswith(SIGNATURE) or len(buf) < len(HEADER) + len(TRAILER):
        raise CopyFormatError("not a PostgreSQL binary COPY stream")
    start = len(SIGNATURE) + 4
    ext = int.from_bytes(buf[start : start + 4], "big")
    body = buf[start + 4 + ext : -len(TRAILER)]
    if buf[-len(TRAILER) :] != TRAILER:
        raise CopyFormatError("the COPY stream has no trailer")
    dtype = _row_dtype(types)
    if len(body) % dtype.itemsize:
        raise CopyFormatError("rows of unexpected width (a NULL or a column of another type)")
    rows = np.frombuffer(body, dtype=dtype)
    if rows.size and np.any(rows["n"] != len(types)):
        raise CopyFormatError("rows with an unexpected number of columns")
    out = []
    for i, t in enumerate(types):
        width = TYPES[t][1]
        if rows.size and np.any(rows[f"l{i}"] != width):
            raise CopyFormatError(f"column {i + 1} is not a non-null {t}")
        values = rows[f"v{i}"]
        if t == "date":
            out.append((values.astype(np.int64) + PG_EPOCH_DAYS).astype("datetime64[D]"))
        elif t == "float8":
            out.append(values.astype(np.float64))
        else:
            out.append(values.astype(np.int64))
    return out


def encode(columns: list[tuple[np.ndarray, str]]) -> bytes:
    """One binary COPY stream of the columns (equal lengths, no NULLs)."""
    types = [t for _values, t in columns]
    n = len(columns[0][0]) if columns else 0
    rows = np.zeros(n, dtype=_row_dtype(types))
    rows["n"] = len(types)
    for i, (values, t) in enumerate(columns):
        values = np.asarray(values)
        if len(values) != n:
            raise ValueError("columns of different lengths")
        rows[f"l{i}"] = TYPES[t][1]
        if t == "date":
            values = values.astype("datetime64[D]").astype(np.int64) - PG_EPOCH_DAYS
        elif t == "float8":
            values = np.asarray(values, dtype=np.float64)
            if not np.all(np.isfinite(values)):
                raise ValueError(f"column {i + 1}: non-finite values")
        rows[f"v{i}"] = values
    return HEADER + rows.tobytes() + TRAILER


def copy_in(cursor, table: str, names: list[str], columns: list[tuple[np.ndarray, str]]) -> int:
    """COPY the columns into `table` (quoted name) in binary; returns the number of rows."""
    buf = encode(columns)
    cols = ", ".join(f'"{c}"' for c in names)
    statement = f"COPY {table} ({cols}) FROM STDIN (FORMAT binary)"
    t0 = time.monotonic()
    with cursor.cursor.copy(statement) as copy:
        step = 1 << 22
        for i in range(0, len(buf), step):
            copy.write(buf[i : i + step])
    _logged(cursor, statement, t0)
    return len(columns[0][0]) if columns else 0
