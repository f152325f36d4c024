"""Demo balanced scorecard (called after the demo orders, tickets and interactions exist): the seeds' KPIs in
the four perspectives with owners, cause → effect links, targets near the actuals (so statuses differ),
entered values for the manual KPIs, three years of relationship costs and cost of sales, and two CRM
initiatives (one with entered cash flows, one derived from a KPI). Deterministic for a given seed."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from kehu.core.models import Department, User
from kehu.sales.models import OrderLine

from . import kpis
from .models_scorecard import (
    CashFlowSource,
    CostEntry,
    Initiative,
    InitiativeCashFlow,
    Kpi,
    KpiLink,
    KpiTarget,
    KpiValue,
)
from .periods import PeriodType, period_of

# code, zh name / en name, perspective, metric (or "" = entered), unit, higher is better, owner
KPIS = [
    ("revenue", "销售收入 Net revenue", "financial", "revenue", "money", True, "exec"),
    ("profit", "利润 Profit", "financial", "profit", "money", True, "exec"),
    ("market_share", "市场份额 Market share", "financial", "", "percent", True, "exec"),
    ("cost_reduction", "成本降低 Cost reduction", "financial", "", "percent", True, "exec"),
    ("new_customers", "新客户数 New customers", "customer", "new_customers", "count", True, "marketer"),
    ("retention", "客户保持率 Retention rate", "customer", "retention_rate", "percent", True, "manager"),
    ("churn", "客户流失率 Churn rate", "customer", "churn_rate", "percent", False, "manager"),
    ("won_back", "赢回客户 Won-back customers", "customer", "won_back", "count", True, "manager"),
    ("satisfaction", "客户满意度 Customer satisfaction", "customer", "", "number", True, "agent"),
    ("time_to_serve", "服务时间 Time to serve", "process", "time_to_serve", "hours", False, "agent"),
    ("complaints", "客户抱怨 Complaints", "process", "complaints", "count", False, "agent"),
    ("sla", "按时解决率 Resolved within SLA", "process", "sla_met_rate", "percent", True, "agent"),
    ("training", "人均培训小时 Training hours per employee", "learning", "", "hours", True, "exec"),
    ("skills", "员工技能达标率 Staff meeting skill standards", "learning", "", "percent", True, "exec"),
    ("contacts", "客户接触次数 Customer interactions", "learning", "interactions", "count", True, "manager"),
]
LINKS = [
    ("training", "time_to_serve", "培训缩短处理时间 training shortens handling"),
    ("skills", "sla", ""),
    ("skills", "complaints", ""),
    ("contacts", "retention", "关怀接触 care contacts"),
    ("time_to_serve", "satisfaction", ""),
    ("sla", "satisfaction", ""),
    ("complaints", "churn", ""),
    ("satisfaction", "retention", ""),
    ("retention", "revenue", ""),
    ("new_customers", "revenue", ""),
    ("won_back", "revenue", ""),
    ("revenue", "profit", ""),
    ("cost_reduction", "profit", ""),
    ("market_share", "revenue", ""),
]
# manual KPIs: (start value, drift per quarter, noise)
MANUAL = {
    "market_share": (11.0, 0.25, 0.4),
    "cost_reduction": (2.0, 0.3, 0.6),
    "satisfaction": (78.0, 0.6, 1.5),
    "training": (6.0, 0.3, 0.8),
    "skills": (70.0, 1.5, 2.0),
}
CAMPAIGNS = {
    "acquire": [("春季展会 Spring trade fair", 0.45), ("线上广告 Online ads", 0.55)],
    "retain": [("会员关怀 Member care", 0.7), ("", 0.3)],
    "develop": [("交叉销售 Cross-selling", 1.0)],
}
CENT = Decimal("0.01")


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2))).quantize(CENT, rounding=ROUND_HALF_UP)


def _dec(value: float) -> Decimal:
    return Decimal(str(round(value, 4)))


def seed(ctx) -> str:
    rng = ctx["rng"]
    users = {u.username: u for u in User.objects.filter(username__in={k[6] for k in KPIS} | {"admin"})}
    viewer = users.get("exec") or users.get("admin") or User.objects.filter(is_superuser=True).first()
    today = timezone.localdate()
    items = {}
    for position, (code, name, perspective, metric, unit, higher, owner) in enumerate(KPIS):
        items[code] = Kpi.objects.create(
            code=code,
            name=name,
            perspective=perspective,
            source="metric" if metric else "manual",
            metric=metric,
            unit=unit,
            higher_is_better=higher,
            responsible=users.get(owner),
            position=position,
        )
    KpiLink.objects.bulk_create([KpiLink(cause=items[a], effect=items[b], note=note) for a, b, note in LINKS])

    # costs: cost of sales ≈ 58–64 % of each month's revenue; relationship costs ≈ 12 % of revenue, split
    cur = kpis.currency()
    monthly = (
        OrderLine.objects.filter(counted=True, currency=cur, order_date__lte=today)
        .annotate(month=TruncMonth("order_date"))
        .values("month")
        .annotate(revenue=Sum("amount"))
        .order_by("month")
    )
    costs = []
    for row in monthly:
        month, revenue = row["month"], float(row["revenue"] or 0)
        if isinstance(month, dt.datetime):
            month = month.date()
        if revenue <= 0:
            continue
        costs.append(
            CostEntry(date=month, category="cost_of_sales", amount=_money(revenue * rng.uniform(0.58, 0.64)),
                      currency=cur, description="销货成本 Cost of goods sold")
        )  # fmt: skip
        shares = {"acquire": 0.05, "retain": 0.04, "develop": 0.025}
        for category, share in shares.items():
            total = revenue * share * rng.uniform(0.8, 1.2)
            for campaign, part in CAMPAIGNS[category]:
                costs.append(
                    CostEntry(date=month + dt.timedelta(days=rng.randrange(25)), category=category,
                              kind="direct" if campaign else "indirect", amount=_money(total * part),
                              currency=cur, campaign=campaign)
                )  # fmt: skip
    CostEntry.objects.bulk_create(costs)

    # entered values and targets: quarters (last 8 and the next), months (last 12), years (last 3)
    current = {kind: period_of(kind, today) for kind in PeriodType.values}
    spans = {
        PeriodType.QUARTER: current[PeriodType.QUARTER].shift(1).back(10),
        PeriodType.MONTH: current[PeriodType.MONTH].back(12),
        PeriodType.YEAR: current[PeriodType.YEAR].back(3),
    }
    values, targets = [], []
    for kind, periods in spans.items():
        scale = {PeriodType.MONTH: 1 / 3, PeriodType.QUARTER: 1.0, PeriodType.YEAR: 4.0}[kind]
        for code, (start, drift, noise) in MANUAL.items():
            level = start
            for i, p in enumerate(periods):
                level = start + drift * i * scale + rng.gauss(0, noise)
                if p.start <= today:
                    values.append(
                        KpiValue(kpi=items[code], period_type=kind, period_start=p.start, value=_dec(level))
                    )
                goal = (start + drift * i * scale) * (1 + rng.choice([-0.05, 0.0, 0.03, 0.08, 0.15]))
                goal = min(goal, 100.0) if items[code].unit == "percent" else goal
                targets.append(
                    KpiTarget(kpi=items[code], period_type=kind, period_start=p.start, target=_dec(goal))
                )
    KpiValue.objects.bulk_create(values)

    def computed_targets(unit, periods, kind, department=None):
        calc = kpis.Calculator(unit)
        for p in periods:
            ref = p if p.start <= today else p.previous()
            for kpi in items.values():
                if not kpi.metric:
                    continue
                actual = calc.value(kpi.metric, ref).value
                if actual is None:
                    continue
                if ref != p or ref.contains(today):  # the running and next periods: a full period's target
                    actual = calc.value(kpi.metric, ref.previous()).value or actual
                # targets ask a little more than was achieved: some KPIs meet them, some come close, some miss
                stretch = rng.choice([-0.08, -0.03, 0.03, 0.06, 0.12, 0.2])
                goal = actual * (1 + stretch) if kpi.higher_is_better else actual * (1 - stretch)
                goal = min(goal, 100.0) if kpi.unit == "percent" else goal
                targets.append(
                    KpiTarget(kpi=kpi, period_type=kind, period_start=p.start, target=_dec(goal), department=department)
                )  # fmt: skip

    if viewer is not None:
        company = kpis.Unit(user=viewer, department=None, company_scope=True)
        for kind, periods in spans.items():
            computed_targets(company, periods, kind)
        north = Department.objects.filter(name__contains="North").first()
        if north is not None:
            computed_targets(
                kpis.Unit(user=viewer, department=north, company_scope=True),
                spans[PeriodType.QUARTER],
                PeriodType.QUARTER,
                department=north,
            )
    KpiTarget.objects.bulk_create(targets)

    # initiatives: the CRM roll-out with entered cash flows; a win-back programme derived from a KPI
    start = current[PeriodType.QUARTER].shift(-6).start
    rollout = Initiative.objects.create(
        name="CRM 系统实施 CRM system roll-out",
        stage="resources",
        status="running",
        description="许可、实施与培训；收益为服务成本节约和交叉销售毛利。Licences, implementation and training; "
        "benefits are service savings and cross-selling margin.",
        responsible=users.get("exec"),
        start=start,
        period_type=PeriodType.QUARTER,
        periods=12,
        discount_rate=Decimal("8"),
    )
    flows = [(420000, 0), (160000, 30000), (60000, 90000), (40000, 150000), (40000, 190000), (40000, 220000),
             (40000, 240000), (40000, 250000), (40000, 260000), (40000, 260000), (40000, 270000), (40000, 270000)]  # fmt: skip
    InitiativeCashFlow.objects.bulk_create(
        [
            InitiativeCashFlow(
                initiative=rollout,
                period_index=i,
                outflow=_money(o),
                inflow=_money(b),
                note="计划 plan" if rollout.first_period.shift(i).start > today else "",
            )
            for i, (o, b) in enumerate(flows)
        ]  # fmt: skip
    )
    winback = Initiative.objects.create(
        name="流失客户赢回计划 Win-back programme",
        stage="execution",
        status="running",
        description="对流失客户的关怀电话与优惠券；收益为赢回客户收入超出基线部分的毛利。",
        responsible=users.get("manager"),
        start=current[PeriodType.QUARTER].shift(-4).start,
        period_type=PeriodType.QUARTER,
        periods=6,
        discount_rate=Decimal("8"),
        source=CashFlowSource.DERIVED,
        kpi=None,
        baseline=Decimal("0"),
        margin=Decimal("35"),
    )
    revenue_won_back = Kpi.objects.create(
        code="revenue_won_back",
        name="赢回客户收入 Revenue from won-back customers",
        perspective="financial",
        source="metric",
        metric="revenue_won_back",
        unit="money",
        responsible=users.get("manager"),
        position=len(KPIS),
        active=False,  # used by the initiative, not shown on the scorecard
    )
    baseline = 0.0
    if viewer is not None:
        calc = kpis.Calculator(kpis.Unit(user=viewer, department=None, company_scope=True))
        baseline = calc.value("revenue_won_back", winback.first_period.previous()).value or 0.0
    winback.kpi = revenue_won_back
    winback.baseline = _dec(baseline * 0.9)
    winback.save(update_fields=["kpi", "baseline"])
    InitiativeCashFlow.objects.bulk_create(
        [
            InitiativeCashFlow(initiative=winback, period_index=i, outflow=_money(60000 if i == 0 else 25000))
            for i in range(6)
        ]  # fmt: skip
    )
    return (
        f"{len(items) + 1} KPIs, {len(LINKS)} links, {len(targets)} targets, {len(values)} entered values, "
        f"{len(costs)} cost entries, 2 initiatives"
    )
