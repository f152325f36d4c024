"""Campaigns on the approval engine (ADR 0018 addendum, ADR 0015): the four-eyes approval before launch.

The approvers of a campaign (`campaign_approver`) are the users whose roles may change campaigns and whose
write scope covers this one, never its owner (the engine never lets a requester decide their own request).
The default chain (`campaign-approval`, migration approvals 0003) has one step of them; an administrator may
add steps (e.g. the marketing department's head above a budget). The callbacks write the campaign's status
under its row lock inside the deciding transaction: approved → "Approved" (launchable), rejected → back to
"Draft" (sent back with the approver's comment)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.approvals.kinds import ApprovalType, register_approver, register_type


def campaign_approvers(requester, step: dict, record=None) -> list:
    """Active users with the change right on campaigns whose write scope covers the campaign, not its owner."""
    from kehu.core.access import Access
    from kehu.core.models import User

    candidates = (
        User.objects.filter(
            is_active=True,
            roles__grants__model="marketing.campaign",
            roles__grants__can_view=True,
            roles__grants__can_change=True,
        )
        .exclude(pk=getattr(requester, "pk", None))
        .distinct()
        .order_by("id")
    )
    if record is None:
        return list(candidates)
    return [u for u in candidates if Access(u).can_write_record(record)]


def _decided(approve: bool):
    def done(campaign, request, by, comment: str) -> None:
        from kehu.core import audit
        from kehu.core.models import AuditAction

        from .models import Campaign, CampaignStatus

        now = timezone.now()
        status = CampaignStatus.APPROVED if approve else CampaignStatus.DRAFT
        values: dict = {"status": status, "version": campaign.version + 1, "updated_at": now}
        if approve:
            values.update(approved_by=by, approved_at=now)
        Campaign.objects.filter(pk=campaign.pk).update(**values)
        changes = {"status": [campaign.status, status]}
        if approve:
            changes["approved_by"] = [None, str(by)]
        for key, value in values.items():
            setattr(campaign, key, value)
        note = (_("approved") if approve else _("sent back")) + (f": {comment}" if comment else "")
        audit.log(actor=by, action=AuditAction.UPDATE, instance=campaign, changes=changes, note=note)

    return done


def register_all() -> None:
    register_approver("campaign_approver", campaign_approvers, with_record=True)
    register_type(
        ApprovalType(
            label="marketing.campaign",
            amount=lambda c: c.budget,
            amount_field="budget",
            customer=lambda c: None,
            summary_fields=["name", "owner", "status", "start_date", "end_date", "budget", "objective"],
            default_kind="campaign_approver",
            awaiting={"status": "pending_approval"},
            on_approved=_decided(True),
            on_rejected=_decided(False),
        )
    )
