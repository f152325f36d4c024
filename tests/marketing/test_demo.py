"""The demo marketer gets segments of every kind (purchases, consent, region, contacts, RFM) and a snapshot."""

from __future__ import annotations

import random

import pytest

from kehu.core.demo import seed_org
from kehu.customers.demo import seed_customers
from kehu.marketing import demo
from kehu.marketing.models import Segment, SegmentKind
from kehu.marketing.segments import members
from kehu.marketing.selectors.segments import segment_members

pytestmark = pytest.mark.django_db


def test_demo_segments_for_the_marketer():
    org = seed_org()
    ids = seed_customers(count=80, owners=org.owners, rng=random.Random(3))
    summary = demo.seed({"org": org, "customer_ids": ids, "rng": random.Random(3)})
    assert summary.startswith("5 segments") and "codes issued" in summary
    marketer = org.users["marketer"]
    segments = list(Segment.objects.all())
    assert len(segments) == 6 and all(s.owner == marketer for s in segments)
    assert [s.kind for s in segments].count(SegmentKind.STATIC) == 1
    prospects = Segment.objects.get(name__startswith="京沪潜在客户")
    assert segment_members(segment=prospects, user=marketer).count() == members(prospects).count() > 0
    # every demo segment is usable by the marketer (no field hidden from their role)
    for segment in segments:
        segment_members(segment=segment, user=marketer).count()
