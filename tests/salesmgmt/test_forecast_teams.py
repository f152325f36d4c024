"""Team-level forecast adjustments (issue #17 part 3): a manager's figure for a whole team kept beside the sum of
the reps' figures (rep-level adjustments included), replacing it in the total; scope (every member inside the
writer's adjustment scope), bad input refused with nothing written, hidden amounts, page, API and audit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from kehu.core.models import AuditEntry, FieldGrant, Team
from kehu.sales.models import Opportunity
from kehu.salesmgmt.models import ForecastEntry, TeamForecastAdjustment
from kehu.salesmgmt.services import forecast as fc
from kehu.salesmgmt.services import forecast_teams as ft
from kehu.salesmgmt.services import plans


@pytest.fixture
def period():
    return fc.Period.current("quarter")


@pytest.fixture
def commit(pipeline, stages, account):
    def make(owner, amount):
        opp = Opportunity.objects.create(
            name=f"deal {owner} {amount}", customer=account, pipeline=pipeline, stage=stages[50], owner=owner,
            status="open", amount=Decimal(amount), probability=50, expected_close_date=timezone.localdate(),
        )  # fmt: skip
        ForecastEntry.objects.create(opportunity=opp, category="commit")
        return opp

    return make


def test_team_figure_beside_the_reps_and_in_the_total(org, commit, period):
    commit(org.rep1, "1000")
    commit(org.rep2, "2000")
    fc.adjustment_set(rep=org.rep1, period=period, amount="800", by=org.manager)
    f = fc.forecast_for(user=org.manager, period=period)
    [team] = f.teams
    assert team.team == org.team and {r.rep for r in team.reps} == {org.rep1, org.rep2}
    assert team.forecast == Decimal("3000") and team.reps_final == Decimal("2800") and team.adjustment is None
    assert f.final == Decimal("2800") and team.can_adjust

    adj = ft.team_adjustment_set(
        team=org.team, period=period, amount="2500", note="大客户推迟", by=org.manager
    )
    assert adj.adjusted_by == org.manager
    f = fc.forecast_for(user=org.manager, period=period)
    [team] = f.teams
    # the reps' figures are untouched; the team's figure replaces their sum in the total
    assert team.reps_final == Decimal("2800") and team.manager_forecast == Decimal("2500")
    assert [r.final for r in sorted(f.rows, key=lambda r: r.rep.pk)] == [Decimal("800"), Decimal("2000")]
    assert f.final == Decimal("2500")
    ft.team_adjustment_set(
        team=org.team, period=period, amount="2600.50", note="", by=org.manager, expected_version=adj.version
    )
    adj.refresh_from_db()
    assert adj.amount == Decimal("2600.50") and adj.version == 2
    assert (
        AuditEntry.objects.filter(model="salesmgmt.teamforecastadjustment", object_id=str(adj.pk)).count()
        == 2
    )


def test_a_rep_counts_in_one_team_only(org, commit, period):
    other = Team.objects.create(name="ZZ second team", department=org.north)
    other.members.add(org.rep2)
    commit(org.rep1, "1000")
    commit(org.rep2, "2000")
    ft.team_adjustment_set(team=other, period=period, amount="50", by=org.manager)
    f = fc.forecast_for(user=org.manager, period=period)
    by_name = {t.team.name: t for t in f.teams}
    assert set(by_name) == {org.team.name}  # rep2 counts in "North key accounts" (first by name)
    assert f.final == Decimal("3000")  # the second team's figure has no rep to replace


def test_scope_and_rights(org, commit, period):
    with pytest.raises(PermissionDenied):  # a rep may not adjust
        ft.team_adjustment_set(team=org.team, period=period, amount="5", by=org.rep1)
    mixed = Team.objects.create(name="Mixed", department=org.north)
    mixed.members.add(org.rep1, org.rep3)  # rep3 is in the east: outside the manager's department
    with pytest.raises(PermissionDenied):
        ft.team_adjustment_set(team=mixed, period=period, amount="5", by=org.manager)
    assert not ft.team_visible(user=org.manager, team=mixed)
    commit(org.rep1, "100")
    assert [t.team for t in fc.forecast_for(user=org.manager, period=period).teams] == [org.team]
    # a rep reads no team figure; the executive reads them and may not write
    assert fc.forecast_for(user=org.rep1, period=period).teams == []
    # rep1 counts in "Mixed" (first by name); rep2 has no deal: "North key accounts" has no row
    assert [t.team for t in fc.forecast_for(user=org.exec, period=period).teams] == [mixed]
    with pytest.raises(PermissionDenied):
        ft.team_adjustment_set(team=org.team, period=period, amount="5", by=org.exec)
    assert not TeamForecastAdjustment.objects.exists()


@pytest.mark.parametrize("amount", ["-1", "abc", "NaN", "1.001", "1e20", ""])
def test_bad_amounts_refused(org, period, amount):
    with pytest.raises(ValidationError) as exc:
        ft.team_adjustment_set(team=org.team, period=period, amount=amount, by=org.manager)
    assert "amount" in exc.value.message_dict
    assert not TeamForecastAdjustment.objects.exists()


def test_closed_period_empty_team_and_long_note_refused(org, period):
    with pytest.raises(ValidationError) as exc:
        ft.team_adjustment_set(team=org.team, period=period.shifted(-1), amount="10", by=org.manager)
    assert "amount" in exc.value.message_dict
    plan = plans.plan_create(
        data={"name": "q", "period_kind": "quarter", "year": period.year, "period_number": period.number},
        by=org.manager,
    )
    plans.plan_set_status(plan=plan, status="closed", by=org.manager, expected_version=plan.version)
    with pytest.raises(ValidationError):
        ft.team_adjustment_set(team=org.team, period=period, amount="10", by=org.manager)
    empty = Team.objects.create(name="Empty", department=org.north)
    with pytest.raises(ValidationError) as exc:
        ft.team_adjustment_set(team=empty, period=period.shifted(1), amount="10", by=org.manager)
    assert "team" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        ft.team_adjustment_set(
            team=org.team, period=period.shifted(1), amount="10", note="x" * 501, by=org.manager
        )
    assert "note" in exc.value.message_dict
    assert not TeamForecastAdjustment.objects.exists()


def test_page_api_and_hidden_amounts(org, commit, period, client, api_for):
    from kehu.core.access import Access
    from tests.sales.conftest import demo_role

    commit(org.rep1, "1000")
    client.force_login(org.manager)
    url = reverse("salesmgmt:forecast")
    html = client.get(url, {"period": period.token}).content.decode()
    assert f'data-testid="team-{org.team.pk}"' in html and f"adjust-team-form-{org.team.pk}" in html
    done = client.post(reverse("salesmgmt:forecast_adjust_team"),
                       {"period": period.token, "team": org.team.pk, "amount": "1234.5", "note": "看好"})  # fmt: skip
    assert done.status_code == 302
    assert TeamForecastAdjustment.objects.get().amount == Decimal("1234.50")
    bad = client.post(reverse("salesmgmt:forecast_adjust_team"), {"period": period.token, "team": org.team.pk,
                                                                 "amount": "-3"}, follow=True)  # fmt: skip
    assert "A forecast cannot be negative." in bad.content.decode()
    assert TeamForecastAdjustment.objects.get().amount == Decimal("1234.50")

    api = api_for(org.manager)
    body = api.get("/api/forecast/", {"period": period.token}).json()
    assert body["teams"][0]["manager_forecast"] == "1234.50" and body["final"] == "1234.50"
    adj = TeamForecastAdjustment.objects.get()
    answer = api.post("/api/forecast/team-adjustments/", {"team": org.team.pk, "period": period.token,
                                                           "amount": "999", "version": adj.version}, format="json")  # fmt: skip
    assert answer.status_code == 200, answer.content
    assert answer.json()["amount"] == "999.00"
    stale = api.post("/api/forecast/team-adjustments/", {"team": org.team.pk, "period": period.token,
                                                          "amount": "5", "version": adj.version}, format="json")  # fmt: skip
    assert stale.status_code == 409
    bad = api.post("/api/forecast/team-adjustments/", {"team": org.team.pk, "period": period.token,
                                                        "amount": "x"}, format="json")  # fmt: skip
    assert bad.status_code == 400 and "amount" in bad.json()
    assert api.post("/api/forecast/team-adjustments/", {"team": 99999, "period": period.token, "amount": "1"},
                    format="json").status_code == 400  # fmt: skip
    assert api_for(org.rep1).post("/api/forecast/team-adjustments/", {"team": org.team.pk, "period": period.token,
                                                                       "amount": "1"}, format="json").status_code in (400, 403)  # fmt: skip
    # a hidden deal amount hides the team figures on the page and in the API
    FieldGrant.objects.create(role=demo_role("sales_manager"), model="sales.opportunity", field="amount",
                              access="hidden")  # fmt: skip
    Access.forget(org.manager)
    html = client.get(url, {"period": period.token}).content.decode()
    assert "forecast-teams" not in html and "999" not in html
    body = api_for(org.manager).get("/api/forecast/", {"period": period.token}).json()
    assert all("manager_forecast" not in t and "final" not in t for t in body.get("teams", []))
