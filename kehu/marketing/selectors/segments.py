"""Segment reads. A person only ever sees and counts the customers in their own record scope: every
membership read for a user starts from ``customer_list(user=…)`` and compiles the rules with the user's field
rights (a segment using a field hidden from the reader is refused, not silently widened)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from kehu.core.access import Access
from kehu.core.selectors import get_visible, mask_hidden, scoped
from kehu.customers.models import Customer
from kehu.customers.selectors import customer_list

from .. import rules
from ..models import Campaign, Segment, SegmentKind

SAMPLE_SIZE = 10


def segment_list(*, user) -> QuerySet[Segment]:
    return scoped(Segment, user=user).select_related("owner")


def segment_get(*, user, pk) -> Segment:
    return get_visible(segment_list(user=user), user=user, pk=pk)


def _static_members(segment: Segment) -> QuerySet[Customer]:
    return Customer.objects.filter(marketing_segment_memberships__segment=segment)


def members(segment: Segment) -> QuerySet[Customer]:
    """The customers in ``segment`` for the system (campaign sends): unscoped, every field usable, merged-away
    customers left out."""
    if segment.kind == SegmentKind.STATIC:
        return _static_members(segment).filter(merged_into__isnull=True)
    _clean, condition = rules.compile_rules(segment.definition or {})
    return Customer.objects.filter(merged_into__isnull=True).filter(condition)


def rules_members(*, definition, user) -> tuple[dict, QuerySet[Customer]]:
    """(normalised definition, the customers in the user's scope who match it). RuleError when invalid or
    when it uses a field the user may not use."""
    clean, condition = rules.compile_rules(definition, user=user)
    return clean, customer_list(user=user).filter(condition)


def segment_members(*, segment: Segment, user) -> QuerySet[Customer]:
    """The members of a segment the user may see: a static segment's snapshot, a dynamic one's rules — in
    both cases only customers in the user's scope. RuleError when the rules use a field hidden from them."""
    if segment.kind == SegmentKind.STATIC:
        return customer_list(user=user).filter(pk__in=segment.members.values("customer_id"))
    return rules_members(definition=segment.definition or {}, user=user)[1]


def customers_in_segment(queryset: QuerySet[Customer], *, user, segment_id) -> QuerySet[Customer]:
    """The `?segment=<id>` filter of customer lists: the customers of ``queryset`` in a segment the user may
    see (none when the segment is not visible to them or its rules use a field hidden from them)."""
    segment = segment_list(user=user).filter(pk=segment_id).first() if user is not None else None
    if segment is None:
        return queryset.none()
    try:
        if segment.kind == SegmentKind.STATIC:
            return queryset.filter(pk__in=segment.members.values("customer_id"))
        _clean, condition = rules.compile_rules(segment.definition or {}, user=user)
    except rules.RuleError:
        return queryset.none()
    return queryset.filter(condition)


def member_sample(queryset: QuerySet[Customer], *, user, size: int = SAMPLE_SIZE) -> list[Customer]:
    """The first members by name, with the fields hidden from the user blanked (a hidden name shows as its id);
    ordered by id instead when the name is hidden, so the order reveals nothing either."""
    hidden = "name" in Access.of(user).hidden_fields(Customer)
    rows = queryset.order_by(*(("pk",) if hidden else ("name", "pk"))).only("id", "name", "kind")[:size]
    return mask_hidden(list(rows), user=user)


def segment_choices(*, user) -> QuerySet[Segment]:
    """Segments a user may pick as campaign targets (those they may see)."""
    return segment_list(user=user).order_by("name", "pk")


def campaign_audience(campaign: Campaign) -> QuerySet[Customer]:
    """Everybody in any of the campaign's target segments (system read, one query: the union of the segments'
    conditions; consent and contact rules are checked at send time, not here)."""
    condition = Q(pk__in=[])
    for segment in campaign.segments.all():
        if segment.kind == SegmentKind.STATIC:
            condition |= Q(pk__in=segment.members.values("customer_id"))
        else:
            condition |= rules.compile_rules(segment.definition or {})[1]
    return Customer.objects.filter(merged_into__isnull=True).filter(condition)
