"""Portal use cases. Staff: invite a portal user, decide a change request, link a partner's customer. Portal
users: activate, change their details, consent, tickets (open, reply, close, rate), register deals.

A portal user's writes go through the owning apps' services with the portal user as the actor, so the access
engine applies the portal scope (scope.py) to every one of them; each is also recorded as a PortalActivity and
put on the customer's timeline (`activity_record`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from kehu.core import audit, records
from kehu.core.access import Access
from kehu.core.models import AuditAction, User
from kehu.core.services import notify
from kehu.customers import services as customer_services
from kehu.customers.models import Channel, ConsentMethod, ConsentStatus, Customer, Kind

from .models import ChangeRequest, DealRegistration, PartnerLink, PortalActivity, PortalKind, PortalUser
from .scope import PROFILE_EDITABLE, profile_of
from .tokens import activation_token


def _staff_only(by) -> None:
    if profile_of(by) is not None:
        raise PermissionDenied(_("Portal users cannot do this."))


# ------------------------------------------------------------------------------------------------ timeline
def activity_record(*, profile: PortalUser, action: str, summary: str) -> PortalActivity:
    """Record what a portal user did and put it on their customer's timeline (visible to staff who see the
    customer), attributed to the portal user."""
    from kehu.interactions.models import Direction
    from kehu.interactions.services import timeline_event_record

    activity = PortalActivity.objects.create(
        portal_user=profile, customer_id=profile.customer_id, action=action, summary=summary[:300]
    )
    timeline_event_record(
        customer=profile.customer,
        subject=_("Portal: %(summary)s") % {"summary": summary},
        related_model="portal.portalactivity",
        related_id=activity.pk,
        direction=Direction.INBOUND,
        user=profile.user,
        occurred_at=activity.at,
    )
    return activity


# ------------------------------------------------------------------------------------------------ invitation
def _contact_for(customer: Customer, email: str, name: str, by) -> Customer | None:
    if customer.kind == Kind.PERSON:
        return None
    existing = (
        Customer.objects.filter(account=customer, merged_into__isnull=True)
        .filter(email__iexact=email)
        .first()
    )
    if existing is not None:
        return existing
    return customer_services.customer_create(
        data={"kind": Kind.PERSON, "name": name or email, "account": customer, "email": email}, by=by
    )


def portal_user_invite(
    *, customer: Customer, email: str, name: str = "", kind: str = PortalKind.CUSTOMER, by: User
) -> PortalUser:
    """Invite a person of `customer` to the portal (staff who may change the customer). Creates an inactive
    user without roles and without a usable password, the contact record of the person when the account has
    none with that email, and emails an activation link once the transaction commits."""
    _staff_only(by)
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid email address.")}) from None
    if kind not in PortalKind.values:
        raise ValidationError({"kind": _("Unknown portal user kind.")})
    with transaction.atomic():
        locked, _access = records.lock_for_write(customer, by)
        if (
            User.objects.filter(username__iexact=email).exists()
            or User.objects.filter(email__iexact=email).exists()
        ):
            raise ValidationError({"email": _("A user with this email exists already.")})
        user = User(username=email, email=email, display_name=name[:150], is_active=False)
        user.set_unusable_password()
        user.save()
        contact = _contact_for(locked, email, name, by)
        profile = PortalUser.objects.create(
            user=user, customer=locked, contact=contact, kind=kind, invited_by=by
        )
        audit.log(
            actor=by,
            action=AuditAction.UPDATE,
            instance=locked,
            changes={"portal_user": [None, email]},
            note=_("invited to the portal"),
        )
        transaction.on_commit(partial(invitation_send, profile.pk))
    return profile


def activation_path(user: User) -> str:
    return reverse(
        "portal:activate",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": activation_token.make_token(user),
        },
    )


def invitation_send(profile_id: int) -> None:
    """Email the activation link (through the configured mail backend: SMTP in production)."""
    profile = PortalUser.objects.select_related("user", "customer").get(pk=profile_id)
    link = settings.KEHU_BASE_URL + activation_path(profile.user)
    days = settings.PASSWORD_RESET_TIMEOUT // 86400
    body = "\n".join(
        [
            _("Hello %(person)s,") % {"person": profile.user.display_name or profile.user.email},
            "",
            _("You have been invited to the customer portal for %(customer)s.")
            % {"customer": profile.customer.name},
            _("Choose your password here (the link works once, for %(days)s days):") % {"days": days},
            link,
            "",
        ]
    )
    send_mail(
        subject=_("Your access to the customer portal"),
        message=body,
        from_email=None,
        recipient_list=[profile.user.email],
    )


def portal_user_activate(*, user: User, password: str) -> PortalUser:
    """Set the password of an invited user (the caller checked the activation token) and activate them."""
    profile = PortalUser.objects.select_related("customer", "user").get(user=user)
    with transaction.atomic():
        user.set_password(password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
        PortalUser.objects.filter(pk=profile.pk).update(activated_at=timezone.now())
        activity_record(
            profile=profile,
            action="activated",
            summary=_("%(user)s activated their portal access") % {"user": user.email},
        )
    return profile


def portal_user_deactivate(*, profile: PortalUser, by: User) -> None:
    """Staff end a portal user's access (their sessions stop at the next request)."""
    _staff_only(by)
    with transaction.atomic():
        records.lock_for_write(profile.customer, by)
        User.objects.filter(pk=profile.user_id).update(is_active=False)
        audit.log(
            actor=by,
            action=AuditAction.UPDATE,
            instance=profile.customer,
            changes={"portal_user": [profile.user.email, None]},
            note=_("portal access ended"),
        )


