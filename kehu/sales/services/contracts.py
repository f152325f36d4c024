"""Contracts: from an accepted quote, a won opportunity or by hand; number sequence; approval by the owner's
approver (the quote approval's rule: the approver role of the owner's discount limit, else the department
manager); signing; termination.

Status flow: draft → pending (submit) → approved / rejected (decide) → active (sign, signed date) →
expired / terminated; a rejected contract goes back to draft when edited or resubmitted."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import records
from kehu.core.exceptions import BusinessRuleError

from ..models import Contract, ContractStatus, Opportunity, OpportunityStatus, Quote, QuoteStatus
from .documents import ensure_customer_visible, next_number, timeline, with_number_retry, write_locked

CONTRACT_TRANSITIONS: dict[str, set[str]] = {
    ContractStatus.DRAFT: {ContractStatus.PENDING_APPROVAL},
    ContractStatus.PENDING_APPROVAL: {ContractStatus.APPROVED, ContractStatus.REJECTED},
    ContractStatus.REJECTED: {ContractStatus.DRAFT, ContractStatus.PENDING_APPROVAL},
    ContractStatus.APPROVED: {ContractStatus.ACTIVE, ContractStatus.TERMINATED},
    ContractStatus.ACTIVE: {ContractStatus.EXPIRED, ContractStatus.TERMINATED},
    ContractStatus.EXPIRED: set(),
    ContractStatus.TERMINATED: set(),
}


def contract_create(
    *, data: dict, by, quote: Quote | None = None, opportunity: Opportunity | None = None
) -> Contract:
    """A draft contract. From an accepted quote: customer, currency, amount (the quote's total) and terms are
    taken from it; from a won opportunity: customer, currency and amount. Given data wins over both."""
    data = dict(data)
    if quote is not None:
        if quote.status != QuoteStatus.ACCEPTED:
            raise BusinessRuleError(_("A contract is made from an accepted quote."), field="quote")
        data = {
            "title": quote.title or str(quote),
            "customer": quote.customer,
            "currency": quote.currency,
            "amount": quote.total,
            "terms": quote.terms,
            "opportunity": quote.opportunity,
            **data,
            "quote": quote,
        }
    elif opportunity is not None:
        if opportunity.status != OpportunityStatus.WON:
            raise BusinessRuleError(_("A contract is made from a won opportunity."), field="opportunity")
        data = {
            "title": opportunity.name,
            "customer": opportunity.customer,
            "currency": opportunity.currency,
            "amount": opportunity.amount,
            **data,
            "opportunity": opportunity,
        }
    customer = data.get("customer")
    if customer is None:
        raise ValidationError({"customer": [_("Choose the customer.")]})
    ensure_customer_visible(customer, by)
    data.setdefault("start_date", timezone.localdate())

    def create() -> Contract:
        number = data.get("number") or next_number(Contract, "HT", data["start_date"])
        return records.record_create(model=Contract, data={**data, "number": number}, by=by)

    with transaction.atomic():
        if quote is not None:
            # one live contract per quote: a second click (or a colleague at the same time) is refused
            Quote.objects.select_for_update().filter(pk=quote.pk).first()
            existing = live_contract_of(quote)
            if existing is not None:
                raise BusinessRuleError(
                    _("This quote already has the contract %(c)s.") % {"c": existing.number}, field="quote"
                )
        contract = with_number_retry(create)
        timeline(contract, "sales.contract.created", _("Contract %(c)s created") % {"c": contract.number})
    return contract


def live_contract_of(quote: Quote) -> Contract | None:
    """The contract made from `quote` that is not rejected or terminated (the newest), if any."""
    return (
        Contract.objects.filter(quote=quote)
        .exclude(status__in=[ContractStatus.REJECTED, ContractStatus.TERMINATED])
        .order_by("-id")
        .first()
    )


def contract_update(*, contract: Contract, data: dict, by, expected_version: int | None) -> Contract:
    """Edit a contract that is not yet in force (draft or rejected); the amount never drops below what was
    received or invoiced (the model's rule)."""
    if contract.status not in (ContractStatus.DRAFT, ContractStatus.REJECTED):
        raise BusinessRuleError(_("A contract under approval or in force cannot be edited."), field="status")
    with transaction.atomic():
        return records.record_update(instance=contract, data=data, by=by, expected_version=expected_version)


def contract_delete(*, contract: Contract, by, expected_version: int | None = None) -> None:
    """Delete a contract through the record service (delete right, write scope, version check, audit). Its
    instalments and attachments go with it (CASCADE); the attachments' stored files are removed after the
    commit, so a refused or rolled-back deletion (e.g. payments recorded: PROTECT) keeps every file. The
    contract row is locked before the files are listed, so an upload at the same moment (it locks the
    contract too) either lands before and is removed, or waits and finds the contract gone."""
    from kehu.core.models import Action

    from ..models import ContractAttachment
    from .attachments import stored_files_remove_on_commit

    with transaction.atomic():
        locked, _access = records.lock_for_write(contract, by, Action.DELETE)
        stored_files_remove_on_commit(ContractAttachment.objects.filter(contract=locked))
        records.record_delete(instance=locked, by=by, expected_version=expected_version)


def contract_set_status(
    *,
    contract: Contract,
    status: str,
    by,
    comment: str = "",
    signed_date=None,
    expected_version: int | None = None,
) -> Contract:
    """Move the contract along CONTRACT_TRANSITIONS. 'Awaiting approval' starts a request on the approval
    engine (the contract chain that matches); approve/reject decide its current step (an approver of that
    step, never the owner; a rejection needs a comment) and the last step's approval — or any rejection —
    sets the status (kehu.sales.approvals). Activation (signing) needs the signed date (not in the future)."""
    from kehu.approvals.services import approval_decide_record, start_approval

    with transaction.atomic():
        locked, _access = records.lock_for_write(contract, by)
        if expected_version is not None and locked.version != expected_version:
            from kehu.core import audit
            from kehu.core.exceptions import StaleRecordError

            raise StaleRecordError(
                locked, expected_version, audit.changes_since("sales.contract", locked.pk, expected_version)
            )
        if status not in CONTRACT_TRANSITIONS.get(locked.status, set()):
            raise BusinessRuleError(
                _("A contract that is %(old)s cannot become %(new)s.")
                % {"old": locked.get_status_display(), "new": ContractStatus(status).label},
                field="status",
            )
        changes: dict = {"status": status}
        if status in (ContractStatus.APPROVED, ContractStatus.REJECTED):
            approval_decide_record(
                record=locked, approve=status == ContractStatus.APPROVED, comment=comment, by=by
            )
            contract.refresh_from_db()
            locked.refresh_from_db()
            return locked
        if status == ContractStatus.ACTIVE:
            signed = signed_date or locked.signed_date
            if signed is None:
                raise ValidationError({"signed_date": [_("Enter the date the contract was signed.")]})
            if signed > timezone.localdate():
                raise ValidationError({"signed_date": [_("The signing date cannot be in the future.")]})
            changes["signed_date"] = signed
        write_locked(locked, by, changes, note=comment.strip()[:300])
        number = locked.number
        if status == ContractStatus.PENDING_APPROVAL:
            start_approval(locked, by, reason=comment)
        elif status == ContractStatus.ACTIVE:
            timeline(locked, "sales.contract.signed", _("Contract %(c)s signed") % {"c": number})
    contract.refresh_from_db()
    return locked
