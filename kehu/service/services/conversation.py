"""The conversation of a ticket: public replies (emailed to the requester after the commit), internal notes,
customer messages (from email or logged by an agent), canned answers, and the email sender job."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email.utils import formataddr, make_msgid
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import audit
from kehu.core.exceptions import BusinessRuleError
from kehu.core.models import AuditAction, User
from kehu.core.services import notify
from kehu.customers.normalize import normalize_email

from ..models import (
    CannedResponse,
    DeliveryStatus,
    MessageKind,
    Ticket,
    TicketMessage,
    TicketStatus,
)
from . import attachments as files
from . import sla
from .common import lock, save, sync, timeline

log = logging.getLogger(__name__)

EVENT_MESSAGE = {
    MessageKind.CUSTOMER: gettext_lazy("Customer wrote on ticket %(ref)s: %(subject)s"),
    MessageKind.REPLY: gettext_lazy("Reply sent on ticket %(ref)s: %(subject)s"),
    MessageKind.NOTE: gettext_lazy("Internal note on ticket %(ref)s: %(subject)s"),
    MessageKind.SYSTEM: gettext_lazy("Ticket %(ref)s: %(subject)s"),
}


def new_message_id(ticket: Ticket) -> str:
    return make_msgid(idstring=f"kh{ticket.pk}", domain=settings.KEHU_SERVICE_MAIL_DOMAIN)


def message_add(
    *,
    ticket: Ticket,
    kind: str,
    body: str,
    by: User | None,
    attachments: Sequence[files.IncomingFile] = (),
    from_email: str = "",
    from_name: str = "",
    to: Sequence[str] = (),
    cc: Sequence[str] = (),
    message_id: str = "",
    in_reply_to: str = "",
    inbound=None,
    count_activity: bool = True,
    strict_attachments: bool = True,
) -> TicketMessage:
    """Append a message to a ticket the caller has locked (rights already checked). With
    `strict_attachments` a file over the limits refuses the whole message; without (email ingestion) such a
    file is left out and the message says which and why."""
    dropped: list[str] = []
    for item in attachments:
        try:
            files.check(files.clean_filename(item.name), len(item.content))
        except ValidationError as exc:
            if strict_attachments:
                raise
            dropped.extend(exc.messages)
    if dropped:
        body = (body.rstrip() + "\n\n" if body.strip() else "") + "\n".join(
            _("[Attachment not kept] %(reason)s") % {"reason": reason} for reason in dropped
        )
    message = TicketMessage(
        ticket=ticket,
        kind=kind,
        author=by if getattr(by, "pk", None) else None,
        from_email=from_email,
        from_name=from_name[:200],
        to=list(to),
        cc=list(cc),
        body=body,
        message_id=message_id[:255],
        in_reply_to=in_reply_to[:255],
        inbound=inbound,
    )
    message.full_clean(exclude=["ticket", "author", "inbound"])
    message.save()
    kept = []
    for item in attachments:
        try:
            kept.append(files.attachment_store(ticket=ticket, message=message, incoming=item, by=by))
        except ValidationError:
            continue  # reported in the body above
    now = timezone.now()
    ticket.message_count += 1
    fields: dict[str, object] = {"message_count": ticket.message_count}
    if count_activity or ticket.last_activity_at is None:
        ticket.last_activity_at = now
        fields["last_activity_at"] = now
    Ticket.objects.filter(pk=ticket.pk).update(**fields)
    audit.log(
        actor=by,
        action=AuditAction.CREATE,
        instance=message,
        changes={
            key: value
            for key, value in {
                "kind": [None, kind],
                "to": [None, list(to)] if to else None,
                "body": [None, body[:500]],
                "attachments": [None, [a.filename for a in kept]] if kept else None,
            }.items()
            if value is not None
        },
    )
    timeline(
        ticket, str(message.pk), EVENT_MESSAGE[MessageKind(kind)], body=body, model="service.ticketmessage"
    )
    return message


def system_note(ticket: Ticket, text: str, *, by: User | None) -> TicketMessage:
    return message_add(ticket=ticket, kind=MessageKind.SYSTEM, body=text, by=by, count_activity=False)


def _watchers_to_tell(ticket: Ticket, author_id) -> list[User]:
    users = {u.pk: u for u in ticket.watchers.filter(is_active=True)}
    if ticket.owner_id and ticket.owner_id not in users:
        owner = User.objects.filter(pk=ticket.owner_id, is_active=True).first()
        if owner is not None:
            users[owner.pk] = owner
    users.pop(author_id, None)
    return list(users.values())


def _tell(ticket: Ticket, message: TicketMessage, title: str) -> None:
    for user in _watchers_to_tell(ticket, message.author_id):
        notify(
            user=user,
            title=title,
            body=message.body[:200],
            url=ticket.get_absolute_url(),
            dedup_key=f"ticket-message:{message.pk}",
        )


def ticket_reply(
    *,
    ticket: Ticket,
    body: str,
    by: User,
    attachments: Sequence[files.IncomingFile] = (),
    cc: Sequence[str] = (),
    then_status: str = "",
    expected_version: int | None = None,
) -> TicketMessage:
    """A public reply to the requester, emailed after the commit. It is the first response for the SLA; an
    unassigned ticket becomes the replier's; a new ticket opens; `then_status` may set pending customer or
    resolved in the same step. Needs write access to the ticket."""
    from .tickets import TRANSITIONS, apply_status

    if not body.strip():
        raise ValidationError({"body": _("Write the reply.")})
    recipients = []
    for address in cc:
        try:
            recipients.append(normalize_email(address))
        except ValidationError:
            raise ValidationError(
                {"cc": _("%(address)s is not an email address.") % {"address": address}}
            ) from None
    with transaction.atomic():
        locked = lock(ticket, by, expected_version=expected_version)
        if locked.merged_into_id:
            raise BusinessRuleError(_("This ticket was merged into #%(pk)s.") % {"pk": locked.merged_into_id})
        if locked.status == TicketStatus.CLOSED:
            raise BusinessRuleError(_("A closed ticket takes no replies; open a follow-up ticket."))
        if not locked.requester_email:
            raise BusinessRuleError(
                _("This ticket has no requester email address: add one, or log the call as a note."),
                field="requester_email",
            )
        if then_status and then_status not in (TicketStatus.PENDING, TicketStatus.RESOLVED):
            raise BusinessRuleError(_("After a reply a ticket may wait for the customer or be resolved."))
        before = audit.snapshot(locked)
        last_in = (
            TicketMessage.objects.filter(ticket=locked, kind=MessageKind.CUSTOMER)
            .exclude(message_id="")
            .order_by("-created_at", "-id")
            .values_list("message_id", flat=True)
            .first()
        )
        message = message_add(
            ticket=locked,
            kind=MessageKind.REPLY,
            body=body,
            by=by,
            attachments=attachments,
            from_email=settings.KEHU_SERVICE_FROM_EMAIL,
            from_name=str(by),
            to=[locked.requester_email],
            cc=recipients,
            message_id=new_message_id(locked),
            in_reply_to=last_in or "",
        )
        TicketMessage.objects.filter(pk=message.pk).update(delivery_status=DeliveryStatus.PENDING)
        now = timezone.now()
        sla.clock_first_response(locked, at=now)
        if locked.owner_id is None:
            locked.owner, locked.taken_at = by, now
        if (
            locked.status in (TicketStatus.NEW, TicketStatus.RESOLVED)
            and then_status != TicketStatus.RESOLVED
        ):
            apply_status(locked, TicketStatus.OPEN, at=now)
        if (
            then_status
            and then_status != locked.status
            and then_status in TRANSITIONS[TicketStatus(locked.status)]
        ):
            apply_status(locked, then_status, at=now)
        save(locked, by=by, before=before)
        transaction.on_commit(partial(_enqueue_send, message.pk))
        _tell(locked, message, _("%(who)s replied on ticket #%(pk)s") % {"who": by, "pk": locked.pk})
    sync(ticket, locked)
    return message


def ticket_note(
    *, ticket: Ticket, body: str, by: User, attachments: Sequence[files.IncomingFile] = ()
) -> TicketMessage:
    """An internal note (never emailed). Needs write access to the ticket; watchers are told."""
    if not body.strip() and not attachments:
        raise ValidationError({"body": _("Write the note.")})
    with transaction.atomic():
        locked = lock(ticket, by)
        message = message_add(ticket=locked, kind=MessageKind.NOTE, body=body, by=by, attachments=attachments)
        _tell(locked, message, _("%(who)s added a note on ticket #%(pk)s") % {"who": by, "pk": locked.pk})
    sync(ticket, locked)
    return message


def customer_message_receive(
    *,
    ticket: Ticket,
    body: str,
    from_email: str,
    from_name: str = "",
    by: User | None = None,
    attachments: Sequence[files.IncomingFile] = (),
    message_id: str = "",
    in_reply_to: str = "",
    cc: Sequence[str] = (),
    inbound=None,
) -> TicketMessage:
    """A message from the customer: from email (`by` None: the system, no rights involved) or logged by an
    agent (`by`, who needs write access). Pending and resolved tickets open again (the SLA clock runs on);
    a closed ticket is final, so the message opens a follow-up ticket instead."""
    from .tickets import apply_status

    with transaction.atomic():
        if by is not None:
            locked = lock(ticket, by)
        else:
            locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        while locked.merged_into_id:
            locked = Ticket.objects.select_for_update().get(pk=locked.merged_into_id)
        if locked.status == TicketStatus.CLOSED:
            follow_up = _follow_up(locked, by)
            return customer_message_receive(
                ticket=follow_up,
                body=body,
                from_email=from_email,
                from_name=from_name,
                by=by,
                attachments=attachments,
                message_id=message_id,
                in_reply_to=in_reply_to,
                cc=cc,
                inbound=inbound,
            )
        before = audit.snapshot(locked)
        message = message_add(
            ticket=locked,
            kind=MessageKind.CUSTOMER,
            body=body,
            by=by,
            attachments=attachments,
            from_email=from_email,
            from_name=from_name,
            cc=cc,
            message_id=message_id,
            in_reply_to=in_reply_to,
            inbound=inbound,
            strict_attachments=by is not None,
        )
        now = timezone.now()
        if locked.status in (TicketStatus.PENDING, TicketStatus.RESOLVED):
            apply_status(locked, TicketStatus.OPEN, at=now)
            save(locked, by=by, before=before, note=_("Reopened by the customer's reply"))
        _tell(locked, message, _("New message from the customer on ticket #%(pk)s") % {"pk": locked.pk})
    return message


def _follow_up(closed: Ticket, by: User | None) -> Ticket:
    from .tickets import ticket_create

    data = {
        "subject": closed.subject,
        **{k: getattr(closed, k) for k in ("kind", "priority", "channel", "category", "language", "queue")},
        **{k: getattr(closed, k) for k in ("customer", "contact", "installed_product")},
        "requester_name": closed.requester_name,
        "requester_email": closed.requester_email,
    }
    actor = by or system_user()
    new = ticket_create(data=data, by=actor)
    Ticket.objects.filter(pk=new.pk).update(split_from=closed)
    new.split_from = closed
    system_note(new, _("Follow-up of closed ticket #%(pk)s.") % {"pk": closed.pk}, by=by)
    return new


SYSTEM_USERNAME = "kehu-service"


def system_user() -> User:
    """The account email-to-ticket and the schedulers act as: no password (cannot sign in), one role with
    exactly the rights it needs (see every customer to match senders; open and update tickets). Created on
    first use; administrators see it under users and roles like any other."""
    from kehu.core.models import ModelGrant, Role, Scope

    user, created = User.objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"display_name": "客服邮箱 Service mailbox", "is_active": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        role, _made = Role.objects.get_or_create(
            code="service-mailbox", defaults={"name": "客服邮箱 Service mailbox (system)"}
        )
        for model, actions, write in (
            ("customers.customer", ("view",), Scope.NONE),
            ("service.ticket", ("view", "add", "change"), Scope.ALL),
        ):
            ModelGrant.objects.get_or_create(
                role=role,
                model=model,
                defaults={
                    "read_scope": Scope.ALL,
                    "write_scope": write,
                    **{f"can_{a}": True for a in actions},
                },
            )
        user.roles.add(role)
    return user


def canned_render(*, canned: CannedResponse, ticket: Ticket, by: User) -> str:
    """The canned answer's text with its placeholders filled for this ticket."""
    customer = ticket.customer.name if ticket.customer is not None else ""
    return canned.body.format(
        customer=customer,
        requester=ticket.requester_name or customer,
        agent=str(by),
        ticket=ticket.reference,
        subject=ticket.subject,
    )


