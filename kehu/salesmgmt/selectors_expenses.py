"""Scoped reads of expenses: every expense page and the API start here (ADR 0016)."""

from __future__ import annotations

from django.db.models import QuerySet

from kehu.core.selectors import get_visible, scoped
from kehu.sales.models import Opportunity

from .models import Expense, ExpenseCategory, ExpensePeriodClose, ExpenseReceipt, ExpenseStatus, Visit


def expense_list(*, user, status: str = "", owner=None) -> QuerySet[Expense]:
    qs = scoped(Expense, user=user).select_related("category", "owner", "opportunity", "visit")
    if status:
        qs = qs.filter(status=status)
    if owner is not None:
        qs = qs.filter(owner=owner)
    return qs.order_by("-spent_on", "-id")


def expense_get(*, user, pk) -> Expense:
    return get_visible(
        Expense.objects.select_related("category", "owner", "opportunity", "visit", "customer", "decided_by"),
        user=user,
        pk=pk,
    )


def expense_receipts(*, user, expense: Expense) -> QuerySet[ExpenseReceipt]:
    return scoped(ExpenseReceipt, user=user).filter(expense=expense).order_by("uploaded_at", "id")


def receipt_get(*, user, pk) -> ExpenseReceipt:
    return get_visible(ExpenseReceipt.objects.select_related("expense"), user=user, pk=pk)


def expenses_to_decide(*, user) -> list[Expense]:
    """Expenses awaiting approval whose current step waits for `user` on the approval engine (theirs or
    delegated to them; within what they may see; never their own). Two queries whatever the rows."""
    from kehu.approvals.selectors import pending_object_ids

    ids = pending_object_ids(user=user, model="salesmgmt.expense")
    if user.is_superuser:
        rows = expense_list(user=user, status=ExpenseStatus.SUBMITTED).exclude(owner=user)
    else:
        rows = expense_list(user=user, status=ExpenseStatus.SUBMITTED).filter(pk__in=[int(i) for i in ids])
    return list(rows.order_by("submitted_at", "id"))


def categories_active() -> QuerySet[ExpenseCategory]:
    return ExpenseCategory.objects.filter(active=True).order_by("position", "name")


def tie_opportunities(*, user, owner) -> QuerySet[Opportunity]:
    """Opportunities an expense of `owner` may be tied to: the owner's, within what `user` may see."""
    return (
        scoped(Opportunity, user=user).filter(owner=owner).select_related("customer").order_by("-created_at")
    )


def tie_visits(*, user, owner) -> QuerySet[Visit]:
    return scoped(Visit, user=user).filter(owner=owner).select_related("customer").order_by("-planned_start")


def closed_months() -> QuerySet[ExpensePeriodClose]:
    return ExpensePeriodClose.objects.select_related("closed_by").order_by("-month")