# ------------------------------------------------------------------------------------------------ two-step
def totp_begin(*, profile: PortalUser) -> str:
    """A new secret for the authenticator app (not active until confirmed with a code)."""
    from kehu.security import totp

    secret = totp.new_secret()
    PortalUser.objects.filter(pk=profile.pk).update(totp_secret=secret, totp_enabled=False)
    profile.totp_secret, profile.totp_enabled = secret, False
    return secret


def totp_verify(profile: PortalUser, code: str) -> bool:
    """The one TOTP check of staff and portal sign-ins (kehu.security.totp)."""
    from kehu.security import totp

    return totp.verify(profile.totp_secret, code) is not None


def totp_confirm(*, profile: PortalUser, code: str) -> None:
    if not totp_verify(profile, code):
        raise ValidationError(
            {"code": _("The code is not right. Check the time on your phone and try again.")}
        )
    PortalUser.objects.filter(pk=profile.pk).update(totp_enabled=True)
    profile.totp_enabled = True
    activity_record(profile=profile, action="totp_on", summary=_("two-step sign-in turned on"))


def totp_disable(*, profile: PortalUser, code: str) -> None:
    if not totp_verify(profile, code):
        raise ValidationError({"code": _("The code is not right.")})
    PortalUser.objects.filter(pk=profile.pk).update(totp_enabled=False, totp_secret="")  # nosec B106 - reviewed: an empty value, not a password
    profile.totp_enabled, profile.totp_secret = False, ""
    activity_record(profile=profile, action="totp_off", summary=_("two-step sign-in turned off"))


# ------------------------------------------------------------------------------------------------ own details
def profile_change(*, profile: PortalUser, data: dict) -> ChangeRequest | Customer | None:
    """Change the portal user's own details: directly (through the customer service, as the portal user:
    the portal scope allows only PROFILE_EDITABLE) or as a change request for staff, per
    KEHU_PORTAL_PROFILE_EDIT. Returns None when nothing changed."""
    person = Customer.objects.get(pk=profile.person.pk)
    changes = {
        k: str(v).strip()
        for k, v in data.items()
        if k in PROFILE_EDITABLE and str(v).strip() != str(getattr(person, k) or "")
    }
    if not changes:
        return None
    summary = ", ".join(str(getattr(Customer._meta.get_field(k), "verbose_name", k)) for k in changes)
    if settings.KEHU_PORTAL_PROFILE_EDIT == "direct":
        updated = customer_services.customer_update(
            customer=person, data=changes, by=profile.user, expected_version=None, note=_("portal")
        )
        activity_record(
            profile=profile, action="profile", summary=_("changed their details: %(f)s") % {"f": summary}
        )
        return updated
    with transaction.atomic():
        request = ChangeRequest.objects.create(customer=person, requested_by=profile.user, changes=changes)
        activity_record(
            profile=profile,
            action="change_request",
            summary=_("asked to change their details: %(f)s") % {"f": summary},
        )
        owner = profile.customer.owner
        if owner is not None:
            notify(
                user=owner,
                title=_("%(customer)s asks to change their details") % {"customer": person.name},
                url=reverse("customers:detail", args=[profile.customer_id]),
            )
    return request


