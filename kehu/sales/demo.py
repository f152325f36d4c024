"""Demo sales data (called by seed_demo): pipelines with the seeds' stages, reasons, competitors, assignment
rules, a web form, discount and claim limits, and leads and opportunities across every stage over three years
for the demo reps. Bulk inserts, deterministic for a given seed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from kehu.core import bulk
from kehu.core.models import Department, Role, Team
from kehu.customers.models import Customer
from kehu.products.models import ProductCategory

from .models import (
    AssignmentRule,
    ClaimLimit,
    CloseReason,
    Competitor,
    DiscountLimit,
    Lead,
    LeadWebForm,
    Opportunity,
    Pipeline,
    Stage,
    StageChange,
)

STAGES = [
    ("发现 Discovery", "open", 10),
    ("资格确认 Qualification", "open", 25),
    ("谈判 Negotiation", "open", 50),
    ("报价 Quotation", "open", 75),
    ("赢单 Won", "won", 100),
    ("输单 Lost", "lost", 0),
]
RENEWAL_STAGES = [
    ("续约沟通 Renewal talk", "open", 40),
    ("续约报价 Renewal quote", "open", 70),
    ("已续约 Renewed", "won", 100),
    ("未续约 Not renewed", "lost", 0),
]
REASONS = {
    "won": [
        "价格有优势 Better price",
        "产品功能匹配 Product fit",
        "服务响应快 Fast service",
        "客户关系 Relationship",
    ],
    "lost": [
        "价格过高 Price too high",
        "选择了竞争对手 Chose a competitor",
        "项目取消 Project cancelled",
        "无预算 No budget",
    ],
}
COMPETITORS = [
    "阿特拉斯 Atlas Copco",
    "英格索兰 Ingersoll Rand",
    "开山股份 Kaishan",
    "美的 Midea",
    "本地小厂 Local workshop",
]
COMPANIES = [
    "苏州明湖机械", "杭州云帆网络", "成都天府软件", "武汉长江物流", "青岛海湾食品", "厦门鹭岛贸易", "天津滨海化工",
    "Shenzhen Bright Optics", "Ningbo Harbor Tools", "Xi'an Terracotta Media", "合肥科创电子", "长沙湘江建材",
]  # fmt: skip
PEOPLE = [
    "王强",
    "李静",
    "张磊",
    "刘洋",
    "陈晨",
    "杨帆",
    "赵敏",
    "黄涛",
    "周婷",
    "吴昊",
    "Emma Liu",
    "David Chen",
]
NEEDS = [
    "两台空压机替换旧设备",
    "办公室净水方案",
    "年度维保服务",
    "新厂区发电机组",
    "Printers for 3 offices",
    "医疗设备采购",
]


def _pipeline(name: str, stages, *, default: bool, stalled_days: int) -> tuple[Pipeline, list[Stage]]:
    pipeline = Pipeline.objects.create(name=name, is_default=default, stalled_days=stalled_days)
    made = [
        Stage.objects.create(pipeline=pipeline, name=n, kind=kind, probability=p, position=i)
        for i, (n, kind, p) in enumerate(stages)
    ]
    return pipeline, made


def seed(ctx) -> str:
    rng = ctx["rng"]
    users = ctx["org"].users
    reps = [users[u] for u in ("rep1", "rep2", "rep3", "rep4", "manager")]
    now = timezone.now()
    main, stages = _pipeline("新客户销售 New business", STAGES, default=True, stalled_days=14)
    renewals, renewal_stages = _pipeline("续约 Renewals", RENEWAL_STAGES, default=False, stalled_days=30)
    reasons = {
        kind: [CloseReason.objects.create(kind=kind, name=n, position=i) for i, n in enumerate(names)]
        for kind, names in REASONS.items()
    }
    competitors = [Competitor.objects.create(name=n) for n in COMPETITORS]
    north = Department.objects.filter(name__startswith="华北").first()
    east = Department.objects.filter(name__startswith="华东").first()
    lines = list(ProductCategory.objects.filter(parent__isnull=True).order_by("pk"))
    water = next((c for c in lines if c.name.startswith("净水")), None)
    north_rule = AssignmentRule.objects.create(
        name="华北轮流分配 North round-robin", priority=10, region=north
    )
    north_rule.users.set([users["rep1"], users["rep2"]])
    AssignmentRule.objects.create(
        name="华东按负载 East by load", priority=20, region=east, method="load", department=east, sla_hours=8
    )
    if water is not None:
        AssignmentRule.objects.create(
            name="净水产品线 Water treatment line",
            priority=5,
            product_line=water,
            method="load",
            team=Team.objects.filter(name__contains="East").first(),
        )
    LeadWebForm.objects.create(
        name="官网询价 Website enquiry",
        default_owner=users["manager"],
        thank_you="谢谢！我们会在一个工作日内联系您。Thank you, we will call you within a working day.",
    )
    for code, line, total in (("sales_rep", "10", "5"), ("sales_manager", "25", "15")):
        role = Role.objects.filter(code=code).first()
        if role is not None:
            DiscountLimit.objects.create(
                role=role, max_line_discount=Decimal(line), max_total_discount=Decimal(total)
            )
    rep_role = Role.objects.filter(code="sales_rep").first()
    if rep_role is not None:
        ClaimLimit.objects.create(role=rep_role, max_customers=300, max_claims_per_day=20)

    # ------------------------------------------------------------------ leads over three years
    ids = ctx["customer_ids"]
    lead_count = max(60, len(ids) // 10)
    lead_fields = [
        "id", "kind", "company", "name", "job_title", "phone", "email", "city", "region", "product_line", "source",
        "campaign_ref", "status", "disqualify_reason", "disqualify_note", "score", "budget", "currency",
        "decision_maker", "need", "timeframe", "message", "notes", "assigned_at", "first_contact_due",
        "first_contacted_at", "owner", "custom", "created_at", "updated_at", "version",
    ]  # fmt: skip
    lead_ids = iter(bulk.next_ids(Lead, lead_count))

    def lead_rows():
        for i in range(lead_count):
            # one in six arrived in the last two weeks (new and working leads for the SLA), the rest over 3 years
            window = 14 if rng.random() < 0.17 else 365 * 3
            created = now - dt.timedelta(minutes=rng.randrange(60 * 24 * window))
            owner = rng.choice(reps)
            recent = (now - created).days < 14
            status = (
                rng.choice(["new", "new", "working"])
                if recent
                else rng.choice(["working", "qualified", "disqualified", "disqualified", "qualified"])
            )
            company = f"{rng.choice(COMPANIES)}{'' if rng.random() < 0.5 else '有限公司'}"
            contacted = (
                None if status == "new" else min(now, created + dt.timedelta(hours=rng.randrange(1, 30)))
            )
            yield (
                next(lead_ids), "organization", company, rng.choice(PEOPLE), rng.choice(["采购经理", "总经理", "IT Manager", ""]),
                f"+86139{rng.randrange(10_000_000, 99_999_999)}", f"lead{i}@example.com", rng.choice(["北京", "上海", "杭州", "成都", "Shenzhen"]),
                owner.department_id, rng.choice(lines).pk if lines else None,
                rng.choice(["manual", "web_form", "campaign", "referral", "trade_show", "call"]), "",
                status, "no_budget" if status == "disqualified" else "", "", rng.randrange(0, 100),
                Decimal(rng.randrange(5, 500) * 1000), "CNY", rng.random() < 0.4, rng.choice(NEEDS),
                rng.choice(["now", "quarter", "half_year", "year", "unknown"]), "", "", created,
                created + dt.timedelta(hours=24), contacted, owner.pk, "{}", created, created, 1,
            )  # fmt: skip

    made_leads = bulk.insert_rows(Lead, lead_fields, lead_rows())

    # ------------------------------------------------------------------ opportunities across stages
    rep_ids = [u.pk for u in reps]
    accounts = list(
        Customer.objects.filter(pk__gte=min(ids), pk__lte=max(ids), kind="organization", owner_id__in=rep_ids)
        .order_by("pk")
        .values_list("pk", "owner_id", "name")
    )
    chosen = [row for row in accounts if rng.random() < 0.35]
    opp_fields = [
        "id", "name", "customer", "contact", "pipeline", "stage", "status", "amount", "currency", "probability",
        "expected_close_date", "closed_at", "close_reason", "close_note", "lost_to", "lead", "source", "next_step",
        "description", "position", "stage_entered_at", "last_activity_at", "owner", "custom", "created_at",
        "updated_at", "version",
    ]  # fmt: skip
    opp_ids = iter(bulk.next_ids(Opportunity, len(chosen)))
    history: list[tuple] = []
    positions: dict[int, int] = {}

    def opp_rows():
        for pk, owner_id, name in chosen:
            renewal = rng.random() < 0.15
            pipe, pipe_stages = (renewals, renewal_stages) if renewal else (main, stages)
            open_stages = [s for s in pipe_stages if s.kind == "open"]
            if rng.random() < 0.45:  # an open deal of the last five months
                created = now - dt.timedelta(minutes=rng.randrange(60 * 24 * 150))
                stage = rng.choice(open_stages)
            else:  # a closed deal of the last three years, won a little more often than lost
                created = now - dt.timedelta(minutes=rng.randrange(60 * 24 * 365 * 3))
                stage = rng.choice([s for s in pipe_stages if s.kind != "open"] + [pipe_stages[-2]])
            age = (now - created).days
            path = (
                [s for s in open_stages if s.position < stage.position]
                if stage.kind == "open"
                else open_stages[: rng.randrange(1, len(open_stages) + 1)]
            )
            path = path + [stage]
            span = max(1, min(age, 150))
            when = created
            opp_id = next(opp_ids)
            previous = None
            for step in path:
                if previous is not None:
                    when = when + dt.timedelta(days=rng.randrange(1, max(2, span // len(path))))
                    when = min(when, now)
                history.append(
                    (
                        opp_id,
                        previous.pk if previous else None,
                        step.pk,
                        when,
                        owner_id,
                        int((when - history[-1][3]).total_seconds()) if previous else 0,
                        Decimal(0),
                    )
                )
                previous = step
            closed = stage.kind != "open"
            amount = Decimal(rng.randrange(8, 600) * 1000)
            reason = rng.choice(reasons[stage.kind]).pk if closed else None
            positions[stage.pk] = positions.get(stage.pk, 0) + 1024
            last_activity = now - dt.timedelta(days=rng.randrange(0, 40)) if not closed else when
            yield (
                opp_id, f"{name} – {'续约' if renewal else rng.choice(['设备采购', '维保合同', 'Project', '扩容'])}", pk, None,
                pipe.pk, stage.pk, stage.kind, amount, "CNY", stage.probability,
                (when + dt.timedelta(days=rng.randrange(10, 120))).date() if not closed else when.date(),
                when if closed else None, reason, "", rng.choice(competitors).pk if stage.kind == "lost" and rng.random() < 0.6 else None,
                None, rng.choice(["web", "referral", "campaign", "trade_show", ""]),
                "" if closed else rng.choice(["安排演示 Demo", "发送报价 Send quote", "拜访决策人 Meet the decision maker"]),
                "", positions[stage.pk], when, max(last_activity, when), owner_id, "{}", created, max(when, created), len(path),
            )  # fmt: skip

    made_opps = bulk.insert_rows(Opportunity, opp_fields, opp_rows())
    bulk.insert_rows(
        StageChange,
        ["opportunity", "from_stage", "to_stage", "at", "by", "seconds_in_from", "amount"],
        history,
    )
    bulk.reset_sequences(Lead, Opportunity, StageChange)
    from .demo_documents import seed as seed_documents

    documents = seed_documents(ctx, now=now)
    pooled = seed_pools(ctx, now=now)
    return (
        f"{made_leads} leads, {made_opps} opportunities ({len(history)} stage changes); {documents}; {pooled}"
    )


def seed_pools(ctx, *, now: dt.datetime) -> str:
    """Two public pools (the North region's, and the water-treatment product line's) with customers that
    left a rep — released with a reason or recycled by the rule — and their history, plus the North recycle
    rule (30 days without follow-up or 180 without a deal, warned 3 days before; loyal customers kept)."""
    from .models import CustomerPool, PoolEntry, PoolEvent, RecycleRule

    rng = ctx["rng"]
    north = Department.objects.filter(name__startswith="华北").first()
    water = ProductCategory.objects.filter(parent__isnull=True, name__startswith="净水").first()
    north_pool = CustomerPool.objects.create(
        name="华北公海 North pool", department=north, reclaim_cooldown_days=7
    )
    line_pool = CustomerPool.objects.create(
        name="净水产品线公海 Water treatment pool", product_line=water, hide_contact_details=True
    )
    rule = RecycleRule.objects.create(
        name="华北 30 天未跟进 North: 30 days without follow-up",
        pool=north_pool,
        department=north,
        no_followup_days=30,
        no_deal_days=180,
        warn_days=3,
        exclude_lifecycle="loyal",
    )
    candidates = list(
        Customer.objects.filter(pk__in=ctx["customer_ids"], kind="organization", owner__isnull=False)
        .exclude(lifecycle_stage="loyal")
        .order_by("pk")
        .values_list("pk", "owner_id")[:40]
    )
    reasons = ["客户暂无需求 No need for now", "联系不上 Cannot reach them", "预算冻结 Budget frozen"]
    entries, events = [], []
    for i, (pk, owner_id) in enumerate(candidates):
        pool = north_pool if i % 3 else line_pool
        held_from = now - dt.timedelta(days=rng.randrange(60, 400))
        left = held_from + dt.timedelta(days=rng.randrange(31, 50))
        recycled = pool == north_pool and i % 2 == 0
        reason = "no follow-up for 30 days" if recycled else rng.choice(reasons)
        events.append(
            PoolEvent(
                customer_id=pk, pool=pool, kind="claimed", at=held_from, to_owner_id=owner_id, by_id=owner_id
            )
        )
        if recycled:
            events.append(
                PoolEvent(
                    customer_id=pk,
                    pool=pool,
                    kind="warned",
                    at=left - dt.timedelta(days=3),
                    from_owner_id=owner_id,
                    rule=rule,
                    reason=reason,
                )
            )
        events.append(
            PoolEvent(
                customer_id=pk, pool=pool, kind="recycled" if recycled else "released", at=left,
                from_owner_id=owner_id, by_id=None if recycled else owner_id, rule=rule if recycled else None, reason=reason,
            )
        )  # fmt: skip
        entries.append(
            PoolEntry(pool=pool, customer_id=pk, entered_at=left, previous_owner_id=owner_id, reason=reason)
        )
    Customer.objects.filter(pk__in=[pk for pk, _o in candidates]).update(owner=None)
    PoolEntry.objects.bulk_create(entries)
    PoolEvent.objects.bulk_create(events)
    return f"{len(entries)} customers in 2 pools"
