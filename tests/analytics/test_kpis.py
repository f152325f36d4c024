"""The KPI engine (kehu/analytics/kpis.py): revenue, volume, customers won, kept, lost and won back, the revenue
split, service figures, costs and profit — per period, per unit, within the viewer's record scope, in a fixed
number of queries, never NaN. Periods are given as literal dates (nothing here compares with "now")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.analytics import kpis, scorecard
from kehu.analytics.models_scorecard import CostEntry
from kehu.analytics.periods import Period, parse, period_of
from kehu.service.models import Ticket

from .conftest import buy

pytestmark = pytest.mark.django_db

Q2 = period_of("quarter", dt.date(2026, 5, 1))  # 2026-04-01 .. 2026-07-01


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def values(unit, period: Period, *keys):
    calc = kpis.Calculator(unit)
    return {k: calc.value(k, period) for k in keys}


def company(user):
    return kpis.unit_for(user)


def test_periods_are_calendar_months_quarters_and_years():
    assert Q2.start == d("2026-04-01") and Q2.end == d("2026-07-01") and Q2.label == "2026 Q2"
    assert Q2.previous().label == "2026 Q1" and Q2.shift(3).label == "2027 Q1"
    assert [p.label for p in period_of("month", d("2026-01-31")).back(3)] == ["2025-11", "2025-12", "2026-01"]
    assert period_of("year", d("2026-12-31")).end == d("2027-01-01")
    # no `at`: the last complete period; nonsense: the same
    assert parse("month", None, today=d("2026-05-20")).label == "2026-04"
    assert parse("bogus", "not-a-date", today=d("2026-05-20")).label == "2026 Q1"
    assert parse("year", "2024-07-09", today=d("2026-05-20")).label == "2024"


def test_revenue_nets_refunds_and_leaves_out_cancelled_orders_and_other_currencies(org, make_customer):
    c = make_customer("上海启明星科技有限公司")
    sale = buy(c, d("2026-04-10"), 1000)
    buy(c, d("2026-04-20"), 300, returns=sale)
    buy(c, d("2026-05-02"), 500)
    buy(c, d("2026-05-03"), 9999, cancelled=True)
    buy(c, d("2026-05-04"), 700, currency="USD")
    buy(c, d("2026-07-01"), 400)  # next quarter
    v = values(company(org.exec), Q2, "revenue", "refunds", "orders", "units")
    assert v["revenue"].value == 1200.0
    assert v["refunds"].value == 300.0
    assert v["orders"].value == 2  # sales, not the return
    assert v["units"].value == 1.0  # two sold, one returned


def test_customers_new_retained_churned_won_back_and_the_revenue_split(org, make_customer, settings):
    settings.KEHU_ANALYTICS = {**settings.KEHU_ANALYTICS, "ACTIVE_WINDOW_DAYS": 365}
    new = make_customer("新客户")
    buy(new, d("2026-05-05"), 100)
    loyal = make_customer("老客户")  # active at the start, buys again
    buy(loyal, d("2025-12-01"), 50)
    buy(loyal, d("2026-06-01"), 200)
    quiet = make_customer("安静客户")  # active at the start, no purchase in Q2 but still inside the window
    buy(quiet, d("2025-10-01"), 80)
    lost = make_customer(
        "流失客户"
    )  # active at the start (2025-05-15 ≥ 2025-04-01), out of the window by the end
    buy(lost, d("2025-05-15"), 70)
    back = make_customer("回头客户")  # silent for more than a year, then buys: won back
    buy(back, d("2024-01-10"), 60)
    buy(back, d("2026-06-20"), 400)
    v = values(
        company(org.exec), Q2,
        "customers", "new_customers", "won_back", "retention_rate", "churn_rate",
        "revenue_new", "revenue_retained", "revenue_won_back", "revenue",
    )  # fmt: skip
    assert v["customers"].value == 3  # new, loyal, back
    assert v["new_customers"].value == 1
    assert v["won_back"].value == 1
    # active at the start: loyal, quiet, lost; at the end lost has fallen out of the window
    assert v["retention_rate"].value == pytest.approx(200 / 3)
    assert v["churn_rate"].value == pytest.approx(100 / 3)
    assert (v["revenue_new"].value, v["revenue_retained"].value, v["revenue_won_back"].value) == (
        100,
        200,
        400,
    )
    assert v["revenue"].value == 700


def test_an_empty_period_gives_zeros_and_reasons_never_nan(org):
    v = kpis.Calculator(company(org.exec)).figures(period_of("month", d("1999-02-01")))
    assert v["revenue"].value == 0 and v["new_customers"].value == 0 and v["complaints"].value == 0
    for key in ("retention_rate", "churn_rate"):
        assert v[key].value is None and "No customer was active" in v[key].note
    assert v["time_to_serve"].value is None and "No ticket was resolved" in v["time_to_serve"].note
    assert v["profit"].value is None and "No costs entered" in v["profit"].note
    assert v["acquisition_cost"].value is None and "No new customers" in v["acquisition_cost"].note


def test_tickets_give_time_to_serve_complaints_and_sla(org, make_customer):
    c = make_customer("杭州东方电子有限公司")
    opened = dt.datetime(2026, 4, 10, 9, 0, tzinfo=dt.UTC)

    def ticket(kind, hours=None, breached=False, at=opened):
        return Ticket.objects.create(
            subject="t", kind=kind, customer=c, owner=org.rep1, created_at=at,
            resolved_at=at + dt.timedelta(hours=hours) if hours is not None else None,
            resolution_breached=breached,
        )  # fmt: skip

    ticket("complaint", hours=10)
    ticket("request", hours=30, breached=True)
    ticket("complaint")  # still open
    ticket("complaint", at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))  # opened in Q1
    v = values(company(org.exec), Q2, "time_to_serve", "complaints", "sla_met_rate", "tickets")
    assert v["time_to_serve"].value == pytest.approx(20.0)
    assert v["complaints"].value == 2
    assert v["sla_met_rate"].value == pytest.approx(50.0)
    assert v["tickets"].value == 3


def test_profit_is_revenue_less_entered_costs_and_costs_split_by_category_and_campaign(org, make_customer):
    c = make_customer("北京优选贸易有限公司")
    buy(c, d("2026-04-10"), 10000)
    for category, amount, campaign in [
        ("cost_of_sales", 6000, ""), ("acquire", 500, "展会"), ("acquire", 300, "广告"), ("retain", 200, ""),
    ]:  # fmt: skip
        CostEntry.objects.create(
            date=d("2026-05-01"), category=category, amount=Decimal(amount), campaign=campaign
        )
    CostEntry.objects.create(date=d("2026-05-01"), category="develop", amount=Decimal(99), currency="USD")
    unit = company(org.exec)
    v = values(unit, Q2, "profit", "cost_acquire", "cost_retain", "cost_develop", "acquisition_cost")
    assert v["profit"].value == 10000 - 7000
    assert (v["cost_acquire"].value, v["cost_retain"].value, v["cost_develop"].value) == (800, 200, 0)
    assert v["acquisition_cost"].value == 800  # one new customer
    by_campaign = kpis.costs(unit, Q2, by_campaign=True)
    assert by_campaign[("acquire", "展会")] == 500 and by_campaign[("acquire", "广告")] == 300
    economics = scorecard.economics(user=org.exec, period=Q2)
    assert economics["cost_total"] == 1000
    assert economics["return_on_relationship"] == pytest.approx((10000 - 1000) / 1000)


def test_a_reps_figures_cover_their_records_and_a_managers_their_department(org, make_customer):
    mine = make_customer("rep1 的客户", owner=org.rep1)
    buy(mine, d("2026-04-10"), 100)
    colleague = make_customer("rep2 的客户", owner=org.rep2)
    buy(colleague, d("2026-04-11"), 200)
    east = make_customer("rep3 的客户", owner=org.rep3)
    buy(east, d("2026-04-12"), 400)
    assert values(kpis.unit_for(org.rep1), Q2, "revenue")["revenue"].value == 100
    manager = kpis.unit_for(
        org.manager, department_id=org.east.pk
    )  # a scoped viewer cannot pick another unit
    assert manager.department == org.north and not manager.company_scope
    assert values(manager, Q2, "revenue", "new_customers") == {
        "revenue": kpis.Value(300.0),
        "new_customers": kpis.Value(2.0),
    }
    assert values(company(org.exec), Q2, "revenue")["revenue"].value == 700
    east_unit = kpis.unit_for(org.exec, department_id=org.east.pk)
    assert east_unit.department == org.east and values(east_unit, Q2, "revenue")["revenue"].value == 400
    # costs entered for a department count for it and for the company, not for another department
    CostEntry.objects.create(
        date=d("2026-05-01"), category="acquire", amount=Decimal(50), department=org.east
    )
    assert values(east_unit, Q2, "cost_acquire")["cost_acquire"].value == 50
    assert values(manager, Q2, "cost_acquire")["cost_acquire"].value == 0
    assert values(company(org.exec), Q2, "cost_acquire")["cost_acquire"].value == 50


def test_the_number_of_queries_does_not_grow_with_the_customers(org, make_customer):
    def count_queries() -> int:
        calc = kpis.Calculator(company(org.exec))
        with CaptureQueriesContext(connection) as ctx:
            calc.figures(Q2)
        return len(ctx.captured_queries)

    c = make_customer("第一个客户")
    buy(c, d("2026-04-10"), 100)
    few = count_queries()
    for i in range(25):
        extra = make_customer(f"客户 {i}")
        buy(extra, d("2026-05-10"), 10 + i)
        buy(extra, d("2025-05-10"), 10 + i)
    assert count_queries() == few


@pytest.mark.parametrize(
    ("actual", "target", "higher", "expected"),
    [
        (100, 100, True, "green"), (95, 100, True, "amber"), (89, 100, True, "red"),
        (10, 12, False, "green"), (13, 12, False, "amber"), (14, 12, False, "red"),
        (None, 100, True, "none"), (5, None, True, "none"), (0, 0, True, "green"), (-1, 0, True, "red"),
    ],
)  # fmt: skip
def test_status_colours(actual, target, higher, expected):
    assert scorecard.status(actual, target, higher_is_better=higher, tolerance=10) == expected


def test_a_departments_tickets_are_those_of_its_customers_whoever_handles_them(org, make_customer, make_user):
    agent = make_user("service.ticket", actions=("view",))  # outside every sales department
    north = make_customer("华北客户", owner=org.rep1)
    east = make_customer("华东客户", owner=org.rep3)
    opened = dt.datetime(2026, 4, 10, 9, 0, tzinfo=dt.UTC)
    for customer in (north, east, east):
        Ticket.objects.create(
            subject="投诉", kind="complaint", customer=customer, owner=agent, created_at=opened
        )
    assert values(kpis.unit_for(org.manager), Q2, "complaints")["complaints"].value == 1
    assert values(kpis.unit_for(org.exec, org.east.pk), Q2, "complaints")["complaints"].value == 2
    assert values(company(org.exec), Q2, "complaints")["complaints"].value == 3
