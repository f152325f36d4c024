"""The customer value panel, the list filter, the analytics pages and the API — all within the caller's scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kehu.analytics.models import CustomerScore, ScoringRun
from kehu.analytics.services import scoring_run
from kehu.core.access import Access
from kehu.core.models import FieldGrant, ModelGrant, Scope

from .conftest import buy

pytestmark = pytest.mark.django_db


def days_ago(n: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=n)


@pytest.fixture
def scored(org, make_customer):
    """rep1 owns a champion-like and a lost-like customer; rep3 owns one more; then a scoring run."""
    mine_best = make_customer("北京优选贸易有限公司", owner=org.rep1)
    for n in (5, 20, 40, 60, 80, 100):
        buy(mine_best, days_ago(n), 5000)
    mine_lost = make_customer("广州旧客户有限公司", owner=org.rep1)
    buy(mine_lost, days_ago(700), 50)
    theirs = make_customer("杭州东方电子有限公司", owner=org.rep3)
    buy(theirs, days_ago(3), 8000)
    buy(theirs, days_ago(30), 8000)
    scoring_run()
    return {"best": mine_best, "lost": mine_lost, "theirs": theirs}


def test_360_page_shows_the_customer_value_panel_and_segment_figure(scored, org, client_for):
    client = client_for(org.rep1)
    score = CustomerScore.objects.get(customer=scored["best"])
    response = client.get(scored["best"].get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="customer-value-panel"' in html
    assert f"?rfm_segment={score.segment}" in html
    assert str(score.get_segment_display()) in html


def test_panel_costs_one_query_and_is_absent_without_a_score(scored, org, client_for, make_customer):
    client = client_for(org.rep1)
    fresh = make_customer("新客户无订单", owner=org.rep1)
    with CaptureQueriesContext(connection) as without:
        response = client.get(fresh.get_absolute_url())
    assert 'data-testid="customer-value-panel"' not in response.content.decode()
    with CaptureQueriesContext(connection) as with_score:
        client.get(scored["best"].get_absolute_url())
    # the panel and the key figure share one memoised query
    assert len(with_score.captured_queries) <= len(without.captured_queries) + 1


def test_customer_list_and_api_filter_by_rfm_segment_within_scope(scored, org, client_for, api_for):
    lost = CustomerScore.objects.get(customer=scored["lost"]).segment
    response = client_for(org.rep1).get(f"/customers/?rfm_segment={lost}")
    html = response.content.decode()
    assert scored["lost"].name in html and scored["best"].name not in html
    data = api_for(org.rep1).get(f"/api/customers/?rfm_segment={lost}").json()
    assert [row["id"] for row in data["results"]] == [scored["lost"].pk]
    theirs = CustomerScore.objects.get(customer=scored["theirs"]).segment
    data = api_for(org.rep1).get(f"/api/customers/?rfm_segment={theirs}").json()
    assert scored["theirs"].pk not in [row["id"] for row in data["results"]]
    assert api_for(org.rep1).get("/api/customers/?rfm_segment=nonsense").status_code == 400


def test_the_segment_filter_is_ignored_for_a_role_that_may_not_see_the_segment(
    scored, org, client_for, api_for
):
    role = org.rep1.roles.get()
    ModelGrant.objects.create(role=role, model="analytics.customerscore", can_view=True, read_scope=Scope.OWN)
    FieldGrant.objects.create(role=role, model="analytics.customerscore", field="segment", access="hidden")
    Access.forget(org.rep1)
    lost = CustomerScore.objects.get(customer=scored["lost"]).segment
    ids = {
        row["id"] for row in api_for(org.rep1).get(f"/api/customers/?rfm_segment={lost}").json()["results"]
    }
    assert {scored["lost"].pk, scored["best"].pk} <= ids  # not narrowed: the answer says nothing of segments
    html = client_for(org.rep1).get(f"/customers/?rfm_segment={lost}").content.decode()
    assert scored["lost"].name in html and scored["best"].name in html


def test_scores_api_is_scoped(scored, org, api_for):
    data = api_for(org.rep1).get("/api/analytics/scores/").json()
    ids = {row["customer"] for row in data["results"]}
    assert ids == {scored["best"].pk, scored["lost"].pk}
    row = next(r for r in data["results"] if r["customer"] == scored["best"].pk)
    assert row["frequency"] == 6 and row["monetary"] == "30000.00" and 0 <= row["p_alive"] <= 1
    assert row["segment_label"]
    assert api_for(org.rep1).get(f"/api/analytics/scores/{scored['theirs'].pk}/").status_code == 404
    assert api_for(org.rep3).get(f"/api/analytics/scores/{scored['theirs'].pk}/").status_code == 200
    everyone = api_for(org.exec).get("/api/analytics/scores/?ordering=-clv").json()
    assert everyone["count"] == 3


def test_scores_and_segments_api_leave_out_hidden_fields(scored, org, api_for):
    role = org.rep1.roles.get()
    # a field restriction on the score model (the role views it through its customers)
    ModelGrant.objects.create(role=role, model="analytics.customerscore", can_view=True, read_scope=Scope.OWN)
    FieldGrant.objects.create(role=role, model="analytics.customerscore", field="clv", access="hidden")
    FieldGrant.objects.create(role=role, model="analytics.customerscore", field="monetary", access="hidden")
    Access.forget(org.rep1)  # grants are cached per user object for a request
    data = api_for(org.rep1).get("/api/analytics/scores/").json()
    assert data["results"] and all("clv" not in r and "monetary" not in r for r in data["results"])
    segments = api_for(org.rep1).get("/api/analytics/segments/").json()
    assert segments and all("clv" not in s and "revenue" not in s for s in segments)
    from django.test import Client

    client = Client()
    client.force_login(org.rep1)
    page = client.get("/analytics/").content.decode()
    assert 'data-testid="segments"' in page and 'data-testid="segment-clv"' not in page
    panel = client.get(scored["best"].get_absolute_url()).content.decode()
    assert 'data-testid="customer-value-panel"' in panel and 'data-testid="clv"' not in panel


def test_segments_api_and_page_count_only_visible_customers(scored, org, api_for, client_for):
    segments = api_for(org.rep1).get("/api/analytics/segments/").json()
    assert sum(s["customers"] for s in segments) == 2
    assert {s["segment"] for s in segments} == set(
        CustomerScore.objects.filter(customer__owner=org.rep1).values_list("segment", flat=True)
    )
    response = client_for(org.rep1).get("/analytics/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="segments"' in html and "/customers/?rfm_segment=" in html
    assert 'data-testid="run-scoring"' not in html  # reps do not start runs


def test_only_administrators_run_scoring_and_read_diagnostics(
    scored, org, admin_user, client_for, django_capture_on_commit_callbacks
):
    rep = client_for(org.rep1)
    assert rep.post("/analytics/run/").status_code == 403
    assert rep.get("/analytics/diagnostics/").status_code == 403
    admin = client_for(admin_user)
    before = ScoringRun.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/analytics/run/")
    assert response.status_code == 302
    # enqueued when the request's transaction commits; the immediate task backend of the tests runs it at once
    assert ScoringRun.objects.count() == before + 1
    assert ScoringRun.objects.order_by("-id").first().started_by == admin_user
    page = admin.get("/analytics/diagnostics/").content.decode()
    assert 'data-testid="bgnbd"' in page and "heuristic" in page
    assert "<script>" not in page and "onclick" not in page


def test_diagnostics_show_parameters_and_the_frequency_table_after_a_fit(org, admin_user, client_for):
    import random

    from kehu.customers.models import Customer

    from .test_scoring import simulate

    customers = [Customer.objects.create(name=f"客户{i}", owner=org.rep1) for i in range(120)]
    simulate(customers, random.Random(5))
    scoring_run()
    page = client_for(admin_user).get("/analytics/diagnostics/").content.decode()
    assert 'data-testid="frequency-table"' in page and 'id="frequency-data"' in page
    assert "7+" in page and "analytics/diagnostics.js" in page
    assert "nan" not in page.lower().replace("nana", "")
