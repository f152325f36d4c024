"""Email-to-ticket: store every received message raw, then turn it into a ticket or a ticket message.

1. `inbound_receive` stores the raw bytes and a row (committed on its own) before anything is parsed; the
   same bytes delivered twice are one row (sha256). A message that fails in any way afterwards is
   *quarantined* with its reason; the next message is processed as usual.
2. Threading: a reply is attached to the ticket whose stored Message-IDs appear in its In-Reply-To or
   References (ids Kehu generates are random, so only people who received the thread know them); failing
   that, to the ticket named by the subject token `[#KH-123]` — but only when the sender is already a
   participant of that ticket (its requester, its customer's or contact's addresses, an earlier sender or
   copy). Anyone else quoting a token gets a new ticket.
3. A new ticket is linked to a customer by the From address only when the sender can be trusted (rules in
   `sender_trust`) and exactly one live customer holds the address; otherwise the ticket stays without a
   customer and an internal note says why (duplicates to merge, spoofed or forwarded sender), so an agent
   links it. It is never attached to a guessed customer.
4. Automatic replies (Auto-Submitted, Precedence: bulk, X-Autoreply) are quarantined, never answered, so
   two auto-responders cannot loop.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.customers.models import Customer, CustomerEmail

from .. import mailparse
from ..models import (
    InboundMessage,
    InboundStatus,
    MessageKind,
    Queue,
    Ticket,
    TicketChannel,
    TicketMessage,
)
from .attachments import IncomingFile

log = logging.getLogger(__name__)


class Quarantine(Exception):
    """A message that must not become a ticket; the text is the reason shown to administrators."""


def inbound_receive(
    *, raw: bytes, envelope_from: str = "", envelope_to=(), peer: str = "", source: str = "smtp"
) -> InboundMessage:
    """Store a received message and process it. Never raises for the message's content: what cannot be
    processed is quarantined with its reason."""
    digest = hashlib.sha256(raw).hexdigest()
    existing = InboundMessage.objects.filter(sha256=digest).first()
    if existing is not None:
        return existing
    inbound = InboundMessage(
        source=source,
        envelope_from=(envelope_from or "")[:254],
        envelope_to=[str(a)[:254] for a in envelope_to][:50],
        peer=str(peer)[:120],
        size=len(raw),
        sha256=digest,
    )
    inbound.raw.save(f"{digest[:16]}.eml", ContentFile(raw), save=False)
    try:
        with transaction.atomic():
            inbound.save()
    except IntegrityError:  # the same bytes, delivered twice at the same moment
        return InboundMessage.objects.get(sha256=digest)
    inbound_process(inbound=inbound, raw=raw)
    return inbound


def inbound_process(*, inbound: InboundMessage, raw: bytes | None = None) -> InboundMessage:
    """Parse and file one stored message; on any failure mark it quarantined with the reason."""
    if raw is None:
        with inbound.raw.open("rb") as handle:
            raw = handle.read()
    InboundMessage.objects.filter(pk=inbound.pk).update(attempts=inbound.attempts + 1)
    try:
        mail = _read(inbound, raw)  # outside the transaction: a quarantined message keeps its sender/subject
        with transaction.atomic():
            outcome = _process(inbound, mail)
    except Quarantine as exc:
        _mark(inbound, InboundStatus.QUARANTINED, str(exc))
        return inbound
    except Exception as exc:  # a poisoned message must not stop the rest
        log.exception("inbound message %s quarantined", inbound.pk)
        _mark(inbound, InboundStatus.QUARANTINED, f"{type(exc).__name__}: {exc}"[:2000])
        return inbound
    status, ticket, reason = outcome
    _mark(inbound, status, reason, ticket=ticket)
    return inbound


def _mark(inbound: InboundMessage, status: str, reason: str, *, ticket: Ticket | None = None) -> None:
    inbound.status, inbound.reason, inbound.processed_at = status, reason, timezone.now()
    inbound.ticket = ticket
    InboundMessage.objects.filter(pk=inbound.pk).update(
        status=status, reason=reason, processed_at=inbound.processed_at, ticket=ticket
    )


def _read(inbound: InboundMessage, raw: bytes) -> mailparse.ParsedMail:
    if len(raw) > settings.KEHU_INBOUND_MAX_BYTES:
        raise Quarantine(
            _("The message is %(size).1f MB, over the limit of %(limit).1f MB.")
            % {"size": len(raw) / 1024 / 1024, "limit": settings.KEHU_INBOUND_MAX_BYTES / 1024 / 1024}
        )
    mail = mailparse.parse(raw)
    inbound.message_id, inbound.from_address = mail.message_id[:255], mail.from_address[:254]
    inbound.subject = mail.subject[:300]
    InboundMessage.objects.filter(pk=inbound.pk).update(
        message_id=inbound.message_id, from_address=inbound.from_address, subject=inbound.subject
    )
    return mail


def _process(inbound: InboundMessage, mail: mailparse.ParsedMail) -> tuple[str, Ticket | None, str]:
    if not mail.from_address or "@" not in mail.from_address:
        raise Quarantine(_("The message has no readable sender address."))
    if mail.auto_submitted:
        raise Quarantine(
            _("An automatic reply: not turned into a ticket, so that auto-responders cannot loop.")
        )
    own_domain = "@" + settings.KEHU_SERVICE_MAIL_DOMAIN.lower()
    if mail.message_id.lower().endswith(own_domain + ">"):
        raise Quarantine(_("A message Kehu sent itself came back (mail loop)."))
    if (
        mail.message_id
        and TicketMessage.objects.filter(message_id=mail.message_id, kind=MessageKind.CUSTOMER).exists()
    ):
        return InboundStatus.DUPLICATE, None, _("A message with this Message-ID was already received.")
    from .conversation import customer_message_receive, system_user
    from .tickets import ticket_create

    files = [IncomingFile(name=a.name, content=a.content) for a in mail.attachments]
    trust = sender_trust(mail, envelope_from=inbound.envelope_from)
    ticket, how = thread_of(mail, trust)
    body = mail.body or _("(no text)")
    if ticket is not None:
        message = customer_message_receive(
            ticket=ticket,
            body=body,
            from_email=mail.from_address,
            from_name=mail.from_name,
            attachments=files,
            message_id=mail.message_id,
            in_reply_to=(mail.in_reply_to or [""])[0],
            cc=mail.cc,
            inbound=inbound,
        )
        return InboundStatus.PROCESSED, message.ticket, how
    customer, contact, why = customer_of(mail, trust)
    queue = queue_for(mail, inbound.envelope_to)
    data = {
        "subject": mail.subject or _("(no subject)"),
        "channel": TicketChannel.EMAIL,
        "customer": customer,
        "contact": contact,
        "queue": queue,
        "requester_name": mail.from_name,
        "requester_email": mail.from_address,
    }
    ticket = ticket_create(
        data=data,
        by=system_user(),
        message=body,
        attachments=files,
        from_email=mail.from_address,
        inbound=inbound,
        strict_attachments=False,
    )
    _stamp_message(ticket, mail)
    notes = [why] if why else []
    if how:
        notes.append(how)
    if mail.defects:
        notes.append(
            _("The email was malformed (%(defects)s); it was read as well as possible.")
            % {"defects": ", ".join(sorted(set(mail.defects)))[:300]}
        )
    if notes:
        from .conversation import system_note

        system_note(ticket, "\n".join(notes), by=None)
    return InboundStatus.PROCESSED, ticket, " ".join(notes)[:2000]


def _stamp_message(ticket: Ticket, mail: mailparse.ParsedMail) -> None:
    """The first message of a ticket from email keeps the email's ids (for threading and dedup)."""
    TicketMessage.objects.filter(ticket=ticket, kind=MessageKind.CUSTOMER, message_id="").update(
        message_id=mail.message_id[:255], in_reply_to=(mail.in_reply_to or [""])[0][:255], cc=mail.cc
    )


