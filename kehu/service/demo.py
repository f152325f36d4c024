"""Demo data of the service app (called by seed_demo): a China business calendar with the 2026 and 2027
public holidays and adjusted working days, SLA policies, queues with routing and agents, canned answers,
and tickets across states and channels over the last year (bulk inserts, deterministic)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from kehu.core import bulk
from kehu.core.models import Tag
from kehu.customers.models import Customer
from kehu.interactions.models import Interaction
from kehu.products.models import InstalledProduct

from . import businesstime as bt
from .models import (
    AgentProfile,
    Availability,
    BusinessCalendar,
    CalendarDay,
    CannedResponse,
    DayKind,
    DeliveryStatus,
    MessageKind,
    Queue,
    RoutingMethod,
    RoutingRule,
    Skill,
    SkillKind,
    SlaEvent,
    SlaPolicy,
    SlaTarget,
    Ticket,
    TicketCategory,
    TicketMessage,
    WorkingHours,
)
from .services import sla

# The State Council's schedule for 2026 (国务院办公厅关于2026年部分节假日安排的通知): holidays and the weekend
# days worked instead (调休).
HOLIDAYS_2026 = {
    "元旦 New Year": ([(1, 1), (1, 2), (1, 3)], [(1, 4)]),
    "春节 Spring Festival": ([(2, d) for d in range(15, 24)], [(2, 14), (2, 28)]),
    "清明节 Qingming": ([(4, 4), (4, 5), (4, 6)], []),
    "劳动节 Labour Day": ([(5, d) for d in range(1, 6)], [(5, 9)]),
    "端午节 Dragon Boat": ([(6, 19), (6, 20), (6, 21)], []),
    "中秋节 Mid-Autumn": ([(9, 25), (9, 26), (9, 27)], []),
    "国庆节 National Day": ([(10, d) for d in range(1, 8)], [(9, 20), (10, 10)]),
}
# 2027: the statutory holidays fall on these dates (lunar calendar); the bridging schedule is published by the
# State Council late in 2026 — this one is PROVISIONAL demo data, to be replaced by the official notice.
HOLIDAYS_2027 = {
    "元旦 New Year": ([(1, 1), (1, 2), (1, 3)], []),
    "春节 Spring Festival (provisional)": ([(2, d) for d in range(5, 14)], [(2, 20)]),
    "清明节 Qingming (provisional)": ([(4, 3), (4, 4), (4, 5)], []),
    "劳动节 Labour Day (provisional)": ([(5, d) for d in range(1, 6)], [(4, 25), (5, 8)]),
    "端午节 Dragon Boat (provisional)": ([(6, 9)], []),
    "中秋节 Mid-Autumn (provisional)": ([(9, 15)], []),
    "国庆节 National Day (provisional)": ([(10, d) for d in range(1, 8)], [(9, 26), (10, 9)]),
}

CATEGORIES = [
    "安装调试 Installation",
    "故障维修 Repair",
    "使用咨询 How-to",
    "投诉 Complaint",
    "配件 Spare parts",
    "账单 Billing",
]
SUBJECTS = {
    "repair": [
        "设备无法启动",
        "Pump leaking at the seal",
        "空压机异响",
        "打印机卡纸频繁",
        "Display shows error E21",
        "净水器出水慢",
    ],
    "request": ["申请上门安装", "Need a maintenance visit", "更换滤芯", "Request a loan unit", "申请延保"],
    "inquiry": [
        "如何设置定时开关机",
        "Where is the warranty card?",
        "配件价格咨询",
        "How to reset the filter counter",
    ],
    "complaint": ["工程师迟到两小时", "Repair took too long", "更换的配件又坏了", "客服电话打不通"],
}
CUSTOMER_TEXT = {
    "repair": "设备从昨天开始出现问题，影响生产，请尽快安排。",
    "request": "Please schedule a visit next week; our site is open 9:00–17:00.",
    "inquiry": "请问这个功能在哪里设置？说明书里没有找到。",
    "complaint": "对这次的服务很不满意，希望给个说法。",
}
REPLIES = [
    "已收到，工程师将在24小时内联系您。",
    "Thanks, we have scheduled an engineer.",
    "请提供设备序列号和故障照片。",
]
CLOSING = [
    "问题已解决，如有需要请随时联系。",
    "The part was replaced; closing the ticket.",
    "已远程指导完成设置。",
]
CANNED = [
    ("确认收到 Acknowledge", "{requester}您好，我们已收到您的请求 {ticket}，将尽快处理。\n—— {agent}", ""),
    (
        "请提供信息 Ask for details",
        "{requester}您好，请提供设备序列号和故障照片，以便我们尽快处理。",
        "pending",
    ),
    ("已解决 Resolved", "{requester}您好，问题已处理完毕。如仍有问题，直接回复本邮件即可。", "resolved"),
    (
        "Warranty expired",
        "Dear {requester}, the unit's warranty has ended; repairs are charged per our price list.",
        "",
    ),
]


def seed_calendar() -> BusinessCalendar:
    calendar = BusinessCalendar.objects.create(
        name="中国工作日 China working days",
        time_zone="Asia/Shanghai",
        description="Mon–Fri 09:00–12:00, 13:00–18:00; public holidays and adjusted working days 2026–2027",
    )
    for day in range(5):
        WorkingHours.objects.create(calendar=calendar, weekday=day, start=dt.time(9), end=dt.time(12))
        WorkingHours.objects.create(calendar=calendar, weekday=day, start=dt.time(13), end=dt.time(18))
    for year, schedule in ((2026, HOLIDAYS_2026), (2027, HOLIDAYS_2027)):
        for name, (off, worked) in schedule.items():
            for month, day in off:
                CalendarDay.objects.create(
                    calendar=calendar, date=dt.date(year, month, day), kind=DayKind.HOLIDAY, name=name
                )
            for month, day in worked:
                CalendarDay.objects.create(
                    calendar=calendar, date=dt.date(year, month, day), kind=DayKind.WORKDAY, name=name
                )
    return calendar


def seed(ctx) -> str:
    users = ctx["org"].users
    now = timezone.now()
    calendar = seed_calendar()
    categories = {name: TicketCategory.objects.create(name=name) for name in CATEGORIES}
    vip_tag = Tag.objects.filter(name="VIP").first() or Tag.objects.create(name="VIP", color="#c2410c")
    vip = SlaPolicy.objects.create(
        name="VIP 客户 VIP customers", position=10, calendar=None, warn_before_minutes=15
    )
    vip.customer_tags.add(vip_tag)
    standard = SlaPolicy.objects.create(
        name="标准 Standard", position=100, calendar=calendar, warn_before_minutes=60
    )
    for policy, targets in (
        (vip, {"urgent": (15, 120), "high": (30, 240), "normal": (60, 480), "low": (240, 1440)}),
        (standard, {"urgent": (30, 240), "high": (60, 480), "normal": (240, 1440), "low": (480, 2880)}),
    ):
        for priority, (first, resolve) in targets.items():
            SlaTarget.objects.create(
                policy=policy, priority=priority, first_response_minutes=first, resolution_minutes=resolve
            )
    admin = users["admin"]
    desk = Queue.objects.create(
        name="一线客服 Service desk",
        code="desk",
        is_default=True,
        method=RoutingMethod.LEAST_LOADED,
        manager=admin,
        email_address="support@kehu.localhost",
    )
    fast = Queue.objects.create(
        name="VIP 快速通道 VIP fast lane",
        code="vip",
        fast_lane=True,
        method=RoutingMethod.ROUND_ROBIN,
        manager=admin,
        email_address="vip@kehu.localhost",
    )
    tech = Queue.objects.create(
        name="技术支持 Technical support", code="tech", method=RoutingMethod.MANUAL, manager=admin
    )
    skills = {
        code: Skill.objects.create(kind=kind, code=code, name=name)
        for kind, code, name in (
            (SkillKind.LANGUAGE, "zh-hans", "中文"),
            (SkillKind.LANGUAGE, "en", "English"),
            (SkillKind.CHANNEL, "email", "Email"),
            (SkillKind.CHANNEL, "phone", "Phone"),
        )
    }
    vip_rule = RoutingRule.objects.create(
        name="VIP → fast lane", position=10, queue=fast, set_priority="high"
    )
    vip_rule.customer_tags.add(vip_tag)
    repair_rule = RoutingRule.objects.create(name="故障维修 → technical support", position=20, queue=tech)
    repair_rule.categories.add(categories["故障维修 Repair"])
    agents = [users["agent"], users["agent2"]]
    for agent, langs in zip(agents, (["zh-hans"], ["zh-hans", "en"]), strict=True):
        profile = AgentProfile.objects.create(user=agent, availability=Availability.ONLINE, capacity=15)
        profile.queues.set([desk, fast, tech])
        profile.skills.set([skills[c] for c in langs] + [skills["email"], skills["phone"]])
    for title, body, status in CANNED:
        CannedResponse.objects.create(title=title, body=body, set_status=status)
    made = _tickets(
        ctx,
        now=now,
        agents=agents,
        queues=(desk, fast, tech),
        categories=list(categories.values()),
        policies=(vip, standard),
        vip_tag=vip_tag,
    )
    return f"calendar with {CalendarDay.objects.count()} dated days, 3 queues, {made} tickets"


def _tickets(ctx, *, now, agents, queues, categories, policies, vip_tag) -> int:
    rng = ctx["rng"]
    ids = ctx["customer_ids"]
    desk, fast, tech = queues
    vip_policy, standard = policies
    specs = {
        vip_policy.pk: bt.CalendarSpec.around_the_clock(),
        standard.pk: sla.calendar_spec(standard.calendar),
    }
    targets = {(t.policy_id, t.priority): t for t in SlaTarget.objects.all()}
    chosen = list(
        Customer.objects.filter(pk__in=ids[:: max(1, len(ids) // 400)], merged_into__isnull=True)
        .order_by("pk")
        .values_list("pk", "name", "email", "account_id")
    )
    vip_ids = set(
        Customer.objects.filter(tags=vip_tag, pk__in=[c[0] for c in chosen]).values_list("pk", flat=True)
    )
    units = {}
    for pk, customer_id, warranty_end in InstalledProduct.objects.filter(
        customer_id__in=[c[0] for c in chosen]
    ).values_list("pk", "customer_id", "warranty_end"):
        units.setdefault(customer_id, (pk, warranty_end))
    channels = ["email"] * 4 + ["phone"] * 3 + ["web_form", "wechat", "agent"]
    kinds = ["repair"] * 4 + ["request"] * 3 + ["inquiry"] * 2 + ["complaint"]
    priorities = ["low", "normal", "normal", "normal", "high", "urgent"]
    next_ticket = iter(bulk.next_ids(Ticket, len(chosen) * 2))
    ticket_rows, message_rows, events, timeline = [], [], [], []
    for pk, name, email, account_id in chosen:
        for _ in range(rng.choice((1, 1, 2))):
            ticket = Ticket(
                pk=next(next_ticket),
                subject="",
                kind=rng.choice(kinds),
                priority=rng.choice(priorities),
                channel=rng.choice(channels),
                customer_id=account_id or pk,
                contact_id=pk if account_id else None,
                requester_name=name,
                requester_email=email or "",
                language="zh-hans",
            )
            ticket.subject = rng.choice(SUBJECTS[ticket.kind])
            ticket.category = rng.choice(categories)
            age = dt.timedelta(minutes=rng.randrange(10, 365 * 24 * 60))
            ticket.created_at = ticket.updated_at = now - age
            is_vip = pk in vip_ids or (account_id in vip_ids)
            ticket.queue = fast if is_vip else (tech if ticket.category.name.startswith("故障") else desk)
            if is_vip and ticket.priority in ("low", "normal"):
                ticket.priority = "high"
            unit = units.get(pk) or units.get(account_id)
            if unit is not None and ticket.kind in ("repair", "request"):
                ticket.installed_product_id = unit[0]
                ticket.out_of_warranty = not (unit[1] and unit[1] >= ticket.created_at.date())
            policy = vip_policy if is_vip else standard
            ticket.sla_policy = policy
            target = targets[(policy.pk, ticket.priority)]
            spec = specs[policy.pk]
            days = age.days
            status = (
                rng.choice(["closed"] * 9 + ["resolved"])
                if days > 20
                else rng.choice(["new", "open", "open", "pending", "resolved", "closed"])
            )
            if status in ("new", "open", "pending"):  # work in progress is recent: hours to a few days old
                age = dt.timedelta(minutes=rng.randrange(5, 60 * 24 * (1 if status == "new" else 6)))
                ticket.created_at = ticket.updated_at = now - age
            first_due = bt.add_minutes(spec, ticket.created_at, target.first_response_minutes)
            late = rng.random() < 0.12
            responded = None
            if status != "new":
                delay = target.first_response_minutes * (
                    rng.uniform(1.2, 3) if late else rng.uniform(0.1, 0.9)
                )
                responded = min(bt.add_minutes(spec, ticket.created_at, delay), now)
                ticket.first_responded_at = responded
                ticket.owner = rng.choice(agents)
                ticket.taken_at = responded
            ticket.status = status
            messages = [(MessageKind.CUSTOMER, ticket.created_at, CUSTOMER_TEXT[ticket.kind], None)]
            if responded is not None:
                messages.append((MessageKind.REPLY, responded, rng.choice(REPLIES), ticket.owner))
            if status in ("resolved", "closed"):
                resolve_minutes = target.resolution_minutes * (
                    rng.uniform(1.1, 2) if late else rng.uniform(0.3, 0.95)
                )
                resolved = min(max(bt.add_minutes(spec, ticket.created_at, resolve_minutes), responded), now)
                ticket.resolved_at = ticket.sla_paused_at = resolved
                messages.append((MessageKind.REPLY, resolved, rng.choice(CLOSING), ticket.owner))
                if status == "closed":
                    ticket.closed_at = min(resolved + dt.timedelta(days=7), now)
            elif status == "pending":
                ticket.sla_paused_at = responded
            if rng.random() < 0.3 and responded is not None:
                messages.append((MessageKind.NOTE, responded, "已联系客户确认现场情况。", ticket.owner))
            sla._refresh(ticket, spec, target)
            ticket.first_response_breached = bool(
                (responded and responded > first_due) or (responded is None and first_due <= now)
            )
            ticket.resolution_breached = bool(
                ticket.resolution_due
                and (
                    (ticket.resolved_at and ticket.resolved_at > ticket.resolution_due)
                    or (
                        ticket.resolved_at is None
                        and ticket.sla_paused_at is None
                        and ticket.resolution_due <= now
                    )
                )
            )
            ticket.first_response_warned = ticket.first_response_breached
            ticket.resolution_warned = ticket.resolution_breached
            sla._refresh(ticket, spec, target)
            if ticket.sla_check_at is not None and ticket.sla_check_at < now - dt.timedelta(hours=1):
                ticket.sla_check_at = None  # history: the scheduler need not replay it
            ticket.message_count = len(messages)
            ticket.last_activity_at = max(m[1] for m in messages)
            ticket_rows.append(ticket)
            for clock, flag, due in (
                ("first_response", ticket.first_response_breached, first_due),
                ("resolution", ticket.resolution_breached, ticket.resolution_due),
            ):
                if flag:
                    events.append(
                        SlaEvent(ticket_id=ticket.pk, clock=clock, kind="breach", due_at=due, at=due)
                    )
            for kind, when, body, author in messages:
                message_rows.append((ticket, kind, when, body, author))
            timeline.append(ticket)
    Ticket.objects.bulk_create(ticket_rows, batch_size=500)
    TicketMessage.objects.bulk_create(
        [
            TicketMessage(
                ticket_id=t.pk,
                kind=kind,
                author=author,
                from_name=t.requester_name if kind == MessageKind.CUSTOMER else str(author or ""),
                from_email=t.requester_email if kind == MessageKind.CUSTOMER else "",
                to=[t.requester_email] if kind == MessageKind.REPLY and t.requester_email else [],
                body=body,
                delivery_status=DeliveryStatus.SENT if kind == MessageKind.REPLY else DeliveryStatus.NONE,
                sent_at=when if kind == MessageKind.REPLY else None,
                created_at=when,
                updated_at=when,
            )
            for t, kind, when, body, author in message_rows
            if not (kind == MessageKind.REPLY and not t.requester_email)
        ],
        batch_size=1000,
    )
    SlaEvent.objects.bulk_create(events, batch_size=1000)
    Interaction.objects.bulk_create(
        [
            Interaction(
                customer_id=t.contact_id or t.customer_id,
                account_id=t.customer_id,
                channel="event",
                direction="internal",
                subject=f"工单 #{t.pk} 已创建：{t.subject}"[:200],
                occurred_at=t.created_at,
                related_model="service.ticket",
                related_id=f"{t.pk}.opened",
                url=f"/service/tickets/{t.pk}/",
                created_at=t.created_at,
                updated_at=t.created_at,
            )
            for t in timeline
        ],
        batch_size=1000,
    )
    bulk.reset_sequences(Ticket, TicketMessage, SlaEvent, Interaction)
    return len(ticket_rows)
