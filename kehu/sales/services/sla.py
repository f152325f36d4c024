"""First-contact SLA of leads: a reminder to the owner before the deadline and an escalation to the owner's
manager after it. Run by the `sales_scheduler` command (started by `make run`) through django-tasks.

Each lead is claimed with a conditional UPDATE (`sla_reminded_at IS NULL` / `sla_escalated_at IS NULL`) in the
transaction that writes the notification, so any number of workers notify once; emails go after the commit."""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core.models import Department, User
from kehu.core.services import notify
from kehu.interactions.services import _user_zone

from ..models import OPEN_LEAD_STATUSES, Lead

log = logging.getLogger(__name__)


def manager_of(user: User) -> User | None:
    """The manager to escalate to: the manager of the user's department, walking up the tree past
    departments without a manager or managed by the user themself."""
    dept_id = user.department_id
    seen: set[int] = set()
    while dept_id and dept_id not in seen:
        seen.add(dept_id)
        row = Department.objects.filter(pk=dept_id).values("manager_id", "parent_id").first()
        if row is None:
            return None
        if row["manager_id"] and row["manager_id"] != user.pk:
            return User.objects.filter(pk=row["manager_id"], is_active=True).first()
        dept_id = row["parent_id"]
    return None


def _pending(now: dt.datetime):
    return Lead.objects.filter(
        status__in=OPEN_LEAD_STATUSES,
        first_contacted_at__isnull=True,
        first_contact_due__isnull=False,
        owner__isnull=False,
    )


def lead_sla_scan(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Send due SLA reminders and escalations; returns how many of each were sent."""
    now = now or timezone.now()
    remind_before = dt.timedelta(minutes=settings.KEHU_LEAD_SLA_REMIND_MINUTES)
    sent = {"reminded": 0, "escalated": 0}
    reminders = list(
        _pending(now)
        .filter(
            sla_reminded_at__isnull=True,
            first_contact_due__lte=now + remind_before,
            first_contact_due__gt=now,
        )
        .select_related("owner")
        .order_by("first_contact_due")[:limit]
    )
    for lead in reminders:
        owner = lead.owner
        if owner is None:
            continue
        with (
            translation.override(owner.language or settings.LANGUAGE_CODE),
            timezone.override(_user_zone(owner)),
        ):
            title = _("Contact the new lead %(lead)s by %(due)s") % {
                "lead": lead,
                "due": timezone.localtime(lead.first_contact_due).strftime("%Y-%m-%d %H:%M"),
            }
        if _claim_and_notify(
            lead,
            "sla_reminded_at",
            now,
            owner,
            title,
            f"lead-sla-reminder:{lead.pk}:{lead.first_contact_due}",
        ):
            sent["reminded"] += 1
    overdue = list(
        _pending(now)
        .filter(sla_escalated_at__isnull=True, first_contact_due__lte=now)
        .select_related("owner")
        .order_by("first_contact_due")[:limit]
    )
    for lead in overdue:
        owner = lead.owner
        if owner is None:
            continue
        manager = manager_of(owner)
        recipient = manager or owner
        with (
            translation.override(recipient.language or settings.LANGUAGE_CODE),
            timezone.override(_user_zone(recipient)),
        ):
            title = _("SLA missed: %(owner)s has not contacted the lead %(lead)s (due %(due)s)") % {
                "owner": owner,
                "lead": lead,
                "due": timezone.localtime(lead.first_contact_due).strftime("%Y-%m-%d %H:%M"),
            }
        if _claim_and_notify(
            lead,
            "sla_escalated_at",
            now,
            recipient,
            title,
            f"lead-sla-escalation:{lead.pk}:{lead.first_contact_due}",
        ):
            sent["escalated"] += 1
    return sent


def _claim_and_notify(lead: Lead, field: str, now: dt.datetime, user: User, title: str, key: str) -> bool:
    url = reverse("sales:lead", args=[lead.pk])
    with transaction.atomic():
        claimed = Lead.objects.filter(pk=lead.pk, **{f"{field}__isnull": True}).update(**{field: now})
        if not claimed:
            return False
        notify(user=user, title=title, url=url, dedup_key=key)
        if user.email:
            transaction.on_commit(partial(_mail, lead.pk, user.email, title, settings.KEHU_BASE_URL + url))
    return True


def _mail(lead_id: int, recipient: str, subject: str, body: str) -> None:
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[recipient])
    except OSError:
        log.warning("SLA email for lead %s could not be sent", lead_id)
