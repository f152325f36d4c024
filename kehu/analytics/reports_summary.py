"""The report builder's summary path (issue #11 performance; ADR 0011, "Performance addendum").

A report on order lines whose every group, measure and filter is answerable from `OrderLineMonth` (month,
quarter or year of the order date, the customer's RFM segment, currency, `counted`; the number of lines and the
sums of amount and quantity; filters on `counted`, currency, and the order date when the bound falls on a month
boundary) is compiled to one statement over that summary
instead of over the lines — a few thousand rows instead of millions. Used only

- on PostgreSQL, where triggers keep the summary current, and only while it is marked valid;
- for a reader who sees every order line, or whose scope is exactly "orders owned by these users" (own, team,
  department): the summary keeps the order's owner; with records shared with the reader (`RecordShare`) too,
  the lines of the shared orders outside that owner list are read and added per group (one statement, a
  UNION ALL of both parts); a scope with other terms goes the plain way over the reader's lines;
- for fields the reader's catalogue offers (the specification was checked against it before: hidden fields
  never get here).

The result is the same as the plain statement's (tests compare them on the same data)."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django.db import connection, models
from django.db.models import F, Q, Sum, Value
from django.db.models.functions import Cast, NullIf

from kehu.core.selectors import scoped

SEGMENT_PATH = "customer__analytics_score__segment"
DATE_BUCKETS = {"month", "quarter", "year"}
SUMMED = {"amount", "quantity"}


def usable(spec) -> bool:
    """Whether the specification's shape can be answered from the summary (before scope and freshness)."""
    if spec.label != "sales.orderline" or not spec.groups:
        return False
    for g in spec.groups:
        path = g.info.path
        if path == "order_date":
            if g.bucket not in DATE_BUCKETS:
                return False
        elif path not in {SEGMENT_PATH, "currency", "counted"} or g.bucket or g.level:
            return False
    for m in spec.measures:
        if m.info is not None and not (m.agg == "sum" and m.info.path in SUMMED):
            return False
    for f in spec.filters:
        if f.info.path == "counted" and f.op in {"eq", "ne"}:
            continue
        if f.info.path == "currency" and f.op in {"eq", "ne", "in"}:
            continue
        if f.info.path == "order_date" and _month_bound(f) is not None:
            continue
        return False
    return True


def _month_bound(f) -> Q | None:
    """A filter on the order date as a condition on the summary's months, when its bound falls on a month
    boundary (≥ or < a first day, ≤ or > a last day: "from January", "before June", "up to 31 May"); None
    otherwise (the lines are read)."""
    day = f.value
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        return None
    first, last = day.day == 1, (day + dt.timedelta(days=1)).day == 1
    if f.op == "gte" and first:
        return Q(month__gte=day)
    if f.op == "lt" and first:
        return Q(month__lt=day)
    if f.op == "lte" and last:
        return Q(month__lte=day.replace(day=1))
    if f.op == "gt" and last:
        return Q(month__gt=day.replace(day=1))
    return None


def is_valid() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT valid FROM analytics_linemonth_state WHERE id = 1")
        row = cursor.fetchone()
    return bool(row and row[0])


#: the reader sees every line
EVERYTHING = ()


class Reach(NamedTuple):
    """What a reader sees of the order lines, in the summary's terms: `owners` — EVERYTHING or the sorted ids of
    the owners whose orders they see; `shared` — None, or the condition (on the line) "the line's order is shared
    with the reader" (`RecordShare`, user or team) that their scope adds to the owner list."""

    owners: tuple | list
    shared: Q | None = None


def _reach(spec, user) -> Reach | None:
    """The reader's scope on the lines when it is exactly "the order's owner is one of these users", optionally
    "… or the order is shared with them" (the statement `Access.filter` builds is compared with the one
    rebuilt from these parts, so any other scope term falls back to the lines); None otherwise."""
    from kehu.core import registry
    from kehu.core.access import Access, Scope

    qs = scoped(spec.model, user=user)
    if not qs.query.where:
        return Reach(EVERYTHING)
    entry = registry.require(spec.model)
    prefix, owner_field = entry.scope_path()
    if f"{prefix}{owner_field}" != "order__owner":
        return None
    access = Access.of(user)
    owners = access.owner_ids(Scope(access.grant(spec.model).read_scope))
    if not owners:
        return None
    owners = sorted(owners)
    condition = Q(order__owner_id__in=owners)
    shared = access.shared_ids_q(entry.grant_label(), prefix)
    if shared is not None:
        condition |= shared
    expected = spec.model._default_manager.filter(condition)
    return Reach(owners, shared) if str(qs.query) == str(expected.query) else None


def _filtered(qs, spec, *, months: bool):
    """The report's filters on the summary (`months`: dates as month conditions) or on the lines."""
    for f in spec.filters:
        qs = qs.filter(_month_bound(f) if months and f.info.path == "order_date" else f.q())
    return qs


