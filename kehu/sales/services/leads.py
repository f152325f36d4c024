"""Lead use cases: capture (by hand, API, import, campaign hook), assignment, status, activities.

Writes go through kehu.core.records; assignment by rules is the system's decision and is recorded as its own
audit entry (TRANSFER) rather than as the creator's input, so a rep without the transfer right can still
capture a lead that the rules give to a colleague."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit, records
from kehu.core.access import Access
from kehu.core.models import AuditAction, User

from ..models import LEAD_TRANSITIONS, Lead, LeadActivity, LeadSource, LeadStatus
from . import assignment

# channels that count as the first contact with the lead (a note does not)
CONTACT_CHANNELS = {"call", "email", "sms", "wechat", "visit", "meeting", "letter", "fax"}


# points of the default lead score (0-100) from the qualification fields (BANT) and the contact details
SCORE_TIMEFRAME = {"now": 25, "quarter": 20, "half_year": 10, "year": 5}


def lead_score_of(data: dict) -> int:
    """The default score of a captured lead when none is given: budget known 25, talks to the decision maker
    20, purchase timeframe up to 25, need described 15, reachable by phone 10 and by email 5."""
    score = 0
    if data.get("budget"):
        score += 25
    if data.get("decision_maker"):
        score += 20
    score += SCORE_TIMEFRAME.get(data.get("timeframe") or "", 0)
    if (data.get("need") or "").strip():
        score += 15
    if data.get("phone"):
        score += 10
    if data.get("email"):
        score += 5
    return min(score, 100)


def lead_create(*, data: dict, by, use_rules: bool = False, note: str = "") -> Lead:
    """Capture a lead as `by` (the owner defaults to `by`). With `use_rules` (web forms, API imports, campaign
    responses) the assignment rules choose the owner; when no rule matches, the owner stays `by`. The SLA
    deadline for the first contact starts at assignment. An `external_ref` already stored returns the stored
    lead (idempotent capture from other systems, also under races)."""
    if data.get("score") in (None, ""):
        data = {**data, "score": lead_score_of(data)}
    ref = (data.get("external_ref") or "").strip()
    if ref:
        existing = Lead.objects.filter(external_ref=ref).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            lead = records.record_create(model=Lead, data=data, by=by, note=note)
            if use_rules:
                _assign_by_rules(lead, by=by)
            else:
                _start_sla(lead, rule=None)
    except IntegrityError:
        existing = Lead.objects.filter(external_ref=ref).first() if ref else None
        if existing is None:
            raise
        return existing
    return lead


def lead_capture_system(*, data: dict, source: str, note: str, fallback_owner: User) -> Lead:
    """Capture a lead that no signed-in user entered (public web form, campaign response hook): validated
    like any lead, audited as 'system', assigned by the rules, else to `fallback_owner`."""
    with transaction.atomic():
        lead = Lead(**{"score": lead_score_of(data), **data}, source=source, owner=fallback_owner)
        lead.full_clean(validate_unique=False, validate_constraints=False)
        lead.save()
        after = audit.snapshot(lead)
        audit.log(
            actor=None,
            action=AuditAction.CREATE,
            instance=lead,
            changes={k: [None, v] for k, v in after.items() if v not in (None, "", [], {})},
            note=note,
        )
        _assign_by_rules(lead, by=None)
    return lead


def campaign_response_capture(*, data: dict, campaign_ref: str, fallback_owner: User) -> Lead:
    """Hook for the marketing app: a campaign response becomes a lead (source 'campaign')."""
    return lead_capture_system(
        data={**data, "campaign_ref": campaign_ref},
        source=LeadSource.CAMPAIGN,
        note=_("campaign response"),
        fallback_owner=fallback_owner,
    )


def _start_sla(lead: Lead, *, rule, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    due = now + dt.timedelta(hours=assignment.sla_hours(rule))
    Lead.objects.filter(pk=lead.pk).update(
        assigned_at=now, first_contact_due=due, sla_reminded_at=None, sla_escalated_at=None
    )
    lead.assigned_at, lead.first_contact_due = now, due


def _assign_by_rules(lead: Lead, *, by) -> None:
    picked = assignment.pick(lead=lead)
    if picked is None:
        _start_sla(lead, rule=None)
        return
    previous = lead.owner
    Lead.objects.filter(pk=lead.pk).update(owner=picked.user, assignment_rule=picked.rule)
    lead.owner, lead.assignment_rule = picked.user, picked.rule
    _start_sla(lead, rule=picked.rule)
    if previous is None or previous.pk != picked.user.pk:
        audit.log(
            actor=by,
            action=AuditAction.TRANSFER,
            instance=lead,
            changes={"owner": [str(previous) if previous else None, str(picked.user)]},
            note=_("assigned by rule %(rule)s") % {"rule": picked.rule},
        )


def lead_assign(*, lead: Lead, by, to_user: User | None = None, expected_version: int | None = None) -> Lead:
    """Reassign a lead: to `to_user` (needs the transfer right, through the record service) or, without
    `to_user`, by the assignment rules. The first-contact SLA restarts for the new owner."""
    if lead.status == LeadStatus.CONVERTED:
        raise ValidationError({"owner": _("A converted lead cannot be reassigned.")})
    with transaction.atomic():
        if to_user is not None:
            lead = records.record_update(
                instance=lead, data={"owner": to_user}, by=by, expected_version=expected_version
            )
            Lead.objects.filter(pk=lead.pk).update(assignment_rule=None)
            _start_sla(lead, rule=None)
            return lead
        locked, access = records.lock_for_write(lead, by)
        if not access.can("transfer", Lead):
            raise PermissionDenied(_("You do not have the transfer right on leads."))
        if expected_version is not None and locked.version != expected_version:
            from kehu.core.exceptions import StaleRecordError

            raise StaleRecordError(
                locked, expected_version, audit.changes_since("sales.lead", locked.pk, expected_version)
            )
        Lead.objects.filter(pk=locked.pk).update(version=F("version") + 1, updated_at=timezone.now())
        locked.version += 1
        _assign_by_rules(locked, by=by)
        return locked


def lead_update(*, lead: Lead, data: dict, by, expected_version: int | None) -> Lead:
    """Edit a lead. A status change must follow the lead flow (new → working → qualified / disqualified with
    a reason; converted only through lead_convert); moving to 'working' counts as the first contact."""
    new_status = data.get("status")
    if new_status is not None and new_status != lead.status:
        allowed = LEAD_TRANSITIONS.get(LeadStatus(lead.status), set())
        if new_status not in allowed:
            raise ValidationError(
                {
                    "status": _("A lead cannot go from %(a)s to %(b)s.")
                    % {"a": LeadStatus(lead.status).label, "b": LeadStatus(new_status).label}
                }
            )
    with transaction.atomic():
        updated = records.record_update(instance=lead, data=data, by=by, expected_version=expected_version)
        if updated.status == LeadStatus.WORKING:
            _mark_contacted(updated)
    return updated


def lead_disqualify(
    *, lead: Lead, reason: str, by, note: str = "", expected_version: int | None = None
) -> Lead:
    return lead_update(
        lead=lead,
        data={"status": LeadStatus.DISQUALIFIED, "disqualify_reason": reason, "disqualify_note": note},
        by=by,
        expected_version=expected_version,
    )


def _mark_contacted(lead: Lead, at: dt.datetime | None = None) -> None:
    at = at or timezone.now()
    if Lead.objects.filter(pk=lead.pk, first_contacted_at__isnull=True).update(first_contacted_at=at):
        lead.first_contacted_at = at


def lead_activity_log(*, lead: Lead, data: dict, by) -> LeadActivity:
    """Log a call/email/visit/note on a lead (the lead's history; it moves to the customer's timeline at
    conversion). A contact channel stops the first-contact SLA clock and moves a new lead to 'working'."""
    if lead.status == LeadStatus.CONVERTED:
        raise ValidationError({"lead": _("The lead is converted: log on the customer instead.")})
    with transaction.atomic():
        activity = records.record_create(model=LeadActivity, data={**data, "lead": lead, "user": by}, by=by)
        if activity.channel in CONTACT_CHANNELS:
            _mark_contacted(lead, min(activity.occurred_at, timezone.now()))
            if lead.status == LeadStatus.NEW:
                Lead.objects.filter(pk=lead.pk, status=LeadStatus.NEW).update(
                    status=LeadStatus.WORKING, version=F("version") + 1, updated_at=timezone.now()
                )
                audit.log(
                    actor=by, action=AuditAction.UPDATE, instance=lead, changes={"status": ["new", "working"]}
                )
    return activity


def lead_score_set(*, lead: Lead, score: int, by, expected_version: int | None = None) -> Lead:
    if not 0 <= int(score) <= 100:
        raise ValidationError({"score": _("A score lies between 0 and 100.")})
    return records.record_update(
        instance=lead, data={"score": int(score)}, by=by, expected_version=expected_version
    )


def can_convert(user, lead: Lead) -> bool:
    access = Access.of(user)
    return lead.status not in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED) and access.can("change", Lead)
