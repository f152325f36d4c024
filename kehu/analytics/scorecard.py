"""The balanced scorecard, the relationship economics and the evaluation of CRM initiatives, assembled from the
KPI engine (kpis.py), the entered rows (models_scorecard.py) and the finance functions (finance.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import finance, kpis
from .models_scorecard import (
    RELATIONSHIP_COSTS,
    CashFlowSource,
    CostCategory,
    Initiative,
    Kpi,
    KpiLink,
    KpiSource,
    KpiTarget,
    KpiUnit,
    KpiValue,
    Perspective,
    Rollup,
)
from .periods import Period, PeriodType, period_of

GREEN, AMBER, RED, NONE = "green", "amber", "red", "none"
STATUS_LABELS = {
    GREEN: gettext_lazy("On target"),
    AMBER: gettext_lazy("Close to target"),
    RED: gettext_lazy("Off target"),
    NONE: gettext_lazy("No target or value"),
}


def status(actual: float | None, target: float | None, *, higher_is_better: bool, tolerance: float) -> str:
    """Green on or beyond the target, amber within `tolerance` % of it, red beyond that; none without both."""
    if actual is None or target is None:
        return NONE
    slack = abs(target) * tolerance / 100.0
    if higher_is_better:
        return GREEN if actual >= target else (AMBER if actual >= target - slack else RED)
    return GREEN if actual <= target else (AMBER if actual <= target + slack else RED)


def fmt(value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    if unit == KpiUnit.PERCENT:
        return f"{value:.1f}%"
    if unit == KpiUnit.HOURS:
        return f"{value:,.1f} h"
    if unit in (KpiUnit.MONEY, KpiUnit.COUNT):
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


@dataclass
class KpiRow:
    kpi: Kpi
    actual: float | None
    target: float | None
    status: str
    note: str
    trend: list[float | None]
    target_is_company: bool = False
    value_is_company: bool = False
    attainment: float | None = None

    @property
    def actual_display(self) -> str:
        return fmt(self.actual, self.kpi.unit)

    @property
    def target_display(self) -> str:
        return fmt(self.target, self.kpi.unit)

    def as_dict(self) -> dict:
        return {
            "id": self.kpi.pk,
            "code": self.kpi.code,
            "name": self.kpi.name,
            "perspective": self.kpi.perspective,
            "unit": self.kpi.unit,
            "source": self.kpi.source,
            "metric": self.kpi.metric,
            "higher_is_better": self.kpi.higher_is_better,
            "owner": str(self.kpi.responsible) if self.kpi.responsible_id else None,
            "actual": _round(self.actual),
            "target": _round(self.target),
            "attainment": _round(self.attainment),
            "status": self.status,
            "note": self.note,
            "trend": [_round(v) for v in self.trend],
            "target_is_company": self.target_is_company,
            "value_is_company": self.value_is_company,
        }


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, 4)


#: the finer period types a period's entered rows roll up from, finest last
FINER = {
    PeriodType.MONTH: (),
    PeriodType.QUARTER: (PeriodType.MONTH,),
    PeriodType.YEAR: (PeriodType.QUARTER, PeriodType.MONTH),
}


def rollup(values: list[float], rule: str) -> float:
    """sum, average or last of the sub-periods' values (in period order; never empty)."""
    if rule == Rollup.SUM:
        return float(sum(values))
    if rule == Rollup.LAST:
        return float(values[-1])
    return float(sum(values)) / len(values)


