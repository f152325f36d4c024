"""Helpers of the campaign tests: customers with email consent, a campaign with a journey, approval and launch,
and moving the frozen clock to the next allowed send slot (so that no test depends on the hour it starts at)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from kehu.customers.models import Customer
from kehu.marketing import contact_rules as cr
from kehu.marketing.models import Campaign, Segment, SegmentKind, SegmentMember, StepKind
from kehu.marketing.services import campaigns as services

GRANTED = {"email": {"status": "granted", "method": "web_form", "at": "2026-01-01T00:00:00+08:00"}}


def customer(name: str, owner=None, *, email: str | None = None, consent=GRANTED, **extra) -> Customer:
    return Customer.objects.create(
        name=name,
        owner=owner,
        email=email if email is not None else f"{abs(hash(name)) % 10**8}@example.com",
        consent=consent,
        **extra,
    )


def static_segment(owner, customers, name="目标客户") -> Segment:
    segment = Segment.objects.create(name=name, owner=owner, kind=SegmentKind.STATIC)
    SegmentMember.objects.bulk_create([SegmentMember(segment=segment, customer=c) for c in customers])
    return segment


def campaign(owner, segment, *, steps=None, name="春季新品推广", **extra) -> Campaign:
    made = services.campaign_create(data={"name": name, "owner": owner, **extra}, by=owner)
    made.segments.add(segment)
    for data in steps or [
        {
            "kind": StepKind.SEND,
            "subject": "{{ name }}，春季新品上市",
            "body": "您好 {{ name }}，\n\n新品详情：https://shop.example.com/spring?utm=kehu\n\n{{ city }} 门店见。",
        }
    ]:
        services.step_save(campaign=made, data=data, by=owner)
    made.refresh_from_db()
    return made


def launch(made: Campaign, owner, approver) -> Campaign:
    services.campaign_submit(campaign=made, by=owner)
    services.campaign_approve(campaign=made, by=approver)
    services.campaign_launch(campaign=made, by=owner)
    made.refresh_from_db()
    return made


def to_next_slot(frozen_clock, kind=cr.MessageKind.MARKETING, tz_name=None) -> dt.datetime:
    """Move the frozen clock (standing still) to the next instant the rules allow for ``kind``."""
    slot = cr.next_slot(timezone.now(), cr.zone(tz_name), kind, cr.config())
    frozen_clock.move_to(slot, tick=False)
    return slot
