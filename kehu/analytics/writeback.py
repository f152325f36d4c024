"""The scoring run's write-back on PostgreSQL (ADR 0011, "Scoring addendum"): every customer's numbers are
copied once, in binary, into a temporary staging table; the score and value tables are then brought to the
staged rows by three set statements each —

- UPDATE … FROM the staging table for customers who already have a row (their `customer_id` does not change,
  so PostgreSQL does not re-check its foreign key: no per-row check, no lock on the customer rows),
- INSERT … SELECT for new customers (checked at commit, like any insert: only the new ones),
- DELETE for customers who no longer have purchases —

and the cycle's snapshot is one INSERT … SELECT. Readers keep seeing the previous rows until the run commits
(no table lock beyond row locks), and the results are those of the portable path (`bulk.insert_rows` of the
same values): money travels as whole cents (exactly what `f"{round(v, 2):.2f}"` wrote), floats as the same
doubles, dates as dates, reasons rebuilt as the same JSON.

The `run` and `cycle` references of these rows carry no database constraint (migration 0008): every row of a
run points at that run, and checking 600,000 times that it exists was most of the old write-back's cost.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.db import connection

from . import pgcopy
from .rfm import Segment

SCORE_STAGE = "analytics_stage_score"
VALUE_STAGE = "analytics_stage_value"

#: RFM segment codes by number (the staging table holds the number, 1-based)
RFM_SEGMENTS = [s.value for s in Segment]


def _cents(values) -> np.ndarray:
    """Whole cents of `np.round(v, 2)` — the number `f"{np.round(v, 2):.2f}"` prints (|v| far below 2^53 / 100)."""
    return np.rint(np.round(np.asarray(values, dtype=float), 2) * 100).astype(np.int64)


def _codes(labels: np.ndarray, vocabulary: list[str]) -> np.ndarray:
    index = {v: i + 1 for i, v in enumerate(vocabulary)}
    unique, inverse = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
    try:
        return (
            np.array([index[u] for u in unique.tolist()], dtype=np.int64)[inverse] if len(unique) else inverse
        )
    except KeyError as exc:  # a code the vocabulary does not know: never written as something else
        raise ValueError(f"unknown segment code {exc}") from None


class FastWrite:
    """One run's staged write-back (inside the run's transaction)."""

    def __init__(self, *, run, history):
        self.run = run
        self.ids = np.asarray(history.customer_id, dtype=np.int64)
        self.history = history
        self.summary_moves: int | None = None

    # ---- scores -------------------------------------------------------------------------------------------

    def write_scores(self, *, scores, computed_at: dt.datetime) -> int:
        h = self.history
        columns = [
            ("customer_id", "int8", self.ids),
            ("first_purchase", "date", h.first),
            ("last_purchase", "date", h.last),
            ("recency_days", "int8", scores.recency_days.astype(np.int64)),
            ("frequency", "int8", scores.frequency.astype(np.int64)),
            ("monetary", "int8", _cents(scores.monetary)),
            ("r_score", "int8", np.asarray(scores.r, dtype=np.int64)),
            ("f_score", "int8", np.asarray(scores.f, dtype=np.int64)),
            ("m_score", "int8", np.asarray(scores.m, dtype=np.int64)),
            ("segment", "int8", _codes(scores.segment, RFM_SEGMENTS)),
            ("p_alive", "float8", np.round(scores.p_alive, 6)),
            ("expected_purchases", "float8", np.round(scores.expected_purchases, 6)),
            ("expected_spend", "int8", _cents(scores.expected_spend)),
            ("clv", "int8", _cents(scores.clv)),
        ]
        self._stage(SCORE_STAGE, columns)
        with connection.cursor() as cursor:
            self.summary_moves = capture_moves(cursor, SCORE_STAGE)
        self.score_cents = {"clv": columns[13][2], "monetary": columns[5][2]}
        money = {"monetary", "expected_spend", "clv"}
        names = [c[0] for c in columns[1:]]

        def value(name: str) -> str:
            if name in money:
                return f"t.{name} * 0.01"
            if name == "segment":
                return "(%(segments)s::text[])[t.segment]"
            return f"t.{name}"

        params = {
            "run": self.run.pk,
            "currency": self.run.currency,
            "at": computed_at,
            "segments": RFM_SEGMENTS,
        }
        return self._merge("analytics_customerscore", SCORE_STAGE, names, value, params,
                           constant=["run_id", "currency", "computed_at"])  # fmt: skip

    # ---- value segments, churn, snapshot ------------------------------------------------------------------

    def write_values(self, *, segment, rank, margin, risk, churn, computed_at: dt.datetime) -> int:
        from .churn import FEATURES
        from .value import SEGMENT_ORDER

        codes = np.asarray(churn.reason_codes, dtype=np.int64).reshape(len(self.ids), -1)
        weights = np.asarray(churn.reason_values, dtype=float).reshape(len(self.ids), -1)
        self.value_segments = [s.value for s in SEGMENT_ORDER]
        self.value_codes = _codes(segment, self.value_segments)
        columns = [
            ("customer_id", "int8", self.ids),
            ("segment", "int8", self.value_codes),
            ("clv_rank", "int8", np.asarray(rank, dtype=np.int64)),
            ("margin", "int8", _cents(np.nan_to_num(margin, nan=0.0, posinf=0.0, neginf=0.0))),
            ("churn_risk", "float8", np.round(risk, 6)),
        ]
        k = codes.shape[1]
        columns += [(f"rc{j}", "int8", codes[:, j]) for j in range(k)]
        columns += [(f"rv{j}", "float8", weights[:, j]) for j in range(k)]
        self._stage(VALUE_STAGE, columns)

        def reasons() -> str:
            # the kept reasons are a prefix (codes 0 after the first missing one): one CASE per length
            def upto(n: int) -> str:
                pairs = ", ".join(
                    f"jsonb_build_array((%(features)s::text[])[t.rc{j}], t.rv{j})" for j in range(n)
                )
                return f"jsonb_build_array({pairs})"

            cases = [f"WHEN t.rc{j} = 0 THEN {upto(j) if j else chr(39) + '[]' + chr(39) + '::jsonb'}"
                     for j in range(k)]  # fmt: skip
            return f"CASE {' '.join(cases)} ELSE {upto(k)} END"

        def value(name: str) -> str:
            if name == "margin":
                return "t.margin * 0.01"
            if name == "segment":
                return "(%(segments)s::text[])[t.segment]"
            if name == "churn_reasons":
                return reasons()
            return f"t.{name}"

        params = {
            "run": self.run.pk,
            "at": computed_at,
            "model": churn.model,
            "segments": self.value_segments,
            "features": list(FEATURES),
        }
        names = ["segment", "clv_rank", "margin", "churn_risk", "churn_reasons"]
        return self._merge("analytics_customervalue", VALUE_STAGE, names, value, params,
                           constant=["run_id", "churn_model", "computed_at"])  # fmt: skip

    def move_summary(self, cursor) -> None:
        move_summary(cursor)

    def write_snapshot(self, *, cycle, segment) -> None:
        """The cycle's per-customer snapshot from the two staging tables (same rows as the portable path)."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO analytics_valuesnapshot (cycle_id, customer_id, segment, clv, monetary)
                    SELECT %s, s.customer_id, (%s::text[])[v.segment], s.clv * 0.01, s.monetary * 0.01
                    FROM {SCORE_STAGE} s JOIN {VALUE_STAGE} v ON v.customer_id = s.customer_id
                    ORDER BY s.customer_id""",  # noqa: S608 - fixed names # nosec B608
                [cycle.pk, self.value_segments],
            )

    # ---- helpers -------------------------------------------------------------------------------------------

    @staticmethod
    def _stage(name: str, columns) -> None:
        defs = ", ".join(f"{c} {t}" for c, t, _v in columns)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
            cursor.execute(f"CREATE TEMPORARY TABLE {name} ({defs}) ON COMMIT DROP")
            pgcopy.copy_in(cursor, name, [c for c, _t, _v in columns], [(v, t) for _c, t, v in columns])
            cursor.execute(f"CREATE UNIQUE INDEX ON {name} (customer_id)")
            cursor.execute(f"ANALYZE {name}")

    @staticmethod
    def _merge(table: str, stage: str, names: list[str], value, params: dict, *, constant: list[str]) -> int:
        """UPDATE existing rows, INSERT new customers (who still exist), DELETE the others; returns the rows."""
        constants = {"run_id": "%(run)s", "currency": "%(currency)s", "computed_at": "%(at)s",
                     "churn_model": "%(model)s"}  # fmt: skip
        sets = ", ".join([f"{n} = {value(n)}" for n in names] + [f"{c} = {constants[c]}" for c in constant])
        cols = ", ".join(["customer_id", *names, *constant])
        vals = ", ".join(["t.customer_id", *(value(n) for n in names), *(constants[c] for c in constant)])
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS x SET {sets} FROM {stage} AS t WHERE x.customer_id = t.customer_id",  # noqa: S608 # nosec B608
                params,
            )
            updated = cursor.rowcount
            cursor.execute(
                f"""INSERT INTO {table} ({cols}) SELECT {vals} FROM {stage} AS t
                    WHERE NOT EXISTS (SELECT 1 FROM {table} AS x WHERE x.customer_id = t.customer_id)
                      AND EXISTS (SELECT 1 FROM customers_customer AS c WHERE c.id = t.customer_id)
                    ORDER BY t.customer_id""",  # noqa: S608 - fixed names # nosec B608
                params,
            )
            inserted = cursor.rowcount
            cursor.execute(
                f"""DELETE FROM {table} AS x
                    WHERE NOT EXISTS (SELECT 1 FROM {stage} AS t WHERE t.customer_id = x.customer_id)""",  # noqa: S608 # nosec B608
            )
        return updated + inserted


def _summary_group(t: str, o: str, segment: str) -> str:
    """the group of a line in the report summary — as migration 0007's triggers and rebuild compute it"""
    return f"date_trunc('month', {t}.order_date::timestamp)::date, {segment}, {t}.currency, {t}.counted, {o}.owner_id"


