"""Segment membership: the one place that turns a segment into a customer queryset.

Static segments read their snapshot; dynamic segments are compiled from their rule definition
(kehu.marketing.rules). Reads for a person (scoped) are in kehu.marketing.selectors.segments.
"""

from __future__ import annotations

from .selectors.segments import campaign_audience, members

__all__ = ["campaign_audience", "members"]
