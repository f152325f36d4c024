"""Customer use cases: create/update (through the record service), contact points, consent, lifecycle."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit, records
from kehu.core.models import Action, AuditAction

from . import keys
from .models import (
    ConsentEvent,
    ConsentStatus,
    Customer,
    CustomerEmail,
    CustomerPhone,
    LifecycleChange,
    Stage,
)


def customer_create(*, data: dict, by, note: str = "") -> Customer:
    """Create a customer; its primary phone/email also become contact-point rows; the first lifecycle stage
    is recorded in the lifecycle history."""
    with transaction.atomic():
        customer = records.record_create(model=Customer, data=data, by=by, note=note)
        _sync_primary_points(customer)
        LifecycleChange.objects.create(
            customer=customer, from_stage="", to_stage=customer.lifecycle_stage, by=by, reason=_("Created")
        )
    return customer


def customer_update(
    *,
    customer: Customer,
    data: dict,
    by,
    expected_version: int | None,
    reason: str = "",
    note: str = "",
    children=None,
) -> Customer:
    """Update a customer through the record service (`children`: see records.record_update); a change of
    lifecycle stage is recorded in the lifecycle history."""
    with transaction.atomic():
        before_stage = (
            Customer.objects.filter(pk=customer.pk).values_list("lifecycle_stage", flat=True).first()
        )
        updated = records.record_update(
            instance=customer,
            data=data,
            by=by,
            expected_version=expected_version,
            note=note,
            children=children,
        )
        _sync_primary_points(updated)
        if before_stage != updated.lifecycle_stage:
            LifecycleChange.objects.create(
                customer=updated,
                from_stage=before_stage or "",
                to_stage=updated.lifecycle_stage,
                by=by,
                reason=reason,
            )
    return updated


def _sync_primary_points(customer: Customer) -> None:
    """The primary phone/email columns mirror a contact-point row (so search and dedup see every number)."""
    if customer.phone:
        CustomerPhone.objects.filter(customer=customer).exclude(number=customer.phone).update(
            is_primary=False
        )
        CustomerPhone.objects.update_or_create(
            customer=customer, number=customer.phone, defaults={"is_primary": True}
        )
    if customer.email:
        CustomerEmail.objects.filter(customer=customer).exclude(email=customer.email).update(is_primary=False)
        CustomerEmail.objects.update_or_create(
            customer=customer, email=customer.email, defaults={"is_primary": True}
        )
    refresh_search_keys(customer)


def refresh_search_keys(customer: Customer) -> None:
    keys.refresh(customer)
    Customer.objects.filter(pk=customer.pk).update(
        name_key=customer.name_key,
        name_pinyin=customer.name_pinyin,
        name_initials=customer.name_initials,
        search_text=customer.search_text,
        search_restricted=customer.search_restricted,
    )


def contact_point_add(
    *, customer: Customer, kind: str, value: str, by, label: str = "", address: dict | None = None
) -> Model:
    """Add a phone ('phone'), email ('email'), social id ('social') or address ('address') to a customer,
    validated and audited. `label` is the phone kind, the email label or the social network; an address
    takes `value` as its street and its other fields (city, district, postal_code, ...) from `address`."""
    from .models import CustomerAddress, SocialIdentity

    with transaction.atomic():
        locked, _access = records.lock_for_write(customer, by)
        obj: Model
        if kind == "phone":
            phone = CustomerPhone(customer=locked, number=value, kind=label or CustomerPhone.PhoneKind.MOBILE)
            phone.full_clean(exclude=["customer"])
            if CustomerPhone.objects.filter(customer=locked, number=phone.number).exists():
                raise ValidationError({"number": _("This customer already has this phone number.")})
            obj = phone
        elif kind == "email":
            email = CustomerEmail(customer=locked, email=value, label=label)
            email.full_clean(exclude=["customer"])
            if CustomerEmail.objects.filter(customer=locked, email=email.email).exists():
                raise ValidationError({"email": _("This customer already has this email address.")})
            obj = email
        elif kind == "social":
            social = SocialIdentity(
                customer=locked, network=label or SocialIdentity.Network.WECHAT, handle=value
            )
            social.full_clean(exclude=["customer"])
            if SocialIdentity.objects.filter(network=social.network, handle=social.handle).exists():
                raise ValidationError({"handle": _("This id already belongs to a customer.")})
            obj = social
        elif kind == "address":
            obj = CustomerAddress(customer=locked, street=value, **(address or {}))
            obj.full_clean(exclude=["customer"])
        else:
            raise ValidationError(_("Unknown contact point type."))
        obj.save()
        _bump(locked, by, {f"{kind}s": [None, str(obj)]})
        refresh_search_keys(locked)
    return obj


def contact_point_remove(*, customer: Customer, obj, by) -> None:
    with transaction.atomic():
        locked, _access = records.lock_for_write(customer, by)
        text = str(obj)
        if obj.customer_id != locked.pk:
            raise ValidationError(_("This contact point belongs to another customer."))
        obj.delete()
        _bump(locked, by, {f"{obj._meta.model_name}": [text, None]})
        refresh_search_keys(locked)


def _bump(customer: Customer, by, changes: dict) -> None:
    Customer.objects.filter(pk=customer.pk).update(version=customer.version + 1, updated_at=timezone.now())
    customer.version += 1
    audit.log(actor=by, action=AuditAction.UPDATE, instance=customer, changes=changes)


def consent_record(
    *, customer: Customer, channel: str, status: str, method: str, by=None, evidence: str = "", at=None
) -> ConsentEvent:
    """Record a consent grant or withdrawal (append-only) and update the customer's current consent.
    `by` None means the customer acted themselves (portal, unsubscribe link); then no staff right is needed."""
    with transaction.atomic():
        if by is not None:
            locked, _access = records.lock_for_write(customer, by)
        else:
            locked = Customer.objects.select_for_update().get(pk=customer.pk)
        event = ConsentEvent(
            customer=locked,
            channel=channel,
            status=status,
            method=method,
            evidence=evidence,
            at=at or timezone.now(),
            recorded_by=by,
        )
        event.full_clean(exclude=["customer", "recorded_by"])
        event.save()
        current = dict(locked.consent or {})
        before = current.get(channel, {}).get("status")
        current[channel] = {"status": status, "at": event.at.isoformat(), "method": method}
        Customer.objects.filter(pk=locked.pk).update(
            consent=current, version=locked.version + 1, updated_at=timezone.now()
        )
        locked.consent, locked.version = current, locked.version + 1
        audit.log(
            actor=by,
            action=AuditAction.UPDATE,
            instance=locked,
            changes={f"consent.{channel}": [before, status]},
            note=method,
        )
    customer.consent, customer.version = locked.consent, locked.version
    return event


def has_consent(customer: Customer, channel: str) -> bool:
    return (customer.consent or {}).get(channel, {}).get("status") == ConsentStatus.GRANTED


def lifecycle_set(
    *, customer: Customer, stage: str, by, reason: str = "", expected_version: int | None = None
) -> Customer:
    if stage not in Stage.values:
        raise ValidationError({"lifecycle_stage": _("Unknown lifecycle stage.")})
    return customer_update(
        customer=customer,
        data={"lifecycle_stage": stage},
        by=by,
        expected_version=expected_version,
        reason=reason,
    )


__all__ = ["Action", "customer_create", "customer_update", "consent_record", "lifecycle_set"]
