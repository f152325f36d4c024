"""Models of the marketing app, one module per area, all imported here."""

from .campaigns import Campaign, CampaignStatus
from .segments import Segment, SegmentKind, SegmentMember

__all__ = ["Campaign", "CampaignStatus", "Segment", "SegmentKind", "SegmentMember"]