def _per_period(model, kpis_, periods: list[Period], unit: kpis.Unit) -> dict:
    """{(kpi id, period start): (value, is_company, rolled_up)} — the unit's row, else the company's
    (department empty). A period without a row of its own rolls up the rows of the finer periods inside it (a
    quarter its months; a year its quarters, else its months) by the KPI's rule (sum, average, last:
    `Kpi.rollup_rule`); `rolled_up` is then (sub-period type, rows found, sub-periods in the period), else None.
    One query for every KPI, period type and period."""
    if not kpis_:
        return {}
    kind = periods[0].kind
    kinds = (kind, *FINER.get(PeriodType(kind), ()))
    dept = unit.department.pk if unit.department else None
    q = Q(department__isnull=True)
    if dept is not None:
        q |= Q(department_id=dept)
    rows = model.objects.filter(
        q,
        kpi__in=kpis_,
        period_type__in=kinds,
        period_start__gte=periods[0].start,
        period_start__lt=periods[-1].end,
    ).values_list(
        "kpi_id", "period_type", "period_start", "department_id", "target" if model is KpiTarget else "value"
    )
    by_kind: dict[str, dict] = {k: {} for k in kinds}
    for kpi_id, period_type, start, department_id, value in rows:
        found = by_kind[period_type]
        key = (kpi_id, start)
        if department_id == dept:  # the unit's own row wins
            found[key] = (float(value), dept is not None and department_id is None, None)
        elif key not in found:
            found[key] = (float(value), True, None)
    result: dict = dict(by_kind[kind])
    rules = {k.pk: k.rollup_rule for k in kpis_}
    for kpi_id, rule in rules.items():
        for p in periods:
            if (kpi_id, p.start) in result:
                continue
            for finer in kinds[1:]:
                inside = []
                sub = period_of(finer, p.start)
                while sub.start < p.end:
                    inside.append(sub)
                    sub = sub.shift(1)
                entered = [
                    by_kind[finer][(kpi_id, s.start)] for s in inside if (kpi_id, s.start) in by_kind[finer]
                ]
                if entered:
                    result[(kpi_id, p.start)] = (
                        rollup([e[0] for e in entered], rule),
                        any(e[1] for e in entered),
                        (finer, len(entered), len(inside)),
                    )
                    break
    return result


def _rolled_note(kpi, finer: str, found: int, inside: int) -> str:
    rule = {Rollup.SUM: _("sum"), Rollup.AVERAGE: _("average"), Rollup.LAST: _("last value")}[
        Rollup(kpi.rollup_rule)
    ]
    text = _("Rolled up from %(found)s of %(inside)s entered %(periods)s (%(rule)s).") % {
        "found": found,
        "inside": inside,
        "periods": _("months") if finer == PeriodType.MONTH else _("quarters"),
        "rule": rule,
    }
    return text


def build(*, user, period: Period, department_id=None, trend: int = 8) -> dict:
    """The scorecard of `user`'s unit for `period`: the four perspectives with their KPIs (target, actual,
    status, trend over the last `trend` periods, owner) and the cause → effect links."""
    unit = kpis.unit_for(user, department_id)
    calc = kpis.Calculator(unit)
    periods = period.back(max(1, trend))
    items = list(Kpi.objects.filter(active=True).select_related("responsible"))
    targets = _per_period(KpiTarget, items, periods, unit)
    values = _per_period(KpiValue, items, periods, unit)
    rows: list[KpiRow] = []
    for kpi in items:
        series: list[float | None] = []
        note = ""
        value_company = False
        for p in periods:
            if kpi.source == KpiSource.METRIC:
                v = calc.value(kpi.metric, p)
                series.append(v.value)
                if p == period:
                    note = v.note
            else:
                entered = values.get((kpi.pk, p.start))
                series.append(entered[0] if entered else None)
                if p == period:
                    value_company = bool(entered and entered[1])
                    if entered is None:
                        note = _("No value entered for this period.")
                    elif entered[2] is not None:
                        note = _rolled_note(kpi, *entered[2])
        actual = series[-1]
        target_row = targets.get((kpi.pk, period.start))
        target = target_row[0] if target_row else None
        row = KpiRow(
            kpi=kpi,
            actual=actual,
            target=target,
            status=status(
                actual, target, higher_is_better=kpi.higher_is_better, tolerance=float(kpi.tolerance)
            ),
            note=note,
            trend=series,
            target_is_company=bool(target_row and target_row[1]),
            value_is_company=value_company,
        )
        if actual is not None and target:
            row.attainment = 100.0 * actual / target
        rows.append(row)
    perspectives = []
    for value, label in Perspective.choices:
        perspectives.append(
            {"key": value, "label": label, "rows": [r for r in rows if r.kpi.perspective == value]}
        )
    ids = {r.kpi.pk for r in rows}
    links = [
        link
        for link in KpiLink.objects.select_related("cause", "effect")
        if link.cause_id in ids and link.effect_id in ids
    ]
    return {
        "unit": unit,
        "period": period,
        "periods": periods,
        "perspectives": perspectives,
        "rows": rows,
        "links": links,
    }


