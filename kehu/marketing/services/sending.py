"""The send path (ADR 0015): claim a batch of due messages, check every contact rule under per-customer locks
and reserve the day, hand each message to SMTP, mark it sent, put it on the timeline.

Exactly once, across workers and crashes:
1. **Claim** — ``SELECT … FOR UPDATE SKIP LOCKED`` picks due rows (queued, held past their slot, or sending with
   an expired lease: a dead worker's) and marks them ``sending`` with this worker's token and a lease, committed.
2. **Check and reserve** — one transaction: the customers' ``ContactProfile`` rows are locked ``FOR UPDATE``
   in ascending id order (no deadlock between workers), consent, unsubscribe and the do-not-contact list are
   read, then the day: a ``ContactLedger`` row (unique per customer and local day) is inserted for every
   message allowed now. Held messages get their next slot, dropped ones their reason; every hold is counted.
3. **Send** — over one SMTP connection; after each message is accepted its row becomes ``sent`` at once
   (fenced by the claim token). A worker killed before that leaves ``sending`` rows whose lease expires; the
   next worker re-claims them and, finding their ledger reservation, sends them without re-reserving (the hard
   rules — consent, unsubscribe, do-not-contact — are checked again). Rows already ``sent`` are never
   claimed again. The only window for a duplicate is between the SMTP server's "250 OK" and that UPDATE.
4. **Timeline** — the sent rows become timeline entries in one idempotent bulk insert; rows sent but not yet
   logged (a crash between 3 and 4) are logged by the next run.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.customers.models import ConsentMethod, ConsentStatus, Customer
from kehu.interactions.models import Direction, Interaction, InteractionChannel

from .. import contact_rules as cr
from .. import emails
from ..models import (
    CampaignStatus,
    ContactLedger,
    ContactProfile,
    DoNotContact,
    Message,
    MessageStatus,
    RuleHold,
)

LEASE_SECONDS = 300
HARD_RULES = (cr.Rule.CONSENT, cr.Rule.UNSUBSCRIBED, cr.Rule.DO_NOT_CONTACT, cr.Rule.NO_ADDRESS)


@dataclass
class Outcome:
    claimed: int = 0
    sent: int = 0
    held: int = 0
    dropped: int = 0
    failed: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)

    def add(self, other: Outcome) -> None:
        for name in ("claimed", "sent", "held", "dropped", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for rule, n in other.by_rule.items():
            self.by_rule[rule] = self.by_rule.get(rule, 0) + n


def messages_claim(*, worker: str, limit: int, now: dt.datetime | None = None, lease: int = LEASE_SECONDS):
    """Claim up to ``limit`` due messages of running campaigns for ``worker`` (committed on return)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = (
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(campaign__status=CampaignStatus.RUNNING)
            .filter(
                Q(status__in=[MessageStatus.QUEUED, MessageStatus.HELD], not_before__lte=now)
                | Q(status=MessageStatus.SENDING, lease_until__lt=now)
            )
            .order_by("not_before", "id")
            .values_list("id", flat=True)[:limit]
        )
        ids = list(due)
        if ids:
            Message.objects.filter(pk__in=ids).update(
                status=MessageStatus.SENDING,
                claimed_by=worker,
                lease_until=now + dt.timedelta(seconds=lease),
            )
    return ids


def _hard_rule(customer: Any, dnc_customers: set, dnc_emails: set) -> tuple[str, str] | None:
    """Consent per channel wins over everything: (rule, reason) when the customer may not get email at all."""
    if customer is None or customer["merged_into_id"]:
        return cr.Rule.NO_ADDRESS, _("The customer was merged or deleted.")
    email = (customer["email"] or "").strip().lower()
    if customer["id"] in dnc_customers or (email and email in dnc_emails):
        return cr.Rule.DO_NOT_CONTACT, _("On the do-not-contact list.")
    state = (customer["consent"] or {}).get("email") or {}
    if state.get("status") != ConsentStatus.GRANTED:
        if state.get("method") == ConsentMethod.UNSUBSCRIBE:
            return cr.Rule.UNSUBSCRIBED, _("Unsubscribed.")
        return cr.Rule.CONSENT, _("No email consent.")
    if not email:
        return cr.Rule.NO_ADDRESS, _("No email address.")
    return None


def _expiry(message: Message, cfg: cr.RuleConfig) -> dt.datetime:
    limit = message.created_at + dt.timedelta(days=cfg.max_hold_days)
    end = message.campaign.end_date
    if end is not None:
        end_of_campaign = dt.datetime.combine(
            end + dt.timedelta(days=1), dt.time(0), tzinfo=timezone.get_default_timezone()
        )
        limit = min(limit, end_of_campaign)
    return limit