def change_request_decide(*, request: ChangeRequest, approve: bool, by: User) -> ChangeRequest:
    """Staff approve (the change is applied through the customer service as `by`) or reject a request."""
    _staff_only(by)
    with transaction.atomic():
        locked = ChangeRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status != ChangeRequest.Status.PENDING:
            raise ValidationError(_("This request was decided already."))
        customer = Customer.objects.get(pk=locked.customer_id)
        if approve:
            customer_services.customer_update(
                customer=customer,
                data={k: v for k, v in locked.changes.items() if k in PROFILE_EDITABLE},
                by=by,
                expected_version=None,
                note=_("portal change request approved"),
            )
        else:
            records.lock_for_write(customer, by)
        locked.status = ChangeRequest.Status.APPROVED if approve else ChangeRequest.Status.REJECTED
        locked.decided_by, locked.decided_at = by, timezone.now()
        locked.save(update_fields=["status", "decided_by", "decided_at"])
    return locked


# ------------------------------------------------------------------------------------------------ consent
def consent_set(*, profile: PortalUser, channel: str, granted: bool) -> None:
    """The portal user grants or withdraws marketing consent on a channel for themselves: recorded in the
    consent history (method: customer portal) by the customers app."""
    person = Customer.objects.get(pk=profile.person.pk)
    status = ConsentStatus.GRANTED if granted else ConsentStatus.WITHDRAWN
    current = (person.consent or {}).get(channel, {}).get("status")
    if current == status or (current is None and not granted):
        return  # nothing changes (an unticked box withdraws only what was granted)
    customer_services.consent_record(
        customer=person,
        channel=channel,
        status=status,
        method=ConsentMethod.PORTAL,
        by=None,
        evidence=_("portal user %(user)s") % {"user": profile.user.email},
    )
    label = Channel(channel).label
    activity_record(
        profile=profile,
        action="consent",
        summary=(_("granted consent for %(channel)s") if granted else _("withdrew consent for %(channel)s"))
        % {"channel": label},
    )


# ------------------------------------------------------------------------------------------------ tickets
def ticket_open(
    *, profile: PortalUser, subject: str, message: str, attachments: Sequence = (), installed_product=None
):
    """Open a ticket for the portal user's customer (routing, SLA and the queue's notifications as for any
    ticket; the attachments pass the service app's type and size checks)."""
    from kehu.service.models import TicketChannel
    from kehu.service.services.tickets import ticket_create

    data = {
        "subject": subject,
        "customer": profile.customer,
        "contact": profile.contact,
        "channel": TicketChannel.PORTAL,
        "requester_email": profile.user.email,
        "requester_name": str(profile.user),
    }
    if installed_product is not None:
        data["installed_product"] = installed_product
    with transaction.atomic():
        ticket = ticket_create(data=data, by=profile.user, message=message, attachments=attachments)
        activity_record(
            profile=profile,
            action="ticket",
            summary=_("opened ticket #%(pk)s: %(subject)s") % {"pk": ticket.pk, "subject": subject},
        )
    return ticket


def ticket_reply(*, profile: PortalUser, ticket, body: str, attachments: Sequence = ()):
    from kehu.service.services.conversation import customer_message_receive

    with transaction.atomic():
        message = customer_message_receive(
            ticket=ticket,
            body=body,
            from_email=profile.user.email,
            from_name=str(profile.user),
            by=profile.user,
            attachments=attachments,
        )
        activity_record(
            profile=profile,
            action="ticket_reply",
            summary=_("wrote on ticket #%(pk)s") % {"pk": message.ticket_id},
        )
    return message


def ticket_close(*, profile: PortalUser, ticket):
    """The customer closes their ticket (resolved first when it was still open)."""
    from kehu.service.models import TicketStatus
    from kehu.service.services.tickets import ticket_set_status

    with transaction.atomic():
        if ticket.status in (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING):
            ticket = ticket_set_status(ticket=ticket, status=TicketStatus.RESOLVED, by=profile.user)
        ticket = ticket_set_status(ticket=ticket, status=TicketStatus.CLOSED, by=profile.user)
        activity_record(
            profile=profile, action="ticket_close", summary=_("closed ticket #%(pk)s") % {"pk": ticket.pk}
        )
    return ticket


PORTAL_SURVEY_NAME = "客户门户工单评价 Portal ticket rating"


