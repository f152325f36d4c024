"""Sales plans: company figure, top-down allocation (by hand, evenly, in proportion to last period), bottom-up
roll-up, closed periods, live actuals and attainment; through the services, the pages and the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from kehu.core.models import AuditEntry, Team
from kehu.products.models import Product, ProductCategory
from kehu.salesmgmt.models import PlanLevel, PlanTarget, SalesPlan
from kehu.salesmgmt.models.plans import period_bounds, previous_period
from kehu.salesmgmt.services import plans
from kehu.salesmgmt.services.actuals import attainment, plan_actuals

D = Decimal


def _plan(org, year, **extra) -> SalesPlan:
    data = {"name": f"Plan {year}", "period_kind": "year", "year": year, **extra}
    return plans.plan_create(data=data, by=org.manager)


def _fresh(plan):
    plan.refresh_from_db()
    return plan


def _company(org, plan, amount="1000.00", units="0"):
    return plans.plan_company_set(
        plan=plan,
        product_line=None,
        amount=amount,
        units=units,
        by=org.manager,
        expected_version=plan.version,
    )


def _dept(org):
    return plans.Node(PlanLevel.DEPARTMENT, org.north)


def test_periods_bounds_and_previous():
    assert period_bounds("quarter", 2026, 4) == (dt.date(2026, 10, 1), dt.date(2027, 1, 1))
    assert period_bounds("month", 2028, 2) == (dt.date(2028, 2, 1), dt.date(2028, 3, 1))
    assert previous_period("quarter", 2026, 1) == (2025, 4)
    assert previous_period("month", 2026, 1) == (2025, 12)
    assert previous_period("year", 2026, 0) == (2025, 0)


def test_a_plan_refuses_an_impossible_period_and_a_second_plan_of_the_same_period(org, today):
    with pytest.raises(ValidationError) as exc:
        _plan(org, today.year, period_kind="quarter", period_number=5)
    assert "period_number" in exc.value.message_dict
    plan = _plan(org, today.year, period_kind="quarter", period_number=2)
    assert (plan.start_date, plan.end_date) == (dt.date(today.year, 4, 1), dt.date(today.year, 7, 1))
    with pytest.raises(ValidationError):
        _plan(org, today.year, period_kind="quarter", period_number=2)
    assert SalesPlan.objects.count() == 1


def test_manual_allocation_that_adds_up_is_saved_top_down_to_reps(org, today):
    plan = _plan(org, today.year)
    company = _company(org, plan, "1000.00", "10")
    plans.allocate(
        parent=company, method="manual", children=[_dept(org)], manual={_dept(org): ("1000.00", "10")},
        by=org.manager, expected_version=_fresh(plan).version,
    )  # fmt: skip
    north = PlanTarget.objects.get(plan=plan, level=PlanLevel.DEPARTMENT)
    team = plans.Node(PlanLevel.TEAM, org.team)
    plans.allocate(parent=north, method="manual", children=[team], manual={team: ("1000", "10")}, by=org.manager,
                   expected_version=_fresh(plan).version)  # fmt: skip
    team_target = PlanTarget.objects.get(plan=plan, level=PlanLevel.TEAM)
    r1, r2 = plans.Node(PlanLevel.REP, org.rep1), plans.Node(PlanLevel.REP, org.rep2)
    plans.allocate(
        parent=team_target, method="manual", children=[r1, r2], manual={r1: ("600", "6"), r2: ("400", "4")},
        by=org.manager, expected_version=_fresh(plan).version,
    )  # fmt: skip
    reps = {t.rep_id: t for t in PlanTarget.objects.filter(plan=plan, level=PlanLevel.REP)}
    assert reps[org.rep1.pk].amount == D("600.00") and reps[org.rep2.pk].units == D("4")
    assert all(t.parent_id == team_target.pk for t in reps.values())
    # every allocation is one audited change of the plan
    entries = AuditEntry.objects.filter(model="salesmgmt.salesplan", object_id=str(plan.pk), action="update")
    assert entries.count() == 4
    assert any("target" in k for k in entries.order_by("-id").first().changes)


def test_an_allocation_that_does_not_add_up_is_refused_and_nothing_is_saved(org, today):
    plan = _plan(org, today.year)
    company = _company(org, plan)
    team_parent = plans.allocate(parent=company, method="manual", children=[_dept(org)], manual={_dept(org): ("1000", 0)},
                                 by=org.manager, expected_version=_fresh(plan).version)[0]  # fmt: skip
    team = plans.Node(PlanLevel.TEAM, org.team)
    sub = plans.allocate(parent=team_parent, method="manual", children=[team], manual={team: ("1000", 0)},
                         by=org.manager, expected_version=_fresh(plan).version)[0]  # fmt: skip
    r1, r2 = plans.Node(PlanLevel.REP, org.rep1), plans.Node(PlanLevel.REP, org.rep2)
    version, targets, audits = _fresh(plan).version, PlanTarget.objects.count(), AuditEntry.objects.count()
    with pytest.raises(ValidationError) as exc:
        plans.allocate(parent=sub, method="manual", children=[r1, r2], manual={r1: ("600", 0), r2: ("399.99", 0)},
                       by=org.manager, expected_version=version)  # fmt: skip
    assert "does not add up" in exc.value.messages[0]
    with pytest.raises(ValidationError):  # negative share
        plans.allocate(parent=sub, method="manual", children=[r1, r2], manual={r1: ("1100", 0), r2: ("-100", 0)},
                       by=org.manager, expected_version=version)  # fmt: skip
    with pytest.raises(ValidationError):  # a rep of another department is not below this team
        plans.allocate(parent=sub, method="even", children=[plans.Node(PlanLevel.REP, org.rep3)], by=org.manager,
                       expected_version=version)  # fmt: skip
    assert (_fresh(plan).version, PlanTarget.objects.count(), AuditEntry.objects.count()) == (
        version,
        targets,
        audits,
    )


def test_even_allocation_splits_to_the_cent_and_adds_up(org, today):
    plan = _plan(org, today.year)
    company = _company(org, plan, "100.00", "7")
    team = Team.objects.create(name="Third", department=org.north)
    nodes = [plans.Node(PlanLevel.DEPARTMENT, d) for d in (org.sales, org.north, org.east)]
    parts = plans.allocate(
        parent=company, method="even", children=nodes, by=org.manager, expected_version=_fresh(plan).version
    )
    assert sorted(p.amount for p in parts) == [D("33.33"), D("33.33"), D("33.34")]
    assert sum(p.units for p in parts) == D("7") and all(
        p.units == p.units.to_integral_value() for p in parts
    )
    assert team.pk  # unused teams do not receive anything
    assert PlanTarget.objects.filter(plan=plan, team=team).count() == 0


def test_proportional_allocation_follows_last_periods_won_deals(org, today, won):
    plan = _plan(org, today.year)
    last_year = timezone.make_aware(dt.datetime(today.year - 1, 6, 15, 12, 0))
    won(org.rep1, "300", last_year)
    won(org.rep2, "100", last_year)
    won(org.rep2, "5000", timezone.make_aware(dt.datetime(today.year - 2, 6, 15)))  # two years ago: ignored
    company = _company(org, plan)
    dept = plans.allocate(parent=company, method="manual", children=[_dept(org)], manual={_dept(org): ("1000", 0)},
                          by=org.manager, expected_version=_fresh(plan).version)[0]  # fmt: skip
    team = plans.Node(PlanLevel.TEAM, org.team)
    team_target = plans.allocate(parent=dept, method="even", children=[team], by=org.manager,
                                 expected_version=_fresh(plan).version)[0]  # fmt: skip
    r1, r2 = plans.Node(PlanLevel.REP, org.rep1), plans.Node(PlanLevel.REP, org.rep2)
    parts = plans.allocate(parent=team_target, method="proportional", children=[r1, r2], by=org.manager,
                           expected_version=_fresh(plan).version)  # fmt: skip
    assert {p.rep_id: p.amount for p in parts} == {org.rep1.pk: D("750.00"), org.rep2.pk: D("250.00")}


def test_proportional_allocation_without_last_period_actuals_is_refused(org, today):
    plan = _plan(org, today.year)
    company = _company(org, plan)
    with pytest.raises(ValidationError) as exc:
        plans.allocate(parent=company, method="proportional", children=[_dept(org)], by=org.manager,
                       expected_version=_fresh(plan).version)  # fmt: skip
    assert "previous period" in exc.value.messages[0]
    assert PlanTarget.objects.filter(parent=company).count() == 0


def test_reallocating_a_part_that_is_allocated_further_is_refused(org, today):
    plan = _plan(org, today.year)
    company = _company(org, plan)
    dept = plans.allocate(parent=company, method="even", children=[_dept(org)], by=org.manager,
                          expected_version=_fresh(plan).version)[0]  # fmt: skip
    plans.allocate(parent=dept, method="even", children=[plans.Node(PlanLevel.TEAM, org.team)], by=org.manager,
                   expected_version=_fresh(plan).version)  # fmt: skip
    east = plans.Node(PlanLevel.DEPARTMENT, org.east)
    with pytest.raises(ValidationError) as exc:
        plans.allocate(parent=company, method="even", children=[_dept(org), east], by=org.manager,
                       expected_version=_fresh(plan).version)  # fmt: skip
    assert "allocated further" in exc.value.messages[0]
    with pytest.raises(ValidationError):  # the company figure cannot move under an allocation either
        plans.plan_company_set(plan=plan, product_line=None, amount="2000", units=0, by=org.manager,
                               expected_version=_fresh(plan).version)  # fmt: skip
    assert PlanTarget.objects.get(pk=dept.pk).amount == D("1000.00")


def test_rollup_takes_the_reps_figures_up_to_the_company(org, today):
    plan = _plan(org, today.year)
    company = _company(org, plan)
    dept = plans.allocate(parent=company, method="even", children=[_dept(org)], by=org.manager,
                          expected_version=_fresh(plan).version)[0]  # fmt: skip
    team = plans.allocate(parent=dept, method="even", children=[plans.Node(PlanLevel.TEAM, org.team)],
                          by=org.manager, expected_version=_fresh(plan).version)[0]  # fmt: skip
    reps = plans.allocate(parent=team, method="even", children=[plans.Node(PlanLevel.REP, org.rep1), plans.Node(PlanLevel.REP, org.rep2)],
                          by=org.manager, expected_version=_fresh(plan).version)  # fmt: skip
    plans.rep_target_set(
        target=reps[0], amount="900", units="3", by=org.manager, expected_version=_fresh(plan).version
    )
    with pytest.raises(ValidationError):  # a figure allocated further is not a leaf
        plans.rep_target_set(
            target=team, amount="1", units=0, by=org.manager, expected_version=_fresh(plan).version
        )
    changed = plans.plan_rollup(plan=plan, by=org.manager, expected_version=_fresh(plan).version)
    assert changed == 3
    for t in (company, dept, team):
        t.refresh_from_db()
        assert (t.amount, t.units) == (D("1400.00"), D("3"))


def test_a_closed_period_refuses_every_change(org, today):
    plan = _plan(org, today.year)
    company = _company(org, plan)
    plans.plan_set_status(plan=plan, status="closed", by=org.manager, expected_version=_fresh(plan).version)
    version = _fresh(plan).version
    attempts = [
        lambda: plans.plan_update(plan=plan, data={"name": "x"}, by=org.manager, expected_version=version),
        lambda: _company(org, plan, "5"),
        lambda: plans.allocate(parent=company, method="even", children=[_dept(org)], by=org.manager, expected_version=version),
        lambda: plans.plan_rollup(plan=plan, by=org.manager, expected_version=version),
        lambda: plans.plan_set_status(plan=plan, status="active", by=org.manager, expected_version=version),
    ]  # fmt: skip
    for attempt in attempts:
        with pytest.raises(ValidationError) as exc:
            attempt()
        assert "closed" in exc.value.messages[0]
    assert _fresh(plan).version == version and _fresh(plan).name == plan.name
    assert PlanTarget.objects.filter(plan=plan).count() == 1


def test_a_rep_may_read_plans_but_not_change_them(org, today):
    plan = _plan(org, today.year)
    with pytest.raises(PermissionDenied):
        plans.plan_company_set(
            plan=plan, product_line=None, amount="1", units=0, by=org.rep1, expected_version=plan.version
        )
    with pytest.raises(PermissionDenied):
        _plan(org, today.year + 1) and plans.plan_create(
            data={"name": "x", "year": today.year + 2}, by=org.rep1
        )


def test_attainment_counts_won_deals_of_the_period_per_rep_and_rolls_up(org, today, won):
    plan = _plan(org, today.year)
    company = _company(org, plan)
    dept = plans.allocate(parent=company, method="even", children=[_dept(org)], by=org.manager,
                          expected_version=_fresh(plan).version)[0]  # fmt: skip
    team = plans.allocate(parent=dept, method="even", children=[plans.Node(PlanLevel.TEAM, org.team)],
                          by=org.manager, expected_version=_fresh(plan).version)[0]  # fmt: skip
    plans.allocate(parent=team, method="even", children=[plans.Node(PlanLevel.REP, org.rep1), plans.Node(PlanLevel.REP, org.rep2)],
                   by=org.manager, expected_version=_fresh(plan).version)  # fmt: skip
    start = timezone.make_aware(dt.datetime.combine(plan.start_date, dt.time.min))
    won(org.rep1, "250", start)  # the first instant of the period counts
    won(org.rep2, "100", start + dt.timedelta(days=40))
    won(org.rep2, "999", start - dt.timedelta(seconds=1))  # last year
    won(org.rep2, "777", start + dt.timedelta(days=3), currency="USD")  # another currency
    won(org.rep3, "50", start + dt.timedelta(days=3))  # East: company only
    top = attainment(plan=plan, target=company)
    assert top["target"]["actual_amount"] == D("400")
    assert top["target"]["attainment"] == D("40.0")
    reps = attainment(plan=plan, target=team)
    by_label = {r["label"]: r for r in reps["rows"]}
    assert by_label[str(org.rep1)]["actual_amount"] == D("250")
    assert by_label[str(org.rep1)]["attainment"] == D("50.0")
    assert by_label[str(org.rep2)]["actual_amount"] == D("100")
    assert [r["label"] for r in reps["rows"]] == [str(org.rep1), str(org.rep2)]  # ranked
    assert [p["id"] for p in reps["path"]] == [company.pk, dept.pk, team.pk]


def test_paid_orders_source_counts_paid_orders_per_product_line(org, today, paid_order):
    line = ProductCategory.objects.create(name="Pumps")
    sub = ProductCategory.objects.create(name="Small pumps", parent=line)
    pump = Product.objects.create(sku="P-1", name="Pump", category=sub)
    start = dt.date(today.year, 1, 1)
    paid_order(org.rep1, "500", start, quantity="5", product=pump)
    paid_order(org.rep1, "70", start)  # no product: all products only
    paid_order(org.rep1, "900", start, status="confirmed")  # not paid
    actuals = plan_actuals(period_kind="year", year=today.year, number=0, source="paid", currency="CNY")
    assert actuals.node(PlanLevel.REP, org.rep1.pk, None) == (D("570"), D("6"))
    assert actuals.node(PlanLevel.REP, org.rep1.pk, line.pk) == (D("500"), D("5"))
    assert actuals.node(PlanLevel.TEAM, org.team.pk, line.pk) == (D("500"), D("5"))
    assert actuals.node(PlanLevel.COMPANY, None, None) == (D("570"), D("6"))


# ------------------------------------------------------------------------------------------------ pages


def test_pages_allocate_by_hand_refuse_a_wrong_sum_and_show_attainment(org, today, client_for):
    plan = _plan(org, today.year)
    company = _company(org, plan)
    c = client_for(org.manager)
    assert c.get(reverse("salesmgmt:plans")).status_code == 200
    page = c.get(plan.get_absolute_url())
    assert page.status_code == 200 and "company|*" in page.content.decode()
    url = reverse("salesmgmt:target_allocate", args=[plan.pk, company.pk])
    assert c.get(url).status_code == 200
    token_n, token_e = f"department-{org.north.pk}", f"department-{org.east.pk}"
    bad = {"method": "manual", "version": _fresh(plan).version, f"use-{token_n}": "1", f"amount-{token_n}": "600",
           f"use-{token_e}": "1", f"amount-{token_e}": "300"}  # fmt: skip
    response = c.post(url, bad)
    assert response.status_code == 400 and "does not add up" in response.content.decode()
    assert PlanTarget.objects.filter(parent=company).count() == 0
    good = dict(bad, **{f"amount-{token_e}": "400"})
    assert c.post(url, good).status_code == 302
    assert PlanTarget.objects.filter(parent=company).count() == 2
    attain = c.get(reverse("salesmgmt:plan_attainment", args=[plan.pk]))
    body = attain.content.decode()
    assert attain.status_code == 200 and "attainment-data" in body and str(org.north) in body


def test_a_rep_sees_the_plan_but_cannot_post_to_it(org, today, client_for):
    plan = _plan(org, today.year)
    company = _company(org, plan)
    c = client_for(org.rep1)
    assert c.get(plan.get_absolute_url()).status_code == 200
    url = reverse("salesmgmt:target_allocate", args=[plan.pk, company.pk])
    assert c.post(url, {"method": "even", f"use-department-{org.north.pk}": "1"}).status_code == 403
    assert PlanTarget.objects.filter(parent=company).count() == 0


# -------------------------------------------------------------------------------------------------- API


def test_api_plan_figure_allocate_and_attainment(org, today, api_for):
    api = api_for(org.manager)
    created = api.post("/api/sales-plans/", {"name": "API plan", "period_kind": "quarter", "year": today.year,
                                              "period_number": 1}, format="json")  # fmt: skip
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert api.post(f"/api/sales-plans/{pk}/figure/", {"amount": "900"}, format="json").status_code == 428
    figure = api.post(f"/api/sales-plans/{pk}/figure/", {"amount": "900", "units": "9"}, format="json",
                      HTTP_IF_MATCH=created["ETag"])  # fmt: skip
    assert figure.status_code == 200, figure.content
    target = figure.json()["id"]
    bad = {
        "target": target,
        "method": "manual",
        "parts": [{"level": "department", "id": org.north.pk, "amount": "800", "units": "9"}],
    }
    refused = api.post(f"/api/sales-plans/{pk}/allocate/", bad, format="json", HTTP_IF_MATCH=figure["ETag"])
    assert refused.status_code == 400 and "add up" in str(refused.json())
    even = {"target": target, "method": "even", "parts": [{"level": "department", "id": org.north.pk},
                                                          {"level": "department", "id": org.east.pk}]}  # fmt: skip
    stale = api.post(f"/api/sales-plans/{pk}/allocate/", even, format="json", HTTP_IF_MATCH=created["ETag"])
    assert stale.status_code == 409
    done = api.post(f"/api/sales-plans/{pk}/allocate/", even, format="json", HTTP_IF_MATCH=figure["ETag"])
    assert done.status_code == 200 and sorted(p["amount"] for p in done.json()) == ["450.00", "450.00"]
    assert len(api.get(f"/api/sales-plans/{pk}/targets/").json()) == 3
    att = api.get(f"/api/sales-plans/{pk}/attainment/").json()
    assert att["target"]["plan_amount"] == "900.00" and len(att["rows"]) == 2
    assert api.get(f"/api/sales-plans/{pk}/attainment/?target=abc").status_code == 400
    closed = api.post(
        f"/api/sales-plans/{pk}/status/", {"status": "closed"}, format="json", HTTP_IF_MATCH=done["ETag"]
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    again = api.post(f"/api/sales-plans/{pk}/rollup/", {}, format="json", HTTP_IF_MATCH=closed["ETag"])
    assert again.status_code == 400 and "closed" in str(again.json())


def test_api_rep_reads_but_may_not_change_and_an_outsider_sees_nothing(org, today, api_for):
    from tests.factories import UserFactory

    plan = _plan(org, today.year)
    rep = api_for(org.rep1)
    assert rep.get(f"/api/sales-plans/{plan.pk}/").status_code == 200
    answer = rep.post(
        f"/api/sales-plans/{plan.pk}/figure/",
        {"amount": "1"},
        format="json",
        HTTP_IF_MATCH=f'"{plan.pk}-{plan.version}"',
    )
    assert answer.status_code == 403
    outsider = api_for(UserFactory(username="nobody"))
    assert outsider.get(f"/api/sales-plans/{plan.pk}/").status_code in (403, 404)
    assert PlanTarget.objects.filter(plan=plan).count() == 0
