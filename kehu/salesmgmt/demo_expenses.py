"""Demo expenses (ADR 0016): the expense categories and, for every demo rep, a few expenses of the last
weeks — two approved by their approver, one awaiting approval, one draft — some tied to a visit or an
opportunity (and so on the customer's timeline), each with a small receipt."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal

from django.utils import timezone

from kehu.sales.models import Opportunity

from .models import Expense, ExpenseCategory, Visit
from .services import expenses

CATEGORIES = [
    "差旅 Travel",
    "客户招待 Meals with customers",
    "市内交通 Local transport",
    "礼品 Gifts",
    "其他 Other",
]
#: a 1×1 PNG: the receipt photo of the demo
RECEIPT = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def seed(ctx) -> str:
    rng = ctx["rng"]
    users = ctx["org"].users
    cats = [
        ExpenseCategory.objects.get_or_create(name=n, defaults={"position": i})[0]
        for i, n in enumerate(CATEGORIES)
    ]
    today = timezone.localdate()
    made = 0
    for username in ("rep1", "rep2", "rep3", "rep4"):
        rep = users.get(username)
        if rep is None:
            continue
        opp = Opportunity.objects.filter(owner=rep).order_by("id").first()
        visit = Visit.objects.filter(owner=rep).order_by("id").first()
        for i, (status, days) in enumerate(
            (("approved", 12), ("approved", 6), ("submitted", 3), ("draft", 1))
        ):
            day = max(today - dt.timedelta(days=days), today.replace(day=1))
            data = {
                "category": cats[(i + made) % len(cats)],
                "amount": Decimal(rng.randrange(3000, 120000)) / 100,
                "currency": "CNY",
                "spent_on": day,
                "description": ["高铁 北京—天津 Train to Tianjin", "客户午餐 Lunch with the customer",
                                "出租车 Taxi to the customer", "资料打印 Printing"][i],
            }  # fmt: skip
            if i == 1 and opp is not None:
                data["opportunity"] = opp
            if i == 2 and visit is not None:
                data["visit"] = visit
            expense = expenses.expense_create(
                data=data, receipts=[(f"receipt-{i + 1}.png", RECEIPT)], submit=status != "draft", by=rep
            )
            if status == "approved":
                from kehu.approvals.selectors import record_requests

                request = record_requests(expense).first()
                task = request.tasks.select_related("approver").first() if request else None
                approver = task.approver if task else None
                if approver is not None:
                    expenses.expense_decide(expense=expense, approve=True, comment="", by=approver)
            made += 1
    n_approved = Expense.objects.filter(status="approved").count()
    return f"{made} expenses ({n_approved} approved)"
