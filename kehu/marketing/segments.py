"""Segment membership: the one place that turns a segment into a customer queryset.

Static segments read their snapshot; dynamic segments are compiled from their rule definition (to come with
the rule builder; until then a dynamic segment without a compiler has its snapshot as members).
"""

from __future__ import annotations

from django.db.models import QuerySet

from kehu.customers.models import Customer

from .models import Segment


def members(segment: Segment) -> QuerySet[Customer]:
    """The customers in ``segment`` (unscoped: callers apply the user's scope where a user is involved)."""
    return Customer.objects.filter(marketing_segment_memberships__segment=segment)
