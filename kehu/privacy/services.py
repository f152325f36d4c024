"""Data-subject requests: record, approve (four eyes for erasure), run, reject; every step audited, deadlines
tracked (docs/privacy.md)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.access import Access

from . import erasure, export
from .models import PrivacyRequest, RequestKind, RequestStatus

#: customer fields a correction may change (through the customers' own update service and its validation)
CORRECTABLE = (
    "name",
    "alias",
    "phone",
    "email",
    "city",
    "job_title",
    "website",
    "tax_id",
    "birthday",
    "contact_person",
    "notes",
    "preferred_language",
    "gender",
)


def _need(user, action: str) -> Access:
    access = Access.of(user)
    if not access.can(action, "privacy.privacyrequest"):
        raise PermissionDenied(_("You may not handle privacy requests."))
    return access


def _customer(customer_id):
    from kehu.customers.models import Customer

    customer = Customer._base_manager.filter(pk=customer_id, merged_into__isnull=True).first()
    if customer is None:
        raise ValidationError({"customer_id": _("No such customer.")})
    return customer


def _clean_corrections(corrections) -> dict:
    if not isinstance(corrections, dict) or not corrections:
        raise ValidationError({"corrections": _("Say which fields to correct and their new values.")})
    unknown = sorted(set(corrections) - set(CORRECTABLE))
    if unknown:
        raise ValidationError(
            {"corrections": _("These fields cannot be corrected here: %(f)s") % {"f": ", ".join(unknown)}}
        )
    return {k: ("" if v is None else str(v)) for k, v in corrections.items()}


def request_create(
    *,
    customer_id,
    kind: str,
    requester: str,
    channel: str,
    by,
    details: str = "",
    corrections=None,
    received_on=None,
    verified: bool = False,
) -> PrivacyRequest:
    _need(by, "add")
    customer = _customer(customer_id)
    errors: dict[str, Any] = {}
    if kind not in RequestKind.values:
        errors["kind"] = _("Choose the kind of request.")
    if not (requester or "").strip():
        errors["requester"] = _("Say who asked.")
    from .models import RequestChannel

    if channel not in RequestChannel.values:
        errors["channel"] = _("Choose how the request came in.")
    received = received_on or timezone.localdate()
    if received > timezone.localdate():
        errors["received_on"] = _("The request cannot come from the future.")
    if kind == RequestKind.CORRECTION:
        try:
            corrections = _clean_corrections(corrections)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    else:
        corrections = {}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        req = PrivacyRequest.objects.create(
            kind=kind,
            customer_id=customer.pk,
            subject_label=customer.name[:200],
            requester=requester.strip()[:200],
            channel=channel,
            details=details,
            corrections=corrections,
            received_on=received,
            due_on=PrivacyRequest.deadline(received),
            recorded_by=by,
            verified=verified,
        )
        audit.log(
            actor=by,
            action="create",
            instance=req,
            changes={"kind": [None, kind], "customer": [None, customer.pk], "due_on": [None, req.due_on]},
        )
    return req


def _locked(req: PrivacyRequest) -> PrivacyRequest:
    return PrivacyRequest.objects.select_for_update().get(pk=req.pk)


def request_approve(*, request: PrivacyRequest, by) -> PrivacyRequest:
    _need(by, "change")
    with transaction.atomic():
        req = _locked(request)
        if req.status != RequestStatus.RECEIVED:
            raise ValidationError({"status": _("Only a received request can be approved.")})
        if not req.verified:
            raise ValidationError({"verified": _("Verify the requester's identity first.")})
        if req.kind == RequestKind.ERASURE and req.recorded_by_id == by.pk:
            raise ValidationError(
                {"approved_by": _("An erasure is approved by someone other than who recorded it.")}
            )
        req.status, req.approved_by, req.approved_at = RequestStatus.APPROVED, by, timezone.now()
        req.version += 1
        req.save()
        audit.log(actor=by, action="update", instance=req, changes={"status": ["received", "approved"]})
    return req


def request_verify(*, request: PrivacyRequest, by) -> PrivacyRequest:
    _need(by, "change")
    with transaction.atomic():
        req = _locked(request)
        if not req.is_open:
            raise ValidationError({"status": _("This request is closed.")})
        req.verified = True
        req.version += 1
        req.save()
        audit.log(actor=by, action="update", instance=req, changes={"verified": [False, True]})
    return req


def request_reject(*, request: PrivacyRequest, by, reason: str) -> PrivacyRequest:
    _need(by, "change")
    if not (reason or "").strip():
        raise ValidationError({"rejection_reason": _("Give the reason (it is told to the requester).")})
    with transaction.atomic():
        req = _locked(request)
        if not req.is_open:
            raise ValidationError({"status": _("This request is closed.")})
        before = req.status
        req.status, req.rejection_reason, req.done_by, req.done_at = (
            RequestStatus.REJECTED,
            reason[:300],
            by,
            timezone.now(),
        )
        req.version += 1
        req.save()
        audit.log(actor=by, action="update", instance=req, changes={"status": [before, "rejected"]})
    return req


def request_run(*, request: PrivacyRequest, by) -> PrivacyRequest:
    """Carry out an approved request: build the export, apply the corrections, or erase."""
    _need(by, "change")
    with transaction.atomic():
        req = _locked(request)
        if req.status != RequestStatus.APPROVED:
            raise ValidationError({"status": _("Only an approved request can be carried out.")})
        customer = _customer(req.customer_id)
        if req.kind == RequestKind.ACCESS:
            data = export.export_personal_data(customer, audience="staff")
            req.export_file = data
            req.outcome = {"export_bytes": len(data)}
        elif req.kind == RequestKind.CORRECTION:
            from kehu.customers.services import customer_update

            before = {k: getattr(customer, k) for k in req.corrections}
            customer_update(
                customer=customer,
                data=dict(req.corrections),
                by=by,
                expected_version=customer.version,
                note=f"privacy correction (request #{req.pk})",
            )
            req.outcome = {
                "fields_corrected": sorted(k for k in req.corrections if before[k] != req.corrections[k])
            }
        else:
            req.outcome = erasure.erase_customer(customer_id=customer.pk, by=by, request_id=req.pk)
            req.subject_label = erasure.erased_name(customer.pk)
            req.details = ""
            req.requester = erasure.ERASED
        req.status, req.done_by, req.done_at = RequestStatus.DONE, by, timezone.now()
        req.version += 1
        req.save()
        audit.log(
            actor=by,
            action="update",
            instance=req,
            changes={"status": ["approved", "done"], "outcome": req.outcome},
        )
    return req


def overdue(*, today=None):
    today = today or timezone.localdate()
    return PrivacyRequest.objects.filter(
        status__in=[RequestStatus.RECEIVED, RequestStatus.APPROVED], due_on__lt=today
    ).order_by("due_on", "id")
