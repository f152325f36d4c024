"""Demo approval configuration (runs before the apps that submit approvals): the default chains, a two-step
chain for large expenses (the manager, then the executive) and one for large quotes, and a delegation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from kehu.core.models import Role

from .models import ApprovalChain, ApprovalStep, Delegation
from .services import ensure_default_chains


def seed(ctx) -> str:
    ensure_default_chains()
    users = ctx["org"].users
    executive = Role.objects.filter(code="executive").first()
    made = 0
    if executive is not None:
        big = ApprovalChain.objects.create(
            code="expense-large",
            name="大额费用 Large expense",
            model="salesmgmt.expense",
            priority=10,
            min_amount=Decimal("1000"),
        )
        ApprovalStep.objects.create(chain=big, position=1, name="直属经理 Manager", approver_kind="manager")
        ApprovalStep.objects.create(
            chain=big, position=2, name="总经理 Executive", approver_kind="role", role=executive,
            remind_after_hours=24, escalate_after_hours=72,
        )  # fmt: skip
        quote = ApprovalChain.objects.create(
            code="quote-strategic",
            name="战略折扣 Strategic discount",
            model="sales.quote",
            priority=10,
            min_discount=Decimal("20"),
        )
        ApprovalStep.objects.create(
            chain=quote, position=1, name="折扣审批人 Discount approver", approver_kind="discount_approver",
            remind_after_hours=8,
        )  # fmt: skip
        ApprovalStep.objects.create(
            chain=quote, position=2, name="总经理 Executive", approver_kind="role", role=executive
        )
        made = 2
    manager, exec_user = users.get("manager"), users.get("exec")
    if manager is not None and exec_user is not None:
        start = timezone.localdate() + dt.timedelta(days=14)
        Delegation.objects.create(
            user=manager, delegate=exec_user, starts_on=start, ends_on=start + dt.timedelta(days=6),
            note="年假 Annual leave",
        )  # fmt: skip
    return f"{ApprovalChain.objects.count()} approval chains ({made} demo), 1 delegation"
