"""Expenses on the approval engine (ADR 0018, closes the gap of issue #17): their own record type, whose
default route is the owner's manager — not the rep's discount approver."""

from __future__ import annotations

from kehu.approvals.kinds import ApprovalType, register_type


def _decided(approve: bool):
    def done(expense, request, by, comment: str) -> None:
        from .services.expenses import expense_decided

        expense_decided(expense, approve, by, comment)

    return done


def _check(expense) -> None:
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    from .models import ExpenseStatus
    from .models.expenses import month_is_closed
    from .services.expenses import _closed

    if expense.status != ExpenseStatus.SUBMITTED:
        raise ValidationError({"status": [_("This expense is not awaiting approval.")]})
    if month_is_closed(expense.spent_on):
        raise _closed(expense.spent_on)


def register_all() -> None:
    register_type(
        ApprovalType(
            label="salesmgmt.expense",
            amount=lambda e: e.amount,
            amount_field="amount",
            # the amount is left out of the title: a field right may hide it from the reader (ADR 0009)
            title=lambda e: f"{e.category} {e.spent_on:%Y-%m-%d}",
            summary_fields=["category", "amount", "currency", "spent_on", "description", "owner", "customer"],
            default_kind="manager",
            awaiting={"status": "submitted"},
            check=_check,
            on_approved=_decided(True),
            on_rejected=_decided(False),
        )
    )
