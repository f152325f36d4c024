"""Models of the marketing app, one module per area, all imported here."""

from .campaigns import (
    FINAL_STATUSES,
    BranchCondition,
    Campaign,
    CampaignStatus,
    ContactLedger,
    ContactProfile,
    DoNotContact,
    Enrolment,
    EnrolmentStatus,
    JourneyStep,
    Message,
    MessageStatus,
    RuleHold,
    StepKind,
)
from .promotions import CouponCode, Promotion, PromotionKind
from .segments import Segment, SegmentKind, SegmentMember

__all__ = [
    "FINAL_STATUSES",
    "BranchCondition",
    "Campaign",
    "CampaignStatus",
    "ContactLedger",
    "ContactProfile",
    "CouponCode",
    "DoNotContact",
    "Enrolment",
    "EnrolmentStatus",
    "JourneyStep",
    "Message",
    "MessageStatus",
    "Promotion",
    "PromotionKind",
    "RuleHold",
    "Segment",
    "SegmentKind",
    "SegmentMember",
    "StepKind",
]
