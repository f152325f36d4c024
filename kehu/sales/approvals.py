"""Quotes and contracts on the approval engine (ADR 0018): their record types, and the discount approver.

The engine keeps who decides and in which order (chains configured in the UI); these callbacks write the
document's own status when a request ends, under the document's row lock inside the deciding transaction."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.approvals.kinds import ApprovalType, register_approver, register_type


def discount_approvers(requester, step: dict) -> list:
    """The approver role of the requester's discount limit (its users, not the requester), else the
    requester's manager (walking up the departments); the engine falls back to the superusers."""
    from kehu.approvals.services import manager_of

    from .services.documents import users_with_role
    from .services.quotes import discount_limits

    limits = discount_limits(requester)
    if limits.approver_role is not None:
        users = [u for u in users_with_role(limits.approver_role.pk) if u.pk != requester.pk]
        if users:
            return users
    manager = manager_of(requester)
    return [manager] if manager else []


def _quote_discount(quote):
    from .models import QuoteLine
    from .services.quotes import _needs_approval

    _required, max_line, total = _needs_approval(quote, list(QuoteLine.objects.filter(quote=quote)))
    return max(max_line, total)


def _quote_decided(approve: bool):
    def done(quote, request, by, comment: str) -> None:
        from .models import ApprovalDecision, QuoteApproval, QuoteStatus
        from .services.documents import write_locked

        now = timezone.now()
        QuoteApproval.objects.filter(quote=quote, decision=ApprovalDecision.PENDING).update(
            decision=ApprovalDecision.APPROVED if approve else ApprovalDecision.REJECTED,
            comment=comment,
            decided_by=by,
            decided_at=now,
        )
        changes: dict = {"status": QuoteStatus.APPROVED if approve else QuoteStatus.REJECTED}
        if approve:
            changes.update(approved_by=by, approved_at=now)
        write_locked(quote, by, changes, note=(_("approved") if approve else _("rejected")) + f": {comment}")

    return done


def _contract_decided(approve: bool):
    def done(contract, request, by, comment: str) -> None:
        from .models import ContractStatus
        from .services.documents import write_locked

        changes: dict = {"status": ContractStatus.APPROVED if approve else ContractStatus.REJECTED}
        if approve:
            changes.update(approved_by=by, approved_at=timezone.now())
        write_locked(contract, by, changes, note=comment.strip()[:300])

    return done


def register_all() -> None:
    register_approver("discount_approver", discount_approvers)
    register_type(
        ApprovalType(
            label="sales.quote",
            amount=lambda q: q.total,
            amount_field="total",
            discount=_quote_discount,
            discount_field="discount_amount",
            summary_fields=[
                "number",
                "title",
                "customer",
                "owner",
                "total",
                "discount_amount",
                "valid_until",
            ],
            default_kind="discount_approver",
            awaiting={"status": "pending"},
            on_approved=_quote_decided(True),
            on_rejected=_quote_decided(False),
        )
    )
    register_type(
        ApprovalType(
            label="sales.contract",
            amount=lambda c: c.amount,
            amount_field="amount",
            summary_fields=["number", "title", "customer", "owner", "amount", "start_date", "end_date"],
            default_kind="discount_approver",
            awaiting={"status": "pending"},
            on_approved=_contract_decided(True),
            on_rejected=_contract_decided(False),
        )
    )