# ------------------------------------------------------------------------------------------------ trust
@dataclass
class Trust:
    trusted: bool
    reason: str = ""
    #: the sender address itself is in doubt (not merely a forward by a known person)
    spoof_suspect: bool = False


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower().strip(">").strip()


def _dmarc_pass(mail: mailparse.ParsedMail) -> bool:
    """An Authentication-Results header added by our own receiving server (KEHU_INBOUND_AUTHSERV_ID) saying
    DMARC passed, or DKIM passed for the From domain."""
    authserv = settings.KEHU_INBOUND_AUTHSERV_ID.lower()
    if not authserv:
        return False
    domain = _domain(mail.from_address)
    for header in mail.authentication_results:
        text = header.lower()
        if not text.split(";", 1)[0].strip().startswith(authserv):
            continue
        if re.search(r"\bdmarc=pass\b", text):
            return True
        if re.search(rf"\bdkim=pass\b[^;]*header\.d={re.escape(domain)}\b", text):
            return True
    return False


def sender_trust(mail: mailparse.ParsedMail, *, envelope_from: str) -> Trust:
    """Whether the From address may be used to find the customer.

    Not when the envelope sender's domain (or the Sender header's) differs from the From domain, unless our
    own receiving server vouches for the From domain (an Authentication-Results header of
    KEHU_INBOUND_AUTHSERV_ID with dmarc=pass, or dkim=pass for that domain): the From line is easy to forge.
    Not when the message is a forward: the person in From passes on someone else's mail, and the original
    sender quoted in the body is never trusted."""
    if not _dmarc_pass(mail):
        envelope = (envelope_from or "").strip("<>").lower()
        if envelope and _domain(envelope) != _domain(mail.from_address):
            return Trust(
                False,
                _("The sender %(from)s is not verified: the mail was delivered for %(envelope)s.")
                % {"from": mail.from_address, "envelope": envelope},
                spoof_suspect=True,
            )
        if mail.sender and _domain(mail.sender) != _domain(mail.from_address):
            return Trust(
                False,
                _("The mail was sent on behalf of %(from)s by %(sender)s.")
                % {"from": mail.from_address, "sender": mail.sender},
                spoof_suspect=True,
            )
    if mail.forwarded:
        return Trust(False, _("It looks forwarded: the original sender is not trusted to pick the customer."))
    return Trust(True)


