"""The sales demo data: leads and deals across every stage over three years for the demo reps, visible
according to the demo roles (a rep sees their own, the manager their region, the executive everything)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from kehu.core.models import User
from kehu.sales import selectors
from kehu.sales.models import Lead, Opportunity, Pipeline, StageChange

pytestmark = pytest.mark.django_db


def test_seed_demo_fills_the_sales_pipeline():
    out = io.StringIO()
    call_command("seed_demo", customers=400, seed=5, stdout=out)
    assert "kehu.sales.demo" in out.getvalue()
    pipeline = Pipeline.objects.get(is_default=True)
    kinds = set(Opportunity.objects.filter(pipeline=pipeline).values_list("stage__kind", flat=True))
    assert kinds == {"open", "won", "lost"}
    assert (
        Opportunity.objects.filter(pipeline=pipeline, status="open")
        .order_by()
        .values("stage")
        .distinct()
        .count()
        >= 3
    )
    oldest = Opportunity.objects.order_by("created_at").first().created_at
    assert (timezone.now() - oldest).days > 365 * 2
    assert not Opportunity.objects.filter(status__in=["won", "lost"], close_reason__isnull=True).exists()
    assert StageChange.objects.count() >= Opportunity.objects.count()
    assert Lead.objects.count() >= 60 and {"new", "working", "qualified", "disqualified"} <= set(
        Lead.objects.values_list("status", flat=True)
    )
    rep1, manager, boss = (User.objects.get(username=u) for u in ("rep1", "manager", "exec"))
    mine = selectors.opportunity_list(user=rep1)
    assert mine.exists() and not mine.exclude(owner=rep1).exists()
    assert selectors.opportunity_list(user=manager).count() > mine.count()
    assert selectors.opportunity_list(user=boss).count() == Opportunity.objects.count()
    board = selectors.board(user=rep1, pipeline=pipeline)
    assert sum(c.count for c in board.columns) == mine.filter(pipeline=pipeline).filter(
        status="open"
    ).count() + sum(c.count for c in board.columns if c.stage.kind != "open")
    for opp in Opportunity.objects.all()[:50]:
        assert opp.stage.pipeline_id == opp.pipeline_id and opp.probability == opp.stage.probability