def graph(card: dict) -> dict:
    """ECharts graph data: KPIs laid out in four bands (learning at the bottom, financial at the top), coloured
    by status, cause → effect edges."""
    bands = {
        Perspective.FINANCIAL: 0,
        Perspective.CUSTOMER: 1,
        Perspective.PROCESS: 2,
        Perspective.LEARNING: 3,
    }
    nodes = []
    for p in card["perspectives"]:
        count = len(p["rows"])
        for i, row in enumerate(p["rows"]):
            nodes.append(
                {
                    "id": str(row.kpi.pk),
                    "name": row.kpi.name,
                    "x": (i + 1) * 1000 / (count + 1),
                    "y": bands[p["key"]] * 200 + 50,
                    "status": row.status,
                    "value": row.actual_display,
                    "category": bands[p["key"]],
                }
            )
    return {
        "nodes": nodes,
        "links": [{"source": str(link.cause_id), "target": str(link.effect_id)} for link in card["links"]],
        "categories": [{"name": str(label)} for _v, label in Perspective.choices],
    }


# ------------------------------------------------------------------------------------------------ economics
def economics(*, user, period: Period, department_id=None) -> dict:
    """Relationship costs (acquire / retain / develop, per campaign) against the revenue of new, retained and
    won-back customers, for one period of the unit."""
    unit = kpis.unit_for(user, department_id)
    calc = kpis.Calculator(unit)
    figures = calc.family("customers", period)
    orders = calc.family("orders", period)
    by_campaign = kpis.costs(unit, period, by_campaign=True)
    labels = dict(CostCategory.choices)
    revenue_key = {"acquire": "revenue_new", "retain": "revenue_retained", "develop": "revenue_retained"}
    count_key = {"acquire": "new_customers", "retain": "customers", "develop": "customers"}
    rows = []
    for category in RELATIONSHIP_COSTS:
        campaigns = sorted(
            ((c or "", float(v)) for (cat, c), v in by_campaign.items() if cat == category),
            key=lambda t: -t[1],
        )
        total = sum(v for _c, v in campaigns)
        customers = figures[count_key[category]].value or 0
        rows.append(
            {
                "category": category,
                "label": labels[category],
                "total": total,
                "campaigns": campaigns,
                "per_customer": total / customers if customers else None,
                "revenue_key": revenue_key[category],
            }
        )
    split = [
        (_("New customers"), figures["revenue_new"].value or 0.0, figures["new_customers"].value or 0),
        (_("Retained customers"), figures["revenue_retained"].value or 0.0, None),
        (_("Won-back customers"), figures["revenue_won_back"].value or 0.0, figures["won_back"].value or 0),
    ]
    other = (orders["revenue"].value or 0.0) - sum(v for _l, v, _n in split)
    spent = sum(r["total"] for r in rows)
    return {
        "unit": unit,
        "period": period,
        "costs": rows,
        "cost_total": spent,
        "revenue_split": split,
        "revenue_other": other if abs(other) >= 0.005 else 0.0,
        "revenue": orders["revenue"].value or 0.0,
        "figures": figures,
        "return_on_relationship": ((orders["revenue"].value or 0.0) - spent) / spent if spent else None,
    }


# ------------------------------------------------------------------------------------------------ initiatives
FINANCE_MESSAGES = {
    "no_flows": lambda: _("There are no cash flows yet."),
    "no_investment": lambda: _("Nothing was invested, so the return on investment is undefined."),
    "no_sign_change": lambda: _(
        "The cash flows never change sign (only costs or only benefits), so there is no internal rate of return."
    ),
    "multiple": lambda: _(
        "The cash flows change sign several times and have more than one internal rate of return; judge by "
        "the net present value."
    ),
    "no_root": lambda: _(
        "The net present value is never zero for these cash flows, so there is no internal rate of return."
    ),
    "bad_rate": lambda: _("The discount rate must be above −100 %."),
}


@dataclass
class FlowRow:
    index: int
    period: Period
    outflow: float
    inflow: float
    derived_inflow: float | None = None
    note: str = ""
    entered: bool = False

    @property
    def net(self) -> float:
        return self.inflow + (self.derived_inflow or 0.0) - self.outflow