def _check_and_reserve(ids: list[int], worker: str, now: dt.datetime, out: Outcome) -> list[Message]:
    """Step 2: every rule, under the per-customer locks; returns the messages to send now (reserved)."""
    cfg = cr.config()
    with transaction.atomic():
        messages = list(
            Message.objects.filter(pk__in=ids, claimed_by=worker, status=MessageStatus.SENDING)
            .select_related("campaign")
            .order_by("id")
        )
        customer_ids = sorted({m.customer_id for m in messages})
        ContactProfile.objects.bulk_create(
            [ContactProfile(customer_id=c) for c in customer_ids], ignore_conflicts=True
        )
        zones = dict(
            ContactProfile.objects.select_for_update()
            .filter(customer_id__in=customer_ids)
            .order_by("customer_id")
            .values_list("customer_id", "time_zone")
        )
        customers: dict[int, Any] = {
            row["id"]: row
            for row in Customer.objects.filter(pk__in=customer_ids).values(
                "id", "email", "consent", "merged_into_id"
            )
        }
        emails_ = {(c["email"] or "").strip().lower() for c in customers.values()} - {""}
        dnc = list(
            DoNotContact.objects.annotate(address=Lower("email"))
            .filter(Q(customer_id__in=customer_ids) | Q(address__in=emails_))
            .values_list("customer_id", "email")
        )
        dnc_customers = {c for c, _e in dnc if c}
        dnc_emails = {e.lower() for _c, e in dnc if e}
        since = (now - dt.timedelta(days=cfg.spacing_days + 2)).date()
        ledger: dict[int, list[dt.date]] = {}
        reserved: dict[int, int] = {}
        for customer_id, day, message_id in ContactLedger.objects.filter(
            customer_id__in=customer_ids, day__gte=since
        ).values_list("customer_id", "day", "message_id"):
            ledger.setdefault(customer_id, []).append(day)
            if message_id in {m.pk for m in messages}:
                reserved[message_id] = customer_id
        to_send: list[Message] = []
        new_ledger: list[ContactLedger] = []
        holds: list[RuleHold] = []
        release: list[int] = []
        for message in messages:
            customer: Any = customers.get(message.customer_id)
            hard = _hard_rule(customer, dnc_customers, dnc_emails)
            if hard is not None:
                message.status, (message.rule, message.reason) = MessageStatus.DROPPED, hard
                if message.pk in reserved:
                    release.append(message.pk)
                holds.append(
                    RuleHold(campaign_id=message.campaign_id, message=message, rule=hard[0], dropped=True)
                )
                continue
            message.to_address = customer["email"].strip()
            if message.pk in reserved:  # a dead worker's reservation: the day is already ours
                to_send.append(message)
                continue
            tz = cr.zone(zones.get(message.customer_id))
            today = cr.local_day(now, tz)
            days = ledger.get(message.customer_id, [])
            last = max(days) if days else None
            earliest = cr.spacing_earliest_day(last, cfg)
            rule: str | None
            if earliest is not None and today < earliest:
                rule = cr.Rule.DAILY_CAP if last is not None and last >= today else cr.Rule.SPACING
                slot = cr.next_slot(now, tz, message.kind, cfg, not_before_day=earliest)
            else:
                rule = cr.why_not_now(now, tz, message.kind, cfg)
                slot = cr.next_slot(now, tz, message.kind, cfg) if rule else None
            if rule is None:
                to_send.append(message)
                new_ledger.append(
                    ContactLedger(customer_id=message.customer_id, day=today, message=message, at=now)
                )
                ledger.setdefault(message.customer_id, []).append(today)
                continue
            label = cr.Rule(rule).label
            if slot is None or slot > _expiry(message, cfg):
                message.status, message.rule = MessageStatus.DROPPED, cr.Rule.EXPIRED
                message.reason = _("Held by “%(rule)s” with no allowed slot before it expires.") % {
                    "rule": label
                }
                holds.append(
                    RuleHold(campaign_id=message.campaign_id, message=message, rule=rule, dropped=True)
                )
                continue
            message.status, message.rule, message.not_before = MessageStatus.HELD, rule, slot
            message.reason = str(label)
            holds.append(RuleHold(campaign_id=message.campaign_id, message=message, rule=rule, until=slot))
        ContactLedger.objects.bulk_create(new_ledger)
        if release:
            ContactLedger.objects.filter(message_id__in=release).delete()
        RuleHold.objects.bulk_create(holds)
        parked = [m for m in messages if m.status in (MessageStatus.HELD, MessageStatus.DROPPED)]
        for m in parked:
            m.claimed_by, m.lease_until = "", None
        Message.objects.bulk_update(
            parked, ["status", "rule", "reason", "not_before", "claimed_by", "lease_until"], batch_size=500
        )
        for m in parked:
            if m.status == MessageStatus.HELD:
                out.held += 1
            else:
                out.dropped += 1
            out.by_rule[m.rule] = out.by_rule.get(m.rule, 0) + 1
    return to_send


