"""Demo workflow rules (issue #13 item 1): a few rules an administrator of the demo company would keep, owned by
the admin user. Seeded last (after every app's data), so they fire on what users do in the demo, not on the
seed itself."""

from __future__ import annotations

from .models import Rule
from .services import rule_create

DEMO_RULES = [
    {
        "name": "上海新客户回访 Follow up new Shanghai customers",
        "description": "新建的上海客户：两天内由负责人回访。",
        "model": "customers.customer",
        "trigger": "created",
        "trigger_config": {},
        "conditions": {"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "上海"}]},
        "actions": [
            {"type": "create_task", "title": "回访 {{ record.name }}", "notes": "", "due_days": 2,
             "assign_to": "record_owner"},
        ],
        "active": True,
    },
    {
        "name": "成交客户打标签 Tag customers who bought",
        "description": "客户阶段变为“客户”时：加标签并通知负责人。",
        "model": "customers.customer",
        "trigger": "field_changed",
        "trigger_config": {"field": "lifecycle_stage", "to": "customer"},
        "conditions": {},
        "actions": [
            {"type": "add_tag", "tags": ["成交客户"]},
            {"type": "notify", "to": ["record_owner"], "title": "{{ record.name }} 已成为客户",
             "body": "{{ record.url }}"},
        ],
        "active": True,
    },
    {
        "name": "保修到期提醒 Warranty ending",
        "description": "保修到期前 30 天提醒负责人联系客户续保（示例，默认关闭）。",
        "model": "products.installedproduct",
        "trigger": "date_reached",
        "trigger_config": {"field": "warranty_end", "days_before": 30},
        "conditions": {},
        "actions": [
            {"type": "create_task", "title": "续保联系 {{ record.serial_number }}", "notes": "", "due_days": 7,
             "assign_to": "rule_owner"},
        ],
        "active": False,
    },
]  # fmt: skip


def seed(ctx) -> str:
    admin = ctx["org"].users.get("admin")
    if admin is None:
        return "no admin user: no demo rules"
    made = 0
    for data in DEMO_RULES:
        if not Rule.objects.filter(name=data["name"]).exists():
            rule_create(data=dict(data), by=admin)
            made += 1
    return f"{made} workflow rules"