SUMMARY_COLUMNS = "(month, segment, currency, counted, owner_id, lines, amount, quantity)"
MOVES = "analytics_stage_moves"


def capture_moves(cursor, stage: str) -> int | None:
    """Before the scores change: whether the report summary is valid (its state row locked until the run
    commits, so nothing marks it stale unseen) and, if so, which customers change RFM segment (old → new, ''
    for none). Returns the number of such customers, or None when the summary must be rebuilt anyway."""
    cursor.execute("SELECT valid FROM analytics_linemonth_state WHERE id = 1 FOR UPDATE")
    row = cursor.fetchone()
    if not (row and row[0]):
        return None
    cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{MOVES}")
    cursor.execute(
        f"""CREATE TEMPORARY TABLE {MOVES} ON COMMIT DROP AS
            SELECT COALESCE(x.customer_id, t.customer_id) AS customer_id, COALESCE(x.segment, '') AS old,
                   COALESCE((%s::text[])[t.segment], '') AS new
            FROM analytics_customerscore AS x FULL JOIN {stage} AS t ON t.customer_id = x.customer_id
            WHERE x.segment IS DISTINCT FROM (%s::text[])[t.segment]""",  # noqa: S608 - fixed names # nosec B608
        [RFM_SEGMENTS, RFM_SEGMENTS],
    )
    moved = cursor.rowcount
    # the planner's row count for the moves: a few thousand customers are a nested loop over the lines'
    # customer index, not a hash join over every line (22.7 s at 10M lines without it)
    cursor.execute(f"ANALYZE {MOVES}")
    return moved