@dataclass
class InitiativeResult:
    initiative: Initiative
    flows: list[FlowRow] = field(default_factory=list)
    evaluation: finance.Evaluation | None = None
    #: discounted benefits (E) and costs (C) at the initiative's rate; None when the rate is not usable
    pv_benefit: float | None = None
    pv_cost: float | None = None

    def benefit_index(self, min_cost: float = 1.0) -> float | None:
        """NBA's benefit index (E − C) / max(C, min_cost) of the discounted benefits and costs: ranks the
        initiatives like customer actions (finite; None without flows or with an unusable rate)."""
        if self.pv_benefit is None or self.pv_cost is None or not any(f.net or f.outflow for f in self.flows):
            return None
        from .nba import benefit_index_scalar

        return benefit_index_scalar(self.pv_benefit, self.pv_cost, min_cost)

    def as_dict(self) -> dict:
        e = self.evaluation
        return {
            "pv_benefit": _round(self.pv_benefit),
            "pv_cost": _round(self.pv_cost),
            "benefit_index": _round(self.benefit_index()),
            "invested": _round(e.invested),
            "returned": _round(e.returned),
            "net": _round(e.net),
            "roi": _round(e.roi),
            "npv": _round(e.npv),
            "irr": _round(e.irr),
            "irr_annual": _round(e.irr_annual),
            "irrs": [_round(r) for r in e.irrs],
            "payback_period": e.payback_period,
            "messages": list(e.messages),
            "cash_flows": [
                {
                    "period": f.index,
                    "label": f.period.label,
                    "outflow": _round(f.outflow),
                    "inflow": _round(f.inflow + (f.derived_inflow or 0.0)),
                    "net": _round(f.net),
                }
                for f in self.flows
            ],
        }


def evaluate_initiative(initiative: Initiative, *, user) -> InitiativeResult:
    """Cash flows per period (entered, plus for a derived initiative the benefit KPI's gain over the baseline
    times the margin, for the periods that have begun) and their ROI, NPV, IRR and payback."""
    first = period_of(initiative.period_type, initiative.start)
    entered = {cf.period_index: cf for cf in initiative.cash_flows.all()}
    horizon = max([initiative.periods, *[i + 1 for i in entered]])
    today = timezone.localdate()
    calc = kpis.Calculator(kpis.unit_for(user)) if initiative.source == CashFlowSource.DERIVED else None
    kpi = initiative.kpi if calc is not None else None
    values = {}
    if kpi is not None and kpi.source == KpiSource.MANUAL:
        values = {
            start: float(v)
            for start, v in KpiValue.objects.filter(
                kpi=kpi, period_type=initiative.period_type, department__isnull=True
            ).values_list("period_start", "value")
        }
    result = InitiativeResult(initiative)
    for index in range(horizon):
        p = first.shift(index)
        cf = entered.get(index)
        row = FlowRow(
            index,
            p,
            float(cf.outflow) if cf else 0.0,
            float(cf.inflow) if cf else 0.0,
            note=cf.note if cf else "",
            entered=cf is not None,
        )
        if kpi is not None and p.start <= today:
            actual = (
                calc.value(kpi.metric, p).value if kpi.source == KpiSource.METRIC else values.get(p.start)
            )
            if actual is not None:
                gain = actual - float(initiative.baseline)
                gain = -gain if not kpi.higher_is_better else gain
                row.derived_inflow = max(0.0, gain) * float(initiative.margin) / 100.0
        result.flows.append(row)
    outflows = [f.outflow for f in result.flows]
    inflows = [f.inflow + (f.derived_inflow or 0.0) for f in result.flows]
    result.evaluation = finance.evaluate(
        outflows,
        inflows,
        annual_rate=float(initiative.discount_rate) / 100.0,
        months=first.months,
        messages={k: v() for k, v in FINANCE_MESSAGES.items()},
    )
    try:
        rate = finance.period_rate(float(initiative.discount_rate) / 100.0, first.months)
        result.pv_benefit = finance.npv(rate, inflows) if inflows else 0.0
        result.pv_cost = finance.npv(rate, outflows) if outflows else 0.0
    except finance.FinanceError:
        pass
    return result
