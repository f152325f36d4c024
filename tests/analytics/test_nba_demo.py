"""The demo's Next Best Activity data: a ranking, a decision history with closed outcomes, initiatives, and a
worklist that is not empty for a demo rep."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from kehu.analytics.models_nba import NbaCalibration, NbaDecision, NbaRecommendation, Outcome
from kehu.analytics.models_scorecard import Initiative
from kehu.analytics.selectors_nba import initiative_ranking, worklist
from kehu.core.models import User

pytestmark = pytest.mark.django_db


def test_seed_demo_gives_a_worklist_that_means_something():
    out = io.StringIO()
    call_command("seed_demo", customers=400, seed=5, stdout=out)
    assert "NBA decisions" in out.getvalue()
    assert NbaRecommendation.objects.count() > 100
    assert NbaDecision.objects.filter(outcome=Outcome.SUCCESS).exists()
    assert NbaDecision.objects.filter(outcome=Outcome.NO_RESPONSE).exists()
    assert NbaCalibration.objects.exists()
    assert Initiative.objects.filter(cash_flows__isnull=False).distinct().count() >= 7
    ranking = initiative_ranking(user=User.objects.get(username="admin"))
    indexes = [r["benefit_index"] for r in ranking]
    assert all(i is not None for i in indexes) and indexes == sorted(indexes, reverse=True)
    rep = User.objects.get(username="rep1")
    rows = list(worklist(user=rep))
    assert rows and all(r.customer.owner_id == rep.pk for r in rows)
