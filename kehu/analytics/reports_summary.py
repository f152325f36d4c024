"""The report builder's summary path (issue #11 performance; ADR 0011, "Performance addendum").

A report on order lines whose every group, measure and filter is answerable from `OrderLineMonth` (month,
quarter or year of the order date, the customer's RFM segment, currency, `counted`; the number of lines and the
sums of amount and quantity; filters on `counted` and currency) is compiled to one statement over that summary
instead of over the lines — a few thousand rows instead of millions. Used only

- on PostgreSQL, where triggers keep the summary current, and only while it is marked valid;
- for a reader who sees every order line, or whose scope is exactly "orders owned by these users" (own, team,
  department): the summary keeps the order's owner; a scope with shared records or other terms goes the
  plain way over the reader's lines;
- for fields the reader's catalogue offers (the specification was checked against it before: hidden fields
  never get here).

The result is the same as the plain statement's (tests compare them on the same data)."""

from __future__ import annotations

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
        return False
    return True


def is_valid() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT valid FROM analytics_linemonth_state WHERE id = 1")
        row = cursor.fetchone()
    return bool(row and row[0])


#: the reader sees every line
EVERYTHING = ()


def _owner_scope(spec, user):
    """EVERYTHING when the reader's scope adds no condition; the sorted owner ids when it is exactly "the order's
    owner is one of these" (the statement `Access.filter` builds is compared with that one, so shared records
    or any extra scope term fall back to the lines); None otherwise."""
    from kehu.core import registry
    from kehu.core.access import Access, Scope

    qs = scoped(spec.model, user=user)
    if not qs.query.where:
        return EVERYTHING
    prefix, owner_field = registry.require(spec.model).scope_path()
    if f"{prefix}{owner_field}" != "order__owner":
        return None
    access = Access.of(user)
    owners = access.owner_ids(Scope(access.grant(spec.model).read_scope))
    if not owners:
        return None
    owners = sorted(owners)
    expected = spec.model._default_manager.filter(order__owner_id__in=owners)
    return owners if str(qs.query) == str(expected.query) else None


def compile_summary(spec, *, user, bucket_expression):
    """(queryset, measures) over the summary, or None when the report cannot use it. The queryset yields the
    same row dictionaries (g0…, m0…) as `reports.compile_query`."""
    from .models_summary import OrderLineMonth

    if not usable(spec):
        return None
    owners = _owner_scope(spec, user)
    if owners is None or not is_valid():
        return None
    qs = OrderLineMonth.objects.order_by()
    if owners is not EVERYTHING:
        qs = qs.filter(owner_id__in=owners)
    for f in spec.filters:
        cond = Q(**{f"{f.info.path}__in" if f.op == "in" else f.info.path: f.value})
        qs = qs.filter(~cond if f.op == "ne" else cond)
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
    # a group whose lines were all deleted keeps delta rows summing to 0 lines: not a group of the report
    qs = qs.values(**values).annotate(**measures, n_lines=Sum("lines")).filter(n_lines__gt=0)
    return qs, measures
