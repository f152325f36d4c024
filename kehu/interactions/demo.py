"""Demo interactions and tasks: bulk inserts, deterministic, bilingual subjects."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from kehu.core import bulk
from kehu.customers.models import Customer

from .models import Interaction, Task

SUBJECTS = {
    "call": [
        "电话回访：设备运行情况",
        "Follow-up call about the quote",
        "来电咨询保修政策",
        "Called to confirm delivery date",
    ],
    "email": ["发送产品资料", "Sent the price list", "回复技术问题", "Quote revision sent"],
    "visit": ["上门拜访：需求调研", "On-site visit: installation check", "季度客户拜访"],
    "meeting": ["方案评审会议", "Kick-off meeting", "年度合作洽谈"],
    "wechat": ["微信沟通订单进度", "WeChat: sent brochure", "微信回复售后问题"],
    "sms": ["短信提醒：保养到期", "SMS: delivery notice"],
    "note": ["客户对价格较敏感", "Prefers contact in the afternoon", "决策人为采购总监"],
    "web_form": ["官网留言：询价", "Web form: demo request"],
    "letter": ["寄送合同原件"],
    "fax": ["传真确认订单"],
}
CHANNELS = [
    c for c, subjects in SUBJECTS.items() for _ in range(4 if c in ("call", "email", "wechat") else 1)
]
TASKS = [
    "回访客户满意度",
    "Send revised quote",
    "安排上门安装",
    "Prepare renewal offer",
    "确认付款进度",
    "Call back about demo",
]


def seed(ctx) -> str:
    rng = ctx["rng"]
    ids = ctx["customer_ids"]
    now = timezone.now()
    # ordered by id: the random draws must meet the customers in the same order on every database
    chosen = (
        Customer.objects.filter(pk__in=ids)
        if len(ids) < 5000
        else Customer.objects.filter(pk__gte=min(ids), pk__lte=max(ids))
    )
    rows = list(chosen.order_by("pk").values_list("pk", "account_id", "owner_id"))
    count = len(rows) * 4
    next_id = iter(bulk.next_ids(Interaction, count))
    fields = [
        "id",
        "customer",
        "account",
        "channel",
        "direction",
        "subject",
        "body",
        "occurred_at",
        "duration_minutes",
        "user",
        "related_model",
        "related_id",
        "url",
        "external_ref",
        "created_at",
        "updated_at",
        "version",
    ]

    def interactions():
        for pk, account_id, owner_id in rows:
            for _ in range(4):
                channel = rng.choice(CHANNELS)
                when = now - dt.timedelta(minutes=rng.randrange(60 * 24 * 540))
                direction = "internal" if channel == "note" else rng.choice(("out", "out", "in"))
                duration = rng.randrange(3, 90) if channel in ("call", "visit", "meeting") else None
                yield (
                    next(next_id),
                    pk,
                    account_id or pk,
                    channel,
                    direction,
                    rng.choice(SUBJECTS[channel]),
                    "",
                    when,
                    duration,
                    owner_id,
                    "",
                    "",
                    "",
                    None,
                    when,
                    when,
                    1,
                )

    made = bulk.insert_rows(Interaction, fields, interactions())
    task_fields = [
        "title",
        "notes",
        "customer",
        "due_at",
        "remind_at",
        "status",
        "priority",
        "owner",
        "created_at",
        "updated_at",
        "version",
    ]

    def tasks_rows():
        # ~1 open task per 20 customers for their owner; about a quarter overdue; future ones remind an hour
        # before they are due (so the reminder worker has work in the demo, none of it already past)
        for pk, _account, owner_id in rows[::20]:
            due = now + dt.timedelta(hours=rng.randrange(-72, 240))
            remind = due - dt.timedelta(hours=1) if due - dt.timedelta(hours=1) > now else None
            priority = rng.choice(("low", "normal", "normal", "high"))
            yield (rng.choice(TASKS), "", pk, due, remind, "open", priority, owner_id, now, now, 1)

    tasks = bulk.insert_rows(Task, task_fields, tasks_rows())
    bulk.reset_sequences(Interaction, Task)
    return f"{made} interactions, {tasks} tasks"