def move_summary(cursor) -> None:
    """The moved customers' lines out of their old segment's groups and into the new one's, the summary's
    delta rows folded into one row per group, and the summary marked valid (the caller holds the state row
    since `capture_moves`; the summary's EXCLUSIVE lock, as the rebuild takes it, keeps order entry's deltas
    after ours)."""
    cursor.execute("LOCK TABLE analytics_orderlinemonth IN EXCLUSIVE MODE")
    cursor.execute(
        f"""INSERT INTO analytics_orderlinemonth {SUMMARY_COLUMNS}
            SELECT {_summary_group("l", "o", "v.segment")}, sum(v.sign), sum(v.sign * l.amount),
                   sum(v.sign * l.quantity)
            FROM {MOVES} AS m
            JOIN sales_orderline AS l ON l.customer_id = m.customer_id
            JOIN sales_order AS o ON o.id = l.order_id
            CROSS JOIN LATERAL (VALUES (m.old, -1), (m.new, 1)) AS v(segment, sign)
            GROUP BY 1, 2, 3, 4, 5"""  # noqa: S608 - fixed names # nosec B608
    )
    cursor.execute(
        f"""WITH gone AS (DELETE FROM analytics_orderlinemonth
                          RETURNING month, segment, currency, counted, owner_id, lines, amount, quantity)
            INSERT INTO analytics_orderlinemonth {SUMMARY_COLUMNS}
            SELECT month, segment, currency, counted, owner_id, sum(lines), sum(amount), sum(quantity)
            FROM gone GROUP BY 1, 2, 3, 4, 5
            HAVING sum(lines) <> 0 OR sum(amount) <> 0 OR sum(quantity) <> 0"""  # noqa: S608 - fixed names # nosec B608
    )
    cursor.execute("UPDATE analytics_linemonth_state SET valid = true")
