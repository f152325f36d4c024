"""The demo's scorecard means something: KPIs in all four perspectives with owners and links, statuses of more
than one colour, initiatives with finite ROI/NPV/IRR (the suite's frozen clock makes the demo reproducible)."""

from __future__ import annotations

import io
import math

import pytest
from django.core.management import call_command
from django.utils import timezone

from kehu.analytics import scorecard
from kehu.analytics.models_scorecard import CostEntry, Initiative, KpiLink
from kehu.analytics.periods import parse
from kehu.core.models import User

pytestmark = pytest.mark.django_db


def test_the_demo_scorecard_has_targets_values_links_costs_and_initiatives():
    call_command("seed_demo", customers=300, seed=11, stdout=io.StringIO())
    executive = User.objects.get(username="exec")
    period = parse(None, None, today=timezone.localdate())  # the last complete quarter
    card = scorecard.build(user=executive, period=period)
    assert {p["key"] for p in card["perspectives"] if p["rows"]} == {
        "financial",
        "customer",
        "process",
        "learning",
    }
    statuses = {r.status for r in card["rows"]}
    assert len(statuses - {"none"}) >= 2, statuses
    assert all(r.kpi.responsible_id for r in card["rows"])
    assert KpiLink.objects.count() >= 10 and CostEntry.objects.filter(category="acquire").exists()
    for initiative in Initiative.objects.all():
        result = scorecard.evaluate_initiative(initiative, user=executive).as_dict()
        for key in ("roi", "npv", "irr", "irr_annual"):
            assert result[key] is None or math.isfinite(result[key])
    rollout = Initiative.objects.get(name__startswith="CRM")
    assert scorecard.evaluate_initiative(rollout, user=executive).evaluation.irr is not None
    manager = scorecard.build(user=User.objects.get(username="manager"), period=period)
    assert manager["unit"].department is not None
