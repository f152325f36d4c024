"""Hidden everywhere (ADR 0009, issue #11): NBA's expected effect E and its benefit index (E − C)/C are computed
from the customer's CLV (or expected spend, P(alive), purchase history). A role that may not see `clv` on
analytics.customerscore sees neither E nor the index — not on the worklist, the 360° NBA panel, the API
(recommendations, worklist, decisions, report), the NBA report page, nor through the report builder — while the
same role without the restriction sees both (so the needles below are the figures as the pages print them)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kehu.analytics.models_nba import NbaAction, NbaDecision, NbaRecommendation, Outcome
from kehu.analytics.selectors_nba import benefit_report, effect_hidden
from kehu.analytics.services_nba import nba_decide
from kehu.core.access import Access
from kehu.core.models import FieldAccess, FieldGrant, ModelGrant, Scope

from .test_nba import book  # noqa: F401, F811 - the NBA fixture

pytestmark = pytest.mark.django_db

#: E and the index written into the rep's top recommendation and a closed decision (unique in any page)
EFFECT, INDEX = Decimal("7654321.98"), 4321.987
NEEDLES = ("7654321", "7,654,321", "4321.99", "4,321.99")


@pytest.fixture
def marked(book, org):  # noqa: F811
    best = book["best"]
    top = NbaRecommendation.objects.get(customer=best, rank=1)
    NbaRecommendation.objects.filter(pk=top.pk).update(expected_effect=EFFECT, benefit_index=INDEX)
    other = NbaAction.objects.exclude(pk=top.action_id).filter(active=True).first()
    decision = nba_decide(customer=best, action=other, decision="taken", by=org.rep1)
    NbaDecision.objects.filter(pk=decision.pk).update(
        expected_effect=EFFECT, benefit_index=INDEX, outcome=Outcome.SUCCESS, realised_effect=Decimal("10")
    )
    return best


def _hide(user, field="clv"):
    role = user.roles.get()
    ModelGrant.objects.get_or_create(
        role=role, model="analytics.customerscore", defaults={"can_view": True, "read_scope": Scope.OWN}
    )
    FieldGrant.objects.create(
        role=role, model="analytics.customerscore", field=field, access=FieldAccess.HIDDEN
    )
    Access.forget(user)
    return type(user).objects.get(pk=user.pk)


def _bodies(client, api, customer) -> dict[str, str]:
    pages = {
        "worklist": "/analytics/nba/",
        "360": customer.get_absolute_url(),
        "report page": "/analytics/nba/report/",
    }
    apis = {
        "api recommendations": f"/api/analytics/nba/recommendations/?customer={customer.pk}",
        "api worklist": "/api/analytics/nba/worklist/",
        "api decisions": "/api/analytics/nba/decisions/",
        "api report": "/api/analytics/nba/report/",
    }
    out = {}
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        out[name] = response.content.decode()
    for name, url in apis.items():
        response = api.get(url)
        assert response.status_code == 200, name
        out[name] = response.content.decode()
    return out


def _leaks(bodies: dict[str, str]) -> list[str]:
    return [f"{name}: {needle}" for name, body in bodies.items() for needle in NEEDLES if needle in body]


def test_the_figures_show_for_a_role_that_may_see_clv(marked, org, client_for, api_for):
    bodies = _bodies(client_for(org.rep1), api_for(org.rep1), marked)
    # every artefact prints E or the index (otherwise the masked test below would prove nothing)
    shown = {name for name, body in bodies.items() if any(n in body for n in NEEDLES)}
    assert shown == set(bodies), set(bodies) - shown
    assert not effect_hidden(org.rep1)


@pytest.mark.parametrize("field", ["clv", "p_alive", "expected_spend"])
def test_e_and_the_benefit_index_are_hidden_where_a_source_field_is(marked, org, client_for, api_for, field):
    rep = _hide(org.rep1, field)
    assert effect_hidden(rep)
    bodies = _bodies(client_for(rep), api_for(rep), marked)
    assert _leaks(bodies) == []
    assert 'data-testid="nba-effect-hidden"' in bodies["worklist"]
    assert 'data-testid="nba-effect-hidden"' in bodies["360"]
    # the recommendation itself still shows: the rep knows what to do, not what it is worth
    assert f'data-customer="{marked.pk}"' in bodies["worklist"]
    rows = api_for(rep).get(f"/api/analytics/nba/recommendations/?customer={marked.pk}").json()["results"]
    assert rows and all("expected_effect" not in r and "benefit_index" not in r for r in rows)
    assert all("expected_cost" in r and "action_code" in r for r in rows)
    report = benefit_report(user=rep)
    assert report["totals"]["expected"] is None and all(r["expected"] is None for r in report["rows"])
    assert report["totals"]["realised"] == 10.0  # the realised effect is order data, not derived from CLV


def test_the_report_builder_refuses_e_as_a_measure_filter_or_group(marked, org, api_for):
    rep = _hide(org.rep1)
    api = api_for(rep)
    for spec in (
        {"model": "analytics.nbarecommendation", "measures": [{"agg": "sum", "field": "expected_effect"}]},
        {"model": "analytics.nbarecommendation", "group_by": [{"field": "benefit_index"}]},
        {
            "model": "analytics.nbadecision",
            "filters": [{"field": "expected_effect", "op": "gt", "value": 7654321}],
        },
    ):
        answer = api.post("/api/analytics/reports/preview/", {"spec": spec}, format="json")
        assert answer.status_code in (400, 403), spec
        assert not any(n in answer.content.decode() for n in NEEDLES)
    fields = api.get("/api/analytics/reports/fields/", {"model": "analytics.nbarecommendation"})
    if fields.status_code == 200:
        assert "expected_effect" not in fields.content.decode()
        assert "benefit_index" not in fields.content.decode()


def test_the_api_ignores_a_filter_or_sort_by_a_hidden_e(marked, org, api_for):
    rep = _hide(org.rep1)
    answer = api_for(rep).get("/api/analytics/nba/decisions/", {"ordering": "expected_effect"})
    assert answer.status_code == 200 and not any(n in answer.content.decode() for n in NEEDLES)


def test_a_decision_keeps_the_rfm_segment_hidden_with_the_score_segment(marked, org, api_for):
    rep = _hide(org.rep1, "segment")
    rows = api_for(rep).get("/api/analytics/nba/decisions/").json()["results"]
    assert rows and all("segment" not in r for r in rows)
    # E does not depend on the segment's name: it stays visible
    assert all("expected_effect" in r for r in rows)
