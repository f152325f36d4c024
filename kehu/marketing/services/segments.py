"""Segment use cases: save a segment (its rules validated for the author's rights), take a static snapshot.

Writes go through the record service (object and record rights, field rights, optimistic locking, audit).
A snapshot materialises the members in one ``INSERT … SELECT`` from the compiled rule query: no customer row
passes through Python, so it takes the time of the query (docs/benchmarks.md)."""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import BigIntegerField, DateTimeField, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit, records
from kehu.core.models import Action, AuditAction

from .. import rules
from ..models import Segment, SegmentKind, SegmentMember
from ..selectors.segments import segment_members


def _clean_data(data: dict, *, by) -> dict:
    """Validate the rules for the acting user (RuleError: a ValidationError on ``definition``)."""
    data = dict(data)
    if "definition" in data:
        try:
            clean, _q = rules.compile_rules(data["definition"] or {}, user=by)
        except rules.RuleError as exc:
            raise rules.RuleError({"definition": exc.messages}) from None
        data["definition"] = rules.jsonable(clean)
    return data


def segment_create(*, data: dict, by) -> Segment:
    """Create a segment as ``by`` (add right on segments). A static segment created this way starts empty;
    ``segment_snapshot`` fills one."""
    return records.record_create(model=Segment, data=_clean_data(data, by=by), by=by)


def segment_update(*, segment: Segment, data: dict, by, expected_version: int | None) -> Segment:
    """Change a segment (change right, write scope, optimistic locking); its rules are re-validated for the
    editor's rights."""
    return records.record_update(
        instance=segment, data=_clean_data(data, by=by), by=by, expected_version=expected_version
    )


def _insert_members(segment_id: int, queryset) -> int:
    """INSERT INTO marketing_segmentmember … SELECT from the member query: one statement, no row in Python."""
    rows = queryset.order_by().annotate(
        _segment=Value(segment_id, output_field=BigIntegerField()),
        _added=Value(timezone.now(), output_field=DateTimeField()),
    )
    select_sql, params = rows.values_list("pk", "_segment", "_added").query.sql_with_params()
    table = connection.ops.quote_name(SegmentMember._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (customer_id, segment_id, added_at) {select_sql}",  # noqa: S608 - our own SQL
            params,
        )
        return cursor.rowcount


def segment_snapshot(*, segment: Segment, by, name: str = "") -> Segment:
    """A new static segment holding the customers now in ``segment`` that ``by`` may see (add right on
    segments; the source must be visible to them and its rules usable with their field rights). The rules are
    kept on the snapshot for reference; its members no longer change. Audited as a creation whose note gives
    the source and the number of members."""
    records.ensure(by, Action.ADD, Segment)
    source_members = segment_members(segment=segment, user=by)
    label = name.strip() or _("%(name)s (snapshot %(date)s)") % {
        "name": segment.name,
        "date": timezone.localdate().isoformat(),
    }
    with transaction.atomic():
        snapshot = records.record_create(
            model=Segment,
            data={
                "name": label[:200],
                "description": segment.description,
                "kind": SegmentKind.STATIC,
                "definition": segment.definition,
            },
            by=by,
            note=_("snapshot of segment #%(id)s") % {"id": segment.pk},
        )
        added = _insert_members(snapshot.pk, source_members)
        audit.log(
            actor=by,
            action=AuditAction.UPDATE,
            instance=snapshot,
            changes={"members": [0, added]},
            note=_("snapshot of segment #%(id)s") % {"id": segment.pk},
        )
    return snapshot
