"""Lead conversion: one step from a qualified lead to a customer (+ contact for organisations) + opportunity.

The dedup engine (kehu.customers.dedup.similar_customers) proposes existing customers; conversion refuses to
create a new customer while likely duplicates exist unless the user chose one of them (`customer`) or
confirmed a new one (`create_customer=True`). The lead's activities move onto the customer's timeline.

Concurrency: the lead's row is locked first (lock_for_write); a second conversion of the same lead waits for
the first to commit, then finds the lead converted and is refused — one customer, one opportunity."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit, records
from kehu.core.access import Access
from kehu.core.exceptions import BusinessRuleError, StaleRecordError
from kehu.core.models import AuditAction
from kehu.customers.dedup import similar_customers
from kehu.customers.models import Customer, Kind
from kehu.customers.services import customer_create
from kehu.interactions.services import timeline_event_record

from ..models import Lead, LeadActivity, LeadSource, LeadStatus, Opportunity, Pipeline, Stage
from .opportunities import opportunity_create

# lead source -> customer source
CUSTOMER_SOURCE = {
    LeadSource.WEB_FORM: "web",
    LeadSource.CAMPAIGN: "campaign",
    LeadSource.REFERRAL: "referral",
    LeadSource.TRADE_SHOW: "trade_show",
    LeadSource.CALL: "call",
    LeadSource.IMPORT: "import",
}


class LeadAlreadyConverted(BusinessRuleError):
    def __init__(self, lead: Lead) -> None:
        self.lead = lead
        super().__init__(
            _("This lead was already converted (by %(who)s).") % {"who": lead.converted_by or _("someone")},
            field="status",
        )


class DuplicateCustomers(BusinessRuleError):
    """Likely existing customers: choose one (`customer`) or confirm a new one (`create_customer`)."""

    def __init__(self, candidates: list[tuple[Customer, float, list[str]]]) -> None:
        self.candidates = candidates
        super().__init__(
            _("Customers like this one already exist: choose one of them or confirm a new customer."),
            field="customer",
        )


@dataclass
class Conversion:
    lead: Lead
    customer: Customer
    contact: Customer | None
    opportunity: Opportunity | None
    created_customer: bool


def lead_duplicates(*, lead: Lead, user, limit: int = 5) -> list[tuple[Customer, float, list[str]]]:
    """Existing customers (that `user` may see) the lead probably is: by company (or person) name, phone and
    email, scored by the dedup engine, best first."""
    data = {
        "name": lead.company if lead.kind == Kind.ORGANIZATION else lead.name,
        "kind": lead.kind,
        "phone": lead.phone if lead.kind == Kind.PERSON else "",
        "email": lead.email if lead.kind == Kind.PERSON else "",
    }
    found = similar_customers(data=data, user=user, limit=limit)
    if lead.kind == Kind.ORGANIZATION and (lead.phone or lead.email):
        # an organisation lead's phone/email belong to its contact person: a match there points at the account
        for contact, score, reasons in similar_customers(
            data={"name": lead.name, "kind": Kind.PERSON, "phone": lead.phone, "email": lead.email},
            user=user,
            limit=limit,
        ):
            account = contact.account if contact.account_id else None
            if account is not None and all(c.pk != account.pk for c, _s, _r in found):
                found.append((account, score, reasons))
    found.sort(key=lambda row: -row[1])
    return found[:limit]


def lead_convert(
    *,
    lead: Lead,
    by,
    customer: Customer | None = None,
    create_customer: bool = False,
    create_opportunity: bool = True,
    opportunity: dict | None = None,
    expected_version: int | None = None,
) -> Conversion:
    """Convert `lead` as `by` (change right and write scope on the lead; add right on customers unless an
    existing `customer` is chosen, which `by` must see; add right on opportunities when one is created).

    Creates (or reuses) the customer — an organisation with the lead's contact person as its contact, or a
    person — and an opportunity in the default (or given) pipeline's first stage, amount = the lead's budget
    unless `opportunity` says otherwise. Copies the lead's activities onto the customer's timeline (idempotent
    per activity) and records a 'converted from lead' event. Marks the lead converted with links to what it
    became. All in one transaction; nothing is half-saved."""
    opportunity = dict(opportunity or {})
    with transaction.atomic():
        locked, access = records.lock_for_write(lead, by)
        if locked.status == LeadStatus.CONVERTED:
            raise LeadAlreadyConverted(locked)
        if locked.status == LeadStatus.DISQUALIFIED:
            raise BusinessRuleError(
                _("A disqualified lead cannot be converted; reopen it first."), field="status"
            )
        if expected_version is not None and locked.version != expected_version:
            raise StaleRecordError(
                locked, expected_version, audit.changes_since("sales.lead", locked.pk, expected_version)
            )
        if create_opportunity and not access.can("add", Opportunity):
            raise PermissionDenied(_("You do not have the right to add opportunities."))
        owner = (
            locked.owner
            if locked.owner_id and (locked.owner_id == by.pk or access.can("transfer", Customer))
            else by
        )
        created = False
        if customer is not None:
            from kehu.customers.selectors import customer_list

            if not customer_list(user=by).filter(pk=customer.pk).exists():
                raise Http404
            account = customer
        else:
            if not create_customer:
                candidates = lead_duplicates(lead=locked, user=by)
                if candidates:
                    raise DuplicateCustomers(candidates)
            account = customer_create(
                data=_customer_data(locked, owner),
                by=by,
                note=_("converted from lead #%(id)s") % {"id": locked.pk},
            )
            created = True
        contact = _contact_for(locked, account, owner, by) if account.kind == Kind.ORGANIZATION else None
        opp = None
        if create_opportunity:
            data = {
                "name": opportunity.pop("name", None) or _deal_name(locked),
                "customer": account,
                "contact": contact,
                "amount": locked.budget or Decimal("0"),
                "currency": locked.currency,
                "source": locked.source,
                "owner": owner,
                **opportunity,
            }
            if isinstance(data.get("pipeline"), int):
                data["pipeline"] = Pipeline.objects.get(pk=data["pipeline"])
            if isinstance(data.get("stage"), int):
                data["stage"] = Stage.objects.get(pk=data["stage"])
            opp = opportunity_create(data=data, by=by)
            Opportunity.objects.filter(pk=opp.pk).update(lead=locked)
            opp.lead = locked
        _move_history(locked, contact or account)
        now = timezone.now()
        before = audit.snapshot(locked)
        locked.status = LeadStatus.CONVERTED
        locked.converted_at, locked.converted_by = now, by
        locked.converted_customer, locked.converted_contact, locked.converted_opportunity = (
            account,
            contact,
            opp,
        )
        if locked.first_contacted_at is None:
            locked.first_contacted_at = now
        locked.version += 1
        locked.updated_at = now
        locked.full_clean(validate_unique=False, validate_constraints=False)
        locked.save()
        audit.log(
            actor=by,
            action=AuditAction.UPDATE,
            instance=locked,
            changes=audit.diff(before, audit.snapshot(locked)),
            note=_("converted"),
        )
        timeline_event_record(
            customer=contact or account,
            subject=_("Converted from lead: %(lead)s") % {"lead": locked},
            related_model="sales.lead",
            related_id=locked.pk,
            url=locked.get_absolute_url(),
            occurred_at=locked.created_at,
            body=locked.message or locked.need,
        )
    lead.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return Conversion(
        lead=locked, customer=account, contact=contact, opportunity=opp, created_customer=created
    )


def _deal_name(lead: Lead) -> str:
    base = lead.company or lead.name
    return f"{base} – {lead.product_line.name}" if lead.product_line is not None else base


def _customer_data(lead: Lead, owner) -> dict:
    data = {
        "kind": lead.kind,
        "name": lead.company if lead.kind == Kind.ORGANIZATION else lead.name,
        "city": lead.city,
        "source": CUSTOMER_SOURCE.get(LeadSource(lead.source), "other"),
        "owner": owner,
        "notes": lead.need,
    }
    if lead.kind == Kind.PERSON:
        data.update(phone=lead.phone, email=lead.email, job_title=lead.job_title)
    return data


def _contact_for(lead: Lead, account: Customer, owner, by) -> Customer | None:
    """The lead's contact person under `account`: an existing contact with the same phone or email, else a
    new one (none when the lead names nobody)."""
    if not (lead.name or lead.phone or lead.email):
        return None
    existing = Customer.objects.filter(account=account, kind=Kind.PERSON, merged_into__isnull=True)
    for field, value in (("phone", lead.phone), ("email", lead.email)):
        if value:
            match = existing.filter(**{field: value}).first()
            if match is not None:
                return match
    if not lead.name:
        return None
    if not Access.of(by).can("add", Customer):
        raise PermissionDenied(_("You do not have the right to add customers."))
    return customer_create(
        data={
            "kind": Kind.PERSON,
            "name": lead.name,
            "account": account,
            "phone": lead.phone,
            "email": lead.email,
            "job_title": lead.job_title,
            "city": lead.city,
            "owner": owner,
        },
        by=by,
        note=_("converted from lead #%(id)s") % {"id": lead.pk},
    )


def _move_history(lead: Lead, customer: Customer) -> int:
    """Copy the lead's activities onto the customer's timeline, keeping channel, time and who handled them."""
    moved = 0
    for activity in (
        LeadActivity.objects.filter(lead=lead).select_related("user").order_by("occurred_at", "id")
    ):
        timeline_event_record(
            customer=customer,
            subject=activity.subject,
            related_model="sales.leadactivity",
            related_id=activity.pk,
            url=lead.get_absolute_url(),
            occurred_at=activity.occurred_at,
            body=activity.body,
            channel=activity.channel,
            direction="out" if activity.channel != "note" else "internal",
            user=activity.user,
        )
        moved += 1
    return moved
