"""The report builder's summary path (issue #11 performance; ADR 0011, "Performance addendum").

A report on order lines whose every group, measure and filter is answerable from `OrderLineMonth` (month,
quarter or year of the order date, the customer's RFM segment, currency, `counted`; the number of lines and the
sums of amount and quantity; filters on `counted`, currency, and the order date — whole months from the summary,
the days of a mid-month bound's partial month from the lines, an11) is compiled to one statement over that summary
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
        if f.info.path == "order_date" and (_month_bound(f) is not None or _date_op(f)):
            continue
        return False
    return True


def _date_op(f) -> bool:
    """A bound on the order date the summary can serve by splitting it (a plain date, an order operator)."""
    return (
        f.op in {"gte", "gt", "lte", "lt", "eq"}
        and isinstance(f.value, dt.date)
        and not isinstance(f.value, dt.datetime)
    )


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _month_end(day: dt.date) -> dt.date:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


class DateSplit(NamedTuple):
    """Order-date bounds that do not fall on month boundaries, split (an11): whole months from the summary
    (`months`, a condition on its month), the days of the partial boundary months from the lines (`days`, a
    condition on the line's date; the report's own date filters still apply to those lines)."""

    months: Q
    days: Q


def _date_split(spec) -> DateSplit | None:
    """None when every order-date filter falls on a month boundary (the summary alone serves them)."""
    dated = [f for f in spec.filters if f.info.path == "order_date"]
    if all(_month_bound(f) is not None for f in dated):
        return None
    lo, hi = dt.date.min, dt.date.max
    for f in dated:
        day = f.value
        if f.op in {"gte", "eq"}:
            lo = max(lo, day)
        if f.op == "gt":
            lo = max(lo, day + dt.timedelta(days=1))
        if f.op in {"lte", "eq"}:
            hi = min(hi, day)
        if f.op == "lt":
            hi = min(hi, day - dt.timedelta(days=1))
    never = Q(month__isnull=True)  # no summary row (compiles, unlike an empty IN inside the UNION)
    if lo > hi:  # nothing can match: the lines say so (the report's filters leave none), the summary too
        return DateSplit(never, Q(order_date=lo))
    # whole months inside [lo, hi]
    first = lo if lo == dt.date.min or lo.day == 1 else _month_end(lo) + dt.timedelta(days=1)
    last = hi if hi == dt.date.max or hi == _month_end(hi) else _month_start(hi) - dt.timedelta(days=1)
    months = Q()
    if lo != dt.date.min:
        months &= Q(month__gte=first)
    if hi != dt.date.max:
        months &= Q(month__lte=_month_start(last))
    if first > last:
        months = never
    parts = []
    head = lo != dt.date.min and lo.day != 1
    if head:
        parts.append(Q(order_date__gte=lo, order_date__lte=min(hi, _month_end(lo))))
    if hi != dt.date.max and hi != _month_end(hi) and not (head and _month_start(hi) == _month_start(lo)):
        parts.append(Q(order_date__gte=max(lo, _month_start(hi)), order_date__lte=hi))
    days = parts[0] if parts else Q(order_date__isnull=True)
    for part in parts[1:]:
        days |= part
    return DateSplit(months, days)


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
    "… or the order is shared with them" (`Access.owner_reach`: the statement `Access.filter` builds is
    compared with the one rebuilt from these parts, so any other scope term falls back to the lines); None
    otherwise."""
    from kehu.core import registry
    from kehu.core.access import Access

    prefix, owner_field = registry.require(spec.model).scope_path()
    if f"{prefix}{owner_field}" != "order__owner":
        return None
    reach = Access.of(user).owner_reach(spec.model)
    if reach is False:
        return None
    owners, shared = reach
    return Reach(EVERYTHING) if owners is None else Reach(owners, shared)


def _filtered(qs, spec, *, months: bool, split: DateSplit | None = None):
    """The report's filters on the summary (`months`: dates as month conditions — the whole months of `split`
    when a bound is mid-month) or on the lines."""
    for f in spec.filters:
        if months and f.info.path == "order_date":
            if split is None:
                qs = qs.filter(_month_bound(f))
            continue
        qs = qs.filter(f.q())
    if months and split is not None:
        qs = qs.filter(split.months)
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
    split = _date_split(spec)
    needs_lines = reach is not None and (reach.shared is not None or split is not None)
    if reach is None or (needs_lines and shared_lines is None) or not is_valid():
        return None
    qs = OrderLineMonth.objects.order_by()
    if reach.owners is not EVERYTHING:
        qs = qs.filter(owner_id__in=reach.owners)
    qs = _filtered(qs, spec, months=True, split=split)
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
    if not needs_lines:
        # a group whose lines were all deleted keeps delta rows summing to 0 lines: not a group of the report
        return qs.filter(n_lines__gt=0), measures
    # the lines added to the summary: the reader's own lines in the partial boundary months of a mid-month
    # date filter, and the shared orders outside the owner list (those inside it are in the summary already)
    parts = []
    if split is not None:
        own = Q() if reach.owners is EVERYTHING else Q(order__owner_id__in=reach.owners)
        parts.append(own & split.days)
    if reach.shared is not None:
        parts.append(reach.shared & ~Q(order__owner_id__in=reach.owners))
    extra = parts[0]
    for part in parts[1:]:
        extra |= part
    lines = shared_lines(_filtered(spec.model._default_manager.filter(extra), spec, months=False))
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