# ------------------------------------------------------------------------------------------------ sending
def _enqueue_send(message_id: int) -> None:
    from ..tasks import send_ticket_message

    send_ticket_message.enqueue(message_id)


def _references(message: TicketMessage) -> list[str]:
    ids = (
        TicketMessage.objects.filter(ticket_id=message.ticket_id, created_at__lte=message.created_at)
        .exclude(message_id="")
        .exclude(pk=message.pk)
        .order_by("-created_at", "-id")
        .values_list("message_id", flat=True)[:20]
    )
    return list(reversed(list(ids)))


def message_send(*, message_id: int) -> str:
    """Email a public reply (the job behind ticket_reply). Claimed once with a conditional UPDATE, so a
    retried or duplicated job never sends twice; the outcome is stored on the message."""
    claimed = TicketMessage.objects.filter(
        pk=message_id, kind=MessageKind.REPLY, delivery_status=DeliveryStatus.PENDING, sent_at__isnull=True
    ).update(sent_at=timezone.now())
    if not claimed:
        return "skipped"
    message = TicketMessage.objects.select_related("ticket", "ticket__queue").get(pk=message_id)
    ticket = message.ticket
    subject = ticket.subject if ticket.subject.lower().startswith("re:") else f"Re: {ticket.subject}"
    queue = ticket.queue if ticket.queue_id else None
    reply_to = queue.email_address if queue is not None else ""
    headers = {"Message-ID": message.message_id}
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
    references = _references(message)
    if references:
        headers["References"] = " ".join(references)
    email = EmailMessage(
        subject=f"{subject} {ticket.reference}",
        body=message.body,
        from_email=formataddr((message.from_name, settings.KEHU_SERVICE_FROM_EMAIL))
        if "<" not in settings.KEHU_SERVICE_FROM_EMAIL
        else settings.KEHU_SERVICE_FROM_EMAIL,
        to=message.to,
        cc=message.cc,
        reply_to=[reply_to] if reply_to else None,
        headers=headers,
    )
    for attachment in message.attachments.all():
        with attachment.file.open("rb") as handle:
            email.attach(attachment.filename, handle.read(), attachment.content_type)
    try:
        email.send()
    except OSError as exc:
        log.warning("reply %s of ticket %s could not be sent: %s", message.pk, ticket.pk, exc)
        TicketMessage.objects.filter(pk=message.pk).update(
            delivery_status=DeliveryStatus.FAILED, delivery_error=str(exc)[:300]
        )
        return "failed"
    TicketMessage.objects.filter(pk=message.pk).update(delivery_status=DeliveryStatus.SENT, delivery_error="")
    return "sent"


def message_resend(*, message: TicketMessage, by: User) -> None:
    """Try a failed reply again (needs write access to its ticket)."""
    with transaction.atomic():
        lock(message.ticket, by)
        updated = TicketMessage.objects.filter(pk=message.pk, delivery_status=DeliveryStatus.FAILED).update(
            delivery_status=DeliveryStatus.PENDING, sent_at=None
        )
        if updated:
            transaction.on_commit(partial(_enqueue_send, message.pk))