def holders_of(address: str) -> list[int]:
    """Live customers who hold an email address (primary or additional)."""
    ids = set(
        Customer.objects.filter(email=address, merged_into__isnull=True).values_list("pk", flat=True)
    ) | set(
        CustomerEmail.objects.filter(email=address, customer__merged_into__isnull=True).values_list(
            "customer_id", flat=True
        )
    )
    return sorted(ids)


def customer_of(mail: mailparse.ParsedMail, trust: Trust) -> tuple[Customer | None, Customer | None, str]:
    """(customer, contact, why not linked) for a new ticket from `mail`."""
    if not trust.trusted:
        return None, None, trust.reason
    holders = holders_of(mail.from_address)
    if not holders:
        return None, None, _("No customer has the address %(a)s yet.") % {"a": mail.from_address}
    if len(holders) > 1:
        return (
            None,
            None,
            _(
                "%(n)d customers have the address %(a)s (possible duplicates): choose the right one or merge them."
            )
            % {"n": len(holders), "a": mail.from_address},
        )
    person = Customer.objects.get(pk=holders[0])
    if person.is_contact:
        return person.account, person, ""
    return person, None, ""


def queue_for(mail: mailparse.ParsedMail, envelope_to) -> Queue | None:
    """The queue whose inbound address the message was sent to (envelope first, then To and Cc)."""
    addresses = [str(a).strip("<>").lower() for a in envelope_to] + mail.to + mail.cc
    if not addresses:
        return None
    queues = {q.email_address: q for q in Queue.objects.filter(active=True, email_address__in=addresses)}
    return next((queues[a] for a in addresses if a in queues), None)


# ---------------------------------------------------------------------------------------------- threading
TOKEN = re.compile(r"\[#\s*([A-Za-z]{1,10})-(\d{1,12})\s*\]")


def participants(ticket: Ticket) -> set[str]:
    """Addresses that belong to a ticket's conversation."""
    found = {ticket.requester_email.lower()} if ticket.requester_email else set()
    for party in (ticket.customer_id, ticket.contact_id):
        if party:
            found |= {
                e.lower() for e in Customer.objects.filter(pk=party).values_list("email", flat=True) if e
            }
            found |= set(CustomerEmail.objects.filter(customer_id=party).values_list("email", flat=True))
    for sender, cc in TicketMessage.objects.filter(ticket=ticket).values_list("from_email", "cc"):
        if sender:
            found.add(sender.lower())
        found |= {c.lower() for c in (cc or [])}
    return found


def thread_of(mail: mailparse.ParsedMail, trust: Trust) -> tuple[Ticket | None, str]:
    """(ticket this mail continues, note) by Message-ID/References, then by subject token."""
    ids = [*mail.in_reply_to, *reversed(mail.references)]
    if ids:
        found = (
            TicketMessage.objects.filter(message_id__in=ids[:50])
            .select_related("ticket")
            .order_by("-created_at")
            .first()
        )
        if found is not None:
            return found.ticket, ""
    match = TOKEN.search(mail.subject)
    if match and match.group(1).upper() == settings.KEHU_TICKET_TOKEN_PREFIX.upper():
        ticket = Ticket.objects.filter(pk=int(match.group(2))).first()
        if ticket is None:
            return None, _("The subject names ticket #%(pk)s, which does not exist.") % {"pk": match.group(2)}
        if mail.from_address in participants(ticket) and not trust.spoof_suspect:
            return ticket, ""
        return None, _("The subject names ticket #%(pk)s, but %(a)s is not part of that ticket.") % {
            "pk": ticket.pk,
            "a": mail.from_address,
        }
    return None, ""


def quarantined(*, limit: int = 200):
    return InboundMessage.objects.filter(status=InboundStatus.QUARANTINED).order_by("-received_at")[:limit]