def _send(messages: list[Message], worker: str, out: Outcome) -> list[int]:
    """Step 3: SMTP over one connection; each accepted message is marked sent at once (fenced by the claim)."""
    if not messages:
        return []
    rows = {
        c.pk: c
        for c in Customer.objects.filter(pk__in={m.customer_id for m in messages}).select_related(
            "account", "owner"
        )
    }
    templates: dict[int, emails.Template] = {}
    sent: list[int] = []
    connection = get_connection()
    connection.open()
    try:
        for message in messages:
            step = message.step_id
            if step not in templates:
                s = message.step
                templates[step] = emails.Template.of(s.subject, s.body)
            email = emails.build(
                template=templates[step],
                message_id=message.pk,
                to=message.to_address,
                values=emails.personal_values(rows[message.customer_id]),
                connection=connection,
            )
            try:
                email.send()
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                _fail(message, worker, str(exc)[:300])
                out.failed += 1
                continue
            now = timezone.now()
            marked = Message.objects.filter(
                pk=message.pk, claimed_by=worker, status=MessageStatus.SENDING
            ).update(status=MessageStatus.SENT, sent_at=now, to_address=message.to_address, lease_until=None)
            if marked:
                sent.append(message.pk)
                out.sent += 1
    finally:
        connection.close()
    return sent


def _fail(message: Message, worker: str, reason: str) -> None:
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, claimed_by=worker).update(
            status=MessageStatus.FAILED, reason=reason, lease_until=None
        )
        ContactLedger.objects.filter(message_id=message.pk).delete()


def timeline_log(*, ids: list[int] | None = None) -> int:
    """Step 4: every sent message not yet on its customer's timeline gets its entry (one bulk insert,
    idempotent through the timeline's unique (related_model, related_id))."""
    qs = Message.objects.filter(status=MessageStatus.SENT, logged=False)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    rows = list(
        qs.select_related("campaign", "step").values(
            "id",
            "customer_id",
            "customer__account_id",
            "campaign_id",
            "campaign__name",
            "step__subject",
            "sent_at",
        )[:5000]
    )
    if not rows:
        return 0
    entries = [
        Interaction(
            customer_id=r["customer_id"],
            account_id=r["customer__account_id"] or r["customer_id"],
            channel=InteractionChannel.EMAIL,
            direction=Direction.OUTBOUND,
            subject=(
                _("Campaign email “%(campaign)s”: %(subject)s")
                % {"campaign": r["campaign__name"], "subject": r["step__subject"]}
            )[:200],
            occurred_at=r["sent_at"] or timezone.now(),
            related_model="marketing.message",
            related_id=str(r["id"]),
            url=f"/marketing/campaigns/{r['campaign_id']}/",
        )
        for r in rows
    ]
    Interaction.objects.bulk_create(entries, ignore_conflicts=True)
    Message.objects.filter(pk__in=[r["id"] for r in rows]).update(logged=True)
    return len(rows)


def dispatch_batch(
    *, worker: str | None = None, limit: int = 200, now: dt.datetime | None = None, lease: int = LEASE_SECONDS
) -> Outcome:
    """Claim, check, send and log one batch. Returns what happened (claimed 0: nothing was due)."""
    worker = worker or uuid.uuid4().hex[:16]
    out = Outcome()
    ids = messages_claim(worker=worker, limit=limit, now=now, lease=lease)
    out.claimed = len(ids)
    if not ids:
        timeline_log()
        return out
    to_send = _check_and_reserve(ids, worker, now or timezone.now(), out)
    sent = _send(to_send, worker, out)
    timeline_log(ids=sent)
    return out


def dispatch(
    *, worker: str | None = None, limit: int = 200, max_batches: int = 1000, lease: int = LEASE_SECONDS
) -> Outcome:
    """Send until nothing is due (or ``max_batches``)."""
    worker = worker or uuid.uuid4().hex[:16]
    total = Outcome()
    for _i in range(max_batches):
        out = dispatch_batch(worker=worker, limit=limit, lease=lease)
        total.add(out)
        if not out.claimed:
            break
    return total


def contact_check(
    *, customer_id: int, kind: str, now: dt.datetime
) -> tuple[str, str, dt.datetime | None] | None:
    """The contact rules for one customer-facing email outside a campaign (workflow rules, ADR 0019): None when
    it may go now, else (rule, reason, next allowed instant or None when it may never go). Consent,
    unsubscribe and the do-not-contact list drop it; the send window and quiet hours of `kind` (in the
    customer's time zone) hold it until the next slot. Marketing messages go through campaigns (daily cap and
    spacing need the ledger), so `kind` is care or leisure here."""
    cfg = cr.config()
    row: Any = (
        Customer.objects.filter(pk=customer_id).values("id", "email", "consent", "merged_into_id").first()
    )
    email = ((row or {}).get("email") or "").strip().lower()
    dnc_customers = set(
        DoNotContact.objects.filter(customer_id=customer_id).values_list("customer_id", flat=True)
    )
    dnc_emails = (
        {
            e.lower()
            for e in DoNotContact.objects.annotate(a=Lower("email"))
            .filter(a=email)
            .values_list("email", flat=True)
        }
        if email
        else set()
    )
    hard = _hard_rule(row, dnc_customers, dnc_emails)
    if hard is not None:
        return hard[0], hard[1], None
    tz = cr.zone(
        ContactProfile.objects.filter(customer_id=customer_id).values_list("time_zone", flat=True).first()
    )
    rule = cr.why_not_now(now, tz, kind, cfg)
    if rule is None:
        return None
    return rule, str(cr.Rule(rule).label), cr.next_slot(now, tz, kind, cfg)
