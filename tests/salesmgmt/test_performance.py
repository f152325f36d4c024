"""Performance per rep and team: quota from the plan, results, attainment and ranking, average deal size, sales
cycle, win rate, conversion per stage from the stage history, activities and visits, approved expenses; the
scope (a rep sees themself, a manager the department/team, a rep outside it is a 404); page, API, CSV export
and a bounded number of queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kehu.interactions.services import interaction_log
from kehu.sales.models import Opportunity, StageChange
from kehu.salesmgmt.models import Expense, ExpenseCategory, PlanTarget, SalesPlan, Visit
from kehu.salesmgmt.models.plans import period_bounds
from kehu.salesmgmt.selectors_performance import Period, performance, period_parse


@pytest.fixture
def world(org, account, pipeline, stages):
    now = timezone.now()
    year = timezone.localdate().year
    start, end = period_bounds("year", year, 0)
    plan = SalesPlan.objects.create(name="plan", year=year, start_date=start, end_date=end, status="active")
    company = PlanTarget.objects.create(plan=plan, level="company", key="company|*", amount=Decimal("5000"))
    team_t = PlanTarget.objects.create(plan=plan, parent=company, level="team", team=org.team,
                                       key=f"team:{org.team.pk}|*", amount=Decimal("3000"))  # fmt: skip
    for rep, amount in ((org.rep1, "1000"), (org.rep2, "2000")):
        PlanTarget.objects.create(plan=plan, parent=team_t, level="rep", rep=rep, key=f"rep:{rep.pk}|*",
                                  amount=Decimal(amount))  # fmt: skip
    path = [stages[10], stages[25], stages[50], stages[75]]

    def deal(owner, status, amount, days, reached):
        created = now - dt.timedelta(days=days)
        stage = {"won": stages["won"], "lost": stages["lost"]}.get(status, path[reached])
        opp = Opportunity.objects.create(
            name=f"{owner} {amount}", customer=account, pipeline=pipeline, stage=stage, owner=owner, status=status,
            amount=Decimal(amount), closed_at=now - dt.timedelta(hours=1) if status != "open" else None,
        )  # fmt: skip
        Opportunity.objects.filter(pk=opp.pk).update(created_at=created)
        previous = None
        for s in path[1 : reached + 1]:
            StageChange.objects.create(opportunity=opp, from_stage=previous, to_stage=s, at=created)
            previous = s
        if status != "open":
            StageChange.objects.create(opportunity=opp, from_stage=previous, to_stage=stage, at=now)
        return opp

    deal(org.rep1, "won", "600", 10, 3)
    deal(org.rep1, "won", "300", 20, 3)
    deal(org.rep1, "lost", "800", 5, 2)
    deal(org.rep2, "won", "500", 4, 3)
    deal(org.rep2, "open", "700", 3, 0)  # no history: counts at the first stage only
    deal(org.rep3, "won", "9999", 3, 3)  # another region
    interaction_log(
        customer=account, data={"channel": "call", "direction": "out", "subject": "a"}, by=org.rep1
    )
    interaction_log(
        customer=account, data={"channel": "email", "direction": "out", "subject": "b"}, by=org.rep1
    )
    Visit.objects.create(customer=account, owner=org.rep2, subject="v", planned_start=now, status="done",
                         checkin_at=now - dt.timedelta(minutes=30))  # fmt: skip
    cat = ExpenseCategory.objects.create(name="交通")
    day = timezone.localdate()
    for owner, amount, currency, status in ((org.rep1, "100", "CNY", "approved"), (org.rep1, "50", "USD", "approved"),
                                            (org.rep2, "70", "CNY", "submitted")):  # fmt: skip
        Expense.objects.create(owner=owner, category=cat, amount=Decimal(amount), currency=currency, spent_on=day,
                               status=status)  # fmt: skip
    return plan


def this_year() -> Period:
    return Period("year", timezone.localdate().year, 0)


def test_team_figures_ranking_and_funnel(world, org):
    data = performance(user=org.manager, period=this_year(), team_id=org.team.pk)
    assert [r.user for r in data.rows] == [org.rep1, org.rep2]  # 90 % before 25 %
    one, two = data.rows
    assert (one.rank, one.quota, one.actual, one.attainment) == (
        1,
        Decimal("1000"),
        Decimal("900"),
        Decimal("90.0"),
    )
    assert one.won_count == 2 and one.avg_deal == Decimal("450.00") and one.win_rate == Decimal("66.7")
    assert one.cycle_days == Decimal("15.0")
    assert one.interactions == 2 and one.visits == 0
    assert one.expenses == Decimal("100") and one.expenses_other == {"USD": Decimal("50")}
    assert (two.attainment, two.visits, two.expenses) == (Decimal("25.0"), 1, Decimal("0"))
    assert data.total.quota == Decimal("3000") and data.total.actual == Decimal("1400")
    assert data.total.cycle_days == Decimal((10 + 20 + 4) / 3).quantize(Decimal("0.1"))
    reached = [(s["stage"], s["reached"]) for s in data.funnel]
    assert [n for _s, n in reached] == [5, 4, 4, 3, 3]  # 10 %, 25 %, 50 %, 75 %, won
    assert data.funnel[0]["to_next"] == Decimal("80.0") and data.funnel[2]["to_next"] == Decimal("75.0")


def test_scope_rep_sees_themself_manager_the_department(world, org):
    mine = performance(user=org.rep1, period=this_year())
    assert [r.user for r in mine.rows] == [org.rep1]
    from django.http import Http404

    with pytest.raises(Http404):
        performance(user=org.rep1, period=this_year(), rep_id=org.rep2.pk)
    with pytest.raises(Http404):
        performance(user=org.manager, period=this_year(), rep_id=org.rep3.pk)
    dept = performance(user=org.manager, period=this_year())
    assert org.rep3 not in [r.user for r in dept.rows] and {org.rep1, org.rep2} <= {r.user for r in dept.rows}
    everyone = performance(user=org.exec, period=this_year())
    assert org.rep3 in [r.user for r in everyone.rows]
    drilled = performance(user=org.manager, period=this_year(), rep_id=org.rep1.pk)
    assert [r.user for r in drilled.rows] == [org.rep1] and [s["reached"] for s in drilled.funnel] == [
        3,
        3,
        3,
        2,
        2,
    ]


def test_period_parse():
    year = timezone.localdate().year
    assert period_parse("2026-Q3") == Period("quarter", 2026, 3)
    assert period_parse("2026-07") == Period("month", 2026, 7)
    assert period_parse("2026") == Period("year", 2026, 0)
    for junk in ("", "2026-Q5", "2026-13", "abcd-ef", "../x"):
        assert period_parse(junk) == Period("year", year, 0)


def test_page_api_export_and_queries(world, org, client, api_for):
    client.force_login(org.manager)
    url = reverse("salesmgmt:performance")
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url, {"team": org.team.pk})
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-testid="rep-{org.rep1.pk}"' in html and "90.0%" in html and "9999" not in html
    assert len(queries) <= 40, len(queries)
    csv = client.get(url, {"team": org.team.pk, "format": "csv"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert str(org.rep1) in text and "900" in text
    client.force_login(org.rep1)
    assert client.get(url, {"rep": org.rep2.pk}).status_code == 404
    assert client.get(url, {"rep": "x"}).status_code == 404

    body = api_for(org.manager).get("/api/performance/", {"team": org.team.pk}).json()
    assert [r["rep"] for r in body["rows"]] == [org.rep1.pk, org.rep2.pk]
    assert body["rows"][0]["attainment"] == "90.0" and body["total"]["quota"] == "3000.00"
    assert api_for(org.rep1).get("/api/performance/", {"rep": org.rep3.pk}).status_code == 404
    assert api_for(org.rep1).get("/api/performance/", {"team": "x"}).status_code == 400


def test_hidden_amounts_stay_hidden_in_the_aggregates_and_lists(world, org, client):
    from kehu.core.access import Access
    from kehu.core.models import FieldGrant, Role

    role = Role.objects.get(code="sales_manager")
    FieldGrant.objects.create(role=role, model="salesmgmt.expense", field="amount", access="hidden")
    FieldGrant.objects.create(role=role, model="sales.opportunity", field="amount", access="hidden")
    Access.forget(org.manager)
    data = performance(user=org.manager, period=this_year(), team_id=org.team.pk)
    assert data.rows[0].expenses is None and data.total.expenses is None
    assert data.rows[0].avg_deal is None and data.total.avg_deal is None
    client.force_login(org.manager)
    listed = client.get(reverse("salesmgmt:expenses"), {"who": "all"}).content.decode()
    assert "expense-" in listed and "100.00" not in listed
    # a control: the executive's role sees them
    assert performance(user=org.exec, period=this_year(), team_id=org.team.pk).rows[0].expenses == Decimal(
        "100"
    )