def ticket_rate(*, profile: PortalUser, ticket, score: int, comment: str = ""):
    """Rate a resolved or closed ticket (1–5), once: a CSAT answer of the service app's survey model."""
    from kehu.service.models import Survey, SurveyChannel, SurveyKind, SurveyResponse, TicketStatus
    from kehu.service.models.surveys import ResponseStatus, SurveyTrigger

    if ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        raise ValidationError(_("A ticket can be rated once it is resolved."))
    if not 1 <= int(score) <= 5:
        raise ValidationError({"score": _("Choose 1 to 5 stars.")})
    with transaction.atomic():
        if SurveyResponse.objects.filter(ticket=ticket, status=ResponseStatus.ANSWERED).exists():
            raise ValidationError(_("This ticket is rated already."))
        survey = (
            Survey.objects.filter(kind=SurveyKind.CSAT, channel=SurveyChannel.PORTAL).order_by("pk").first()
        )
        if survey is None:
            survey = Survey.objects.create(
                name=PORTAL_SURVEY_NAME,
                kind=SurveyKind.CSAT,
                channel=SurveyChannel.PORTAL,
                trigger=SurveyTrigger.MANUAL,
                question="您对本次服务满意吗？ How satisfied are you with this service?",
            )
        now = timezone.now()
        response = SurveyResponse.objects.create(
            survey=survey,
            customer_id=ticket.customer_id,
            ticket=ticket,
            agent_id=ticket.owner_id,
            token=secrets.token_urlsafe(24),
            status=ResponseStatus.ANSWERED,
            sent_at=now,
            responded_at=now,
            score=int(score),
            comment=comment[:2000],
        )
        activity_record(
            profile=profile,
            action="ticket_rate",
            summary=_("rated ticket #%(pk)s: %(score)s/5") % {"pk": ticket.pk, "score": score},
        )
    return response


# ------------------------------------------------------------------------------------------------ partners
def _conflict_of(data: dict, partner_id: int) -> str:
    """Deal registration conflict rule: a prospect that is already a customer, or that another partner
    registered first, is a conflict (the lead is still created, for the channel manager to decide)."""
    from kehu.customers.normalize import name_key
    from kehu.sales.models import Lead

    company, phone, email = (data.get(k, "").strip() for k in ("company", "phone", "email"))
    known = Customer.objects.filter(merged_into__isnull=True)
    match = None
    if company:
        match = known.filter(name_key=name_key(company)).first()
    if match is None and email:
        match = known.filter(email__iexact=email).first()
    if match is None and phone:
        match = known.filter(phone=phone).first()
    if match is not None:
        return _("already a customer: %(name)s") % {"name": match.name}
    other = DealRegistration.objects.exclude(partner_id=partner_id)
    if company:
        hit = Lead.objects.filter(pk__in=other.values("lead_id"), company__iexact=company).exists()
        if hit:
            return _("registered by another partner first")
    return ""


def deal_register(*, profile: PortalUser, data: dict):
    """A partner registers a deal: a lead (source: referral) assigned by the sales app's assignment rules
    (else to the partner account's owner), deduplicated against customers and other partners' registrations."""
    from kehu.sales.models import LeadSource
    from kehu.sales.services.leads import lead_capture_system
    from kehu.service.services.conversation import system_user

    if not profile.is_partner:
        raise PermissionDenied(_("Only partner users register deals."))
    fields = ("company", "name", "phone", "email", "city", "need", "budget")
    clean = {k: v for k, v in data.items() if k in fields and v not in (None, "")}
    if not (clean.get("company") or clean.get("name")):
        raise ValidationError({"company": _("Give the company or the contact name.")})
    conflict = _conflict_of(clean, profile.customer_id)
    with transaction.atomic():
        lead = lead_capture_system(
            data={
                **clean,
                "message": _("Registered by partner %(partner)s") % {"partner": profile.customer.name},
            },
            source=LeadSource.REFERRAL,
            note=_("deal registration by %(user)s (%(partner)s)")
            % {"user": profile.user.email, "partner": profile.customer.name},
            fallback_owner=profile.customer.owner or system_user(),
        )
        registration = DealRegistration.objects.create(
            partner=profile.customer,
            registered_by=profile.user,
            lead=lead,
            outcome=DealRegistration.Outcome.CONFLICT if conflict else DealRegistration.Outcome.NEW,
            conflict_note=conflict[:300],
        )
        activity_record(
            profile=profile,
            action="deal",
            summary=_("registered a deal: %(company)s")
            % {"company": clean.get("company") or clean.get("name")},
        )
        owner = lead.owner
        if owner is not None:
            transaction.on_commit(
                partial(
                    notify,
                    user=owner,
                    title=_("New partner deal: %(company)s")
                    % {"company": clean.get("company") or clean.get("name")},
                    body=conflict,
                    url=lead.get_absolute_url(),
                )
            )
    return registration


def partner_customer_link(*, partner: Customer, customer: Customer, by: User) -> PartnerLink:
    """Staff record that `customer` is served through `partner` (its partner users then see its orders)."""
    _staff_only(by)
    for record in (partner, customer):
        if not Access.of(by).filter(Customer.objects.filter(pk=record.pk)).exists():
            raise Http404
    with transaction.atomic():
        records.lock_for_write(partner, by)
        link, _created = PartnerLink.objects.get_or_create(partner=partner, customer=customer)
    return link
