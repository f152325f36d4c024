"""Demo data for Next Best Activity (called after the scoring in kehu/analytics/demo.py): phone consent for part
of the buyers (the demo's customers opted in by email or SMS only), a first ranking, a history of taken and
ignored decisions 3–4 months back (so the outcomes, the calibration and the report mean something), a ranking
that learns from them, and the company's CRM initiatives of each practice stage. Deterministic for a seed."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from kehu.customers.models import ConsentEvent, Customer

from .models_nba import NbaDecision, NbaRecommendation, Outcome
from .services_nba import nba_run

INITIATIVES = [
    # name, practice stage, status, benefits, costs (over four quarters: 60 % of the cost up front)
    ("客户数据清洗与合并 Customer data clean-up", "resources", "done", 180000, 40000),
    ("按CLV划分价值客户 CLV value segments", "segmentation", "running", 260000, 30000),
    ("重要挽留客户关怀计划 Care plan for customers at risk", "strategy", "approved", 420000, 150000),
    ("会员积分计划 Loyalty points programme", "strategy", "proposed", 600000, 380000),
    ("呼叫中心外呼 Outbound call-centre campaign", "execution", "proposed", 220000, 200000),
    ("实践效果季度评估 Quarterly practice review", "evaluation", "running", 60000, 8000),
    ("全员CRM培训 CRM training for all staff", "resources", "proposed", 90000, 120000),
]


def seed(ctx) -> str:
    rng = ctx["rng"]
    org = ctx["org"]
    now = timezone.now()
    buyers = list(
        Customer.objects.filter(pk__in=ctx["customer_ids"], analytics_score__isnull=False)
        .order_by("pk")
        .only("pk", "consent")
    )
    chosen = [c for c in buyers if rng.random() < 0.6]
    at = (now - dt.timedelta(days=200)).isoformat()
    for c in chosen:  # demo set-up: a few thousand rows at most
        c.consent = {**(c.consent or {}), "phone": {"status": "granted", "at": at, "method": "verbal"}}
    Customer.objects.bulk_update(chosen, ["consent"], batch_size=1000)
    ConsentEvent.objects.bulk_create(
        ConsentEvent(
            customer_id=c.pk,
            channel="phone",
            status="granted",
            method="verbal",
            at=now - dt.timedelta(days=200),
        )
        for c in chosen
    )

    _ensure_catalogue()
    nba_run()
    # a history: reps took or ignored some of the first-ranked actions 90–130 days ago
    recs = list(
        NbaRecommendation.objects.filter(rank=1).select_related("action", "customer").order_by("customer_id")
    )
    users = {u.pk: u for u in org.owners}
    decisions = []
    for rec in recs:
        if rng.random() > 0.35:
            continue
        decided = now - dt.timedelta(days=rng.randint(90, 130), hours=rng.randint(0, 8))
        taken = rng.random() < 0.75
        decisions.append(
            NbaDecision(
                customer_id=rec.customer_id,
                action_id=rec.action_id,
                decision="taken" if taken else "ignored",
                expected_effect=rec.expected_effect,
                expected_cost=rec.expected_cost,
                benefit_index=rec.benefit_index,
                response_rate=rec.response_rate,
                decided_at=decided,
                decided_by=users.get(rec.customer.owner_id) or org.owners[0],
                window_ends=decided + dt.timedelta(days=rec.action.window_days),
                outcome=Outcome.PENDING if taken else Outcome.NOT_TRACKED,
            )
        )
    NbaDecision.objects.bulk_create(decisions, batch_size=1000)
    initiatives_seed(owner=org.owners[0])
    run = nba_run()  # closes the outcomes, recalibrates, ranks again
    return (
        f"{len(chosen)} phone consents, {len(decisions)} NBA decisions ({run.outcomes_closed} outcomes closed), "
        f"{run.recommendations} recommendations, {len(INITIATIVES)} CRM initiatives"
    )


def _ensure_catalogue() -> None:
    """The starting catalogue comes with migration analytics.0003; a database emptied since (a flush between
    tests, an admin who deleted every action) gets it back for the demo."""
    import importlib

    from django.apps import apps

    from .models_nba import NbaAction

    if not NbaAction.objects.exists():
        importlib.import_module("kehu.analytics.migrations.0003_nba").create_catalogue(apps, None)


def initiatives_seed(*, owner) -> None:
    """The practice loop's initiatives as scorecard initiatives (one model, ADR 0011 §anfix): quarterly cash
    flows from last quarter on — 60 % of the cost in the first quarter, the rest of the cost and the benefits
    spread over the next three — so NBA ranks them by the discounted benefits and costs."""
    from decimal import Decimal

    from .models_scorecard import Initiative, InitiativeCashFlow
    from .periods import PeriodType, period_of

    start = period_of(PeriodType.QUARTER, timezone.localdate()).shift(-1).start
    flows = []
    for name, stage, status, benefit, cost in INITIATIVES:
        initiative = Initiative.objects.create(
            name=name,
            stage=stage,
            status=status,
            responsible=owner,
            start=start,
            period_type=PeriodType.QUARTER,
            periods=4,
            discount_rate=Decimal("8"),
        )
        flows.append(
            InitiativeCashFlow(initiative=initiative, period_index=0, outflow=Decimal(cost * 6 // 10))
        )
        for i in (1, 2, 3):
            flows.append(
                InitiativeCashFlow(
                    initiative=initiative,
                    period_index=i,
                    outflow=Decimal(cost * 4 // 30),
                    inflow=Decimal(benefit // 3),
                )
            )
    InitiativeCashFlow.objects.bulk_create(flows)