def compile_summary(spec, *, user, bucket_expression, shared_lines=None):
    """(rows, measures) over the summary, or None when the report cannot use it. `rows` yields the same row
    dictionaries (g0…, m0…) as `reports.compile_query`: a queryset over the summary, or — for a reader with
    records shared with them — a `SummaryWithLines` adding the lines of the shared orders outside their owner
    list, grouped by `shared_lines(condition)` (the report's own grouping over the lines matching
    `condition`; None: such readers read the lines)."""
    from .models_summary import OrderLineMonth

    if not usable(spec):
        return None
    reach = _reach(spec, user)
    if reach is None or (reach.shared is not None and shared_lines is None) or not is_valid():
        return None
    qs = OrderLineMonth.objects.order_by()
    if reach.owners is not EVERYTHING:
        qs = qs.filter(owner_id__in=reach.owners)
    qs = _filtered(qs, spec, months=True)
    values = {}
    for i, g in enumerate(spec.groups):
        if g.info.path == "order_date":
            # the month is the first day: truncating it gives the line date's quarter or year
            values[f"g{i}"] = F("month") if g.bucket == "month" else bucket_expression("month", g.bucket)
        elif g.info.path == SEGMENT_PATH:
            values[f"g{i}"] = NullIf("segment", Value(""))
        else:
            values[f"g{i}"] = F(g.info.path)
    measures = {}
    for j, m in enumerate(spec.measures):
        if m.info is None:
            measures[f"m{j}"] = Cast(Sum("lines"), models.BigIntegerField())
        else:
            measures[f"m{j}"] = Sum(m.info.path)
    qs = qs.values(**values).annotate(**measures, n_lines=Sum("lines"))
    if reach.shared is None:
        # a group whose lines were all deleted keeps delta rows summing to 0 lines: not a group of the report
        return qs.filter(n_lines__gt=0), measures
    # shared orders whose owner is one of the reader's owners are in the summary part already
    outside = reach.shared & ~Q(order__owner_id__in=reach.owners)
    lines = shared_lines(_filtered(spec.model._default_manager.filter(outside), spec, months=False))
    return SummaryWithLines(spec, qs, lines), measures


class SummaryWithLines:
    """The summary rows of the reader's owners plus their shared orders' lines, summed per group in one
    statement: `SELECT g…, SUM(m…) FROM (summary UNION ALL lines) GROUP BY g… HAVING SUM(n_lines) > 0`, ordered
    like the report (`reports.order_keys`). Sliced like a queryset (`rows[:n]` runs it with a LIMIT);
    `.query` gives the statement (`str`, `sql_with_params`) for tests and EXPLAIN."""

    def __init__(self, spec, summary_qs, lines_qs):
        from .reports import order_keys

        groups = [f'"g{i}"' for i in range(len(spec.groups))]
        sums = [
            f'CAST(SUM(u."m{j}") AS bigint) AS "m{j}"' if m.info is None else f'SUM(u."m{j}") AS "m{j}"'
            for j, m in enumerate(spec.measures)
        ]
        names = ", ".join([*groups, *(f'"m{j}"' for j in range(len(spec.measures))), '"n_lines"'])
        a_sql, a_params = summary_qs.query.sql_with_params()
        b_sql, b_params = lines_qs.query.sql_with_params()
        order = ", ".join(
            f"{name} DESC NULLS LAST" if desc else f"{name} ASC NULLS LAST"
            for name, desc in ((f'"{k}"', d) for k, d in order_keys(spec))
        )
        # column aliases and the ORM's own compiled statements (their values are parameters): no user input
        group_list = ", ".join(f"u.{g}" for g in groups)
        self.sql = " ".join(
            [
                f"SELECT {group_list}, {', '.join(sums)}",
                f"FROM (SELECT {names} FROM ({a_sql}) AS a UNION ALL SELECT {names} FROM ({b_sql}) AS b) AS u",  # noqa: S608 # nosec B608
                f'GROUP BY {group_list} HAVING SUM(u."n_lines") > 0 ORDER BY {order}',
            ]
        )
        self.params = (*a_params, *b_params)

    @property
    def query(self):
        return self

    def sql_with_params(self):
        return self.sql, self.params

    def __str__(self) -> str:
        return self.sql % tuple(repr(p) for p in self.params)

    def _fetch(self, limit: int | None) -> list[dict]:
        sql, params = self.sql, list(self.params)
        if limit is not None:
            sql, params = f"{sql} LIMIT %s", [*params, limit]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            names = [c.name for c in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.start not in (None, 0) or key.step is not None:
            raise TypeError("SummaryWithLines takes [:n] slices only")
        return self._fetch(key.stop)

    def __iter__(self):
        return iter(self._fetch(None))
