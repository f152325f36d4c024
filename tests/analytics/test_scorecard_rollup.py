"""Entered KPI values and targets roll up from months to quarters and years (and quarters to years) when the
longer period has no row of its own, by the KPI's rule: sum, average or last value; by unit when not chosen
(money, counts and hours add up; percentages and numbers average)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kehu.analytics import scorecard
from kehu.analytics.models_scorecard import Kpi, KpiTarget, KpiValue
from kehu.analytics.periods import period_of

pytestmark = pytest.mark.django_db
D = dt.date


def _kpi(code, unit, rollup=""):
    return Kpi.objects.create(
        code=code, name=code, perspective="financial", source="manual", unit=unit, rollup=rollup
    )


def _months(kpi, values, *, year=2026, first=4, department=None, model=KpiValue):
    field = "target" if model is KpiTarget else "value"
    for i, v in enumerate(values):
        model.objects.create(
            kpi=kpi, period_type="month", period_start=D(year, first + i, 1), department=department,
            **{field: Decimal(str(v))},
        )  # fmt: skip


def _row(user, kind, day, code, department_id=None):
    card = scorecard.build(user=user, period=period_of(kind, day), department_id=department_id, trend=2)
    return next(r for r in card["rows"] if r.kpi.code == code)


def test_quarters_roll_up_entered_months_by_the_kpis_rule(org):
    cost = _kpi("service_cost", "money")  # by unit: sum
    share = _kpi("share", "percent")  # by unit: average
    staff = _kpi("headcount", "number", rollup="last")
    training = _kpi("training", "hours", rollup="average")  # chosen rule beats the unit's
    for kpi, values in ((cost, [100, 200, 300]), (share, [10, 11, 12.5]), (staff, [40, 42, 41]),
                        (training, [6, 9, 9])):  # fmt: skip
        _months(kpi, values)
    q2 = D(2026, 5, 15)
    assert _row(org.exec, "quarter", q2, "service_cost").actual == pytest.approx(600)
    assert _row(org.exec, "quarter", q2, "share").actual == pytest.approx(11.1666666667)
    assert _row(org.exec, "quarter", q2, "headcount").actual == pytest.approx(41)
    assert _row(org.exec, "quarter", q2, "training").actual == pytest.approx(8)
    row = _row(org.exec, "quarter", q2, "service_cost")
    assert row.note == "Rolled up from 3 of 3 entered months (sum)."
    # the trend's earlier quarter has nothing: no value, not 0
    assert row.trend[0] is None
    # a month is read as entered
    assert _row(org.exec, "month", D(2026, 6, 1), "share").actual == pytest.approx(12.5)


def test_an_entered_quarter_wins_and_a_year_rolls_up_quarters_before_months(org):
    cost = _kpi("service_cost", "money")
    _months(cost, [100, 200, 300])  # Q2 by months: 600
    KpiValue.objects.create(kpi=cost, period_type="quarter", period_start=D(2026, 4, 1), value=Decimal(650))
    assert _row(org.exec, "quarter", D(2026, 4, 1), "service_cost").actual == pytest.approx(650)
    assert _row(org.exec, "quarter", D(2026, 4, 1), "service_cost").note == ""
    # the year: quarters entered (only Q2) are used before months
    year = _row(org.exec, "year", D(2026, 1, 1), "service_cost")
    assert year.actual == pytest.approx(650)
    assert year.note == "Rolled up from 1 of 4 entered quarters (sum)."
    # a year with months only
    other = _kpi("other", "count")
    _months(other, [1, 2], year=2026, first=11)
    assert _row(org.exec, "year", D(2026, 1, 1), "other").actual == pytest.approx(3)


def test_targets_roll_up_too_and_a_departments_months_win_over_the_companys(org):
    cost = _kpi("service_cost", "money")
    _months(cost, [100, 100, 100], model=KpiTarget)
    _months(cost, [10, 20, 30], model=KpiValue)
    row = _row(org.exec, "quarter", D(2026, 4, 1), "service_cost")
    assert (row.target, row.actual) == (pytest.approx(300), pytest.approx(60))
    # the north department entered its own April and May: its quarter = 1 + 2 + the company's June 30
    _months(cost, [1, 2], department=org.north)
    north = _row(org.exec, "quarter", D(2026, 4, 1), "service_cost", department_id=org.north.pk)
    assert north.actual == pytest.approx(33)
    assert north.value_is_company  # partly the company's rows: flagged


def test_the_rule_is_offered_in_the_kpi_api_and_a_bad_rule_is_refused(admin_user, api_for):
    api = api_for(admin_user)
    made = api.post(
        "/api/analytics/kpis/",
        {"code": "nps", "name": "NPS", "perspective": "customer", "source": "manual", "unit": "number",
         "rollup": "last"},
        format="json",
    )  # fmt: skip
    assert made.status_code == 201, made.content
    assert Kpi.objects.get(code="nps").rollup_rule == "last"
    bad = api.post(
        "/api/analytics/kpis/",
        {"code": "x", "name": "x", "perspective": "customer", "source": "manual", "rollup": "median"},
        format="json",
    )
    assert bad.status_code == 400 and "rollup" in bad.json()
