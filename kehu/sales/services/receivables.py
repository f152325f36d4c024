"""Collections: the receivable plan (回款计划) of a contract, payments received (回款) allocated to
instalments, invoice requests (开票), overdue reminders.

Every write takes the contract's row lock first (select_for_update), so the cross-row limits hold with any
number of concurrent users and finance calls: a payment never exceeds what is outstanding, live invoice
requests never exceed the contract amount, `Instalment.paid_amount` and `Contract.paid_amount/invoiced_amount`
always equal the sums they stand for."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import DecimalField, F, Min, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit, records
from kehu.core.exceptions import BusinessRuleError
from kehu.core.models import AuditAction

from ..models import (
    INVOICE_COUNTED,
    UNPAID_STATUSES,
    Contract,
    ContractStatus,
    Instalment,
    InstalmentStatus,
    InvoiceRequest,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
)
from ..money import ZERO, cents
from .documents import tell, timeline, write_locked

LIVE_CONTRACT = (
    ContractStatus.DRAFT,
    ContractStatus.PENDING_APPROVAL,
    ContractStatus.APPROVED,
    ContractStatus.ACTIVE,
)


def _lock_contract(contract: Contract, by, model) -> Contract:
    """Lock the contract after checking that `by` may add `model` rows under it (own actions, the contract's
    scope: 404 outside the read scope, 403 outside the write scope)."""
    access = records.ensure(by, "add", model)
    base = Contract.objects.filter(pk=contract.pk)
    if not access.filter(base).exists():
        raise Http404
    return base.select_for_update().get()


def instalment_plan_set(*, contract: Contract, rows: list[dict], by) -> list[Instalment]:
    """Replace the not-yet-paid instalments of the plan with `rows` ({due_date, amount, notes}). Instalments
    with money received stay as they are; the plan (kept + new) must add up to the contract amount."""
    with transaction.atomic():
        locked = _lock_contract(contract, by, Instalment)
        kept = list(Instalment.objects.filter(contract=locked, allocations__isnull=False).distinct())
        total = sum((i.amount for i in kept), ZERO)
        errors: dict = {}
        clean_rows = []
        for n, row in enumerate(rows, 1):
            amount = row.get("amount")
            try:
                amount = cents(Decimal(str(amount)))
            except (ArithmeticError, ValueError, TypeError):
                errors[f"rows.{n}.amount"] = [_("Enter an amount.")]
                continue
            if amount <= 0:
                errors[f"rows.{n}.amount"] = [_("The amount must be greater than zero.")]
            if not row.get("due_date"):
                errors[f"rows.{n}.due_date"] = [_("Enter the due date.")]
            clean_rows.append((row.get("due_date"), amount, (row.get("notes") or "")[:300]))
            total += amount
        if errors:
            raise ValidationError(errors)
        if total != locked.amount:
            raise ValidationError(
                {
                    "amount": [
                        _("The instalments add up to %(sum)s, the contract amount is %(amount)s.")
                        % {"sum": total, "amount": locked.amount}
                    ]
                }
            )
        removed = Instalment.objects.filter(contract=locked).exclude(pk__in=[i.pk for i in kept])
        for inst in removed:
            records.record_delete(instance=inst, by=by)
        sequence = max((i.sequence for i in kept), default=0)
        made = []
        for due, amount, notes in sorted(clean_rows, key=lambda r: str(r[0])):
            sequence += 1
            made.append(
                records.record_create(
                    model=Instalment,
                    data={
                        "contract": locked,
                        "sequence": sequence,
                        "due_date": due,
                        "amount": amount,
                        "currency": locked.currency,
                        "notes": notes,
                    },
                    by=by,
                )
            )
        contract_receivables_refresh(contract_ids=[locked.pk])
    return kept + made


def payment_record(
    *, contract: Contract, data: dict, by, allocations: dict[int, Decimal] | None = None
) -> Payment:
    """Record money received against a contract and allocate it to instalments (`{instalment id: amount}`,
    or oldest due first when not given). Refused on the `amount` field when larger than what is outstanding;
    with an `external_ref` (finance) a replay returns the stored payment. Timeline event `sales.payment`."""
    data = dict(data)
    ref = (data.get("external_ref") or "").strip() or None
    if ref:
        existing = Payment.objects.filter(external_ref=ref).first()
        if existing is not None:
            if existing.contract_id != contract.pk:
                raise ValidationError({"external_ref": [_("This reference belongs to another payment.")]})
            return existing
    try:
        with transaction.atomic():
            locked = _lock_contract(contract, by, Payment)
            if locked.status not in LIVE_CONTRACT:
                raise BusinessRuleError(_("This contract no longer takes payments."), field="contract")
            amount = data.get("amount")
            outstanding = locked.amount - locked.paid_amount
            if amount is not None and amount > outstanding:
                raise ValidationError(
                    {
                        "amount": [
                            _("Only %(left)s %(currency)s are outstanding on this contract.")
                            % {"left": outstanding, "currency": locked.currency}
                        ]
                    }
                )
            payment = records.record_create(
                model=Payment,
                data={
                    "currency": locked.currency,
                    **data,
                    "contract": locked,
                    "external_ref": ref,
                    "recorded_by": by,
                },
                by=by,
            )
            _allocate(locked, payment, allocations)
            locked.paid_amount = locked.paid_amount + payment.amount
            Contract.objects.filter(pk=locked.pk).update(paid_amount=locked.paid_amount)
            timeline(
                locked,
                "sales.payment",
                _("Payment received: %(amount)s %(currency)s (contract %(c)s)")
                % {"amount": payment.amount, "currency": payment.currency, "c": locked.number},
                related_id=payment.pk,
            )
    except IntegrityError:
        existing = Payment.objects.filter(external_ref=ref).first() if ref else None
        if existing is None:
            raise
        return existing
    return payment


def contract_receivables_refresh(*, contract_ids) -> int:
    """Recompute the contracts' derived receivable figures from their instalments in one UPDATE:
    `receivable_outstanding` (unpaid instalments' amount less what was received on them) and
    `receivable_due_from` (their first due date). Called in the transaction that changed the plan or a
    payment, under the contract's row lock; `contract_ids` may be a list or a queryset of ids. Not audited
    and no version bump: derived figures, like `paid_amount`."""
    unpaid = (
        Instalment.objects.filter(contract=OuterRef("pk"), status__in=UNPAID_STATUSES)
        .order_by()  # the model's ordering (by contract) would join the contracts
        .values("contract")
    )
    return Contract.objects.filter(pk__in=contract_ids).update(
        receivable_outstanding=Coalesce(
            Subquery(unpaid.annotate(s=Sum(F("amount") - F("paid_amount"))).values("s")[:1]),
            Value(ZERO),
            output_field=DecimalField(max_digits=16, decimal_places=2),
        ),
        receivable_due_from=Subquery(unpaid.annotate(m=Min("due_date")).values("m")[:1]),
    )


def _allocate(contract: Contract, payment: Payment, allocations: dict[int, Decimal] | None) -> None:
    open_ = list(
        Instalment.objects.filter(contract=contract, status__in=UNPAID_STATUSES).order_by(
            "due_date", "sequence"
        )
    )
    by_id = {i.pk: i for i in open_}
    plan: list[tuple[Instalment, Decimal]] = []
    if allocations:
        total = ZERO
        for inst_id, amount in allocations.items():
            inst = by_id.get(int(inst_id))
            amount = cents(Decimal(str(amount)))
            if inst is None:
                raise ValidationError(
                    {"allocations": [_("Allocate only to open instalments of this contract.")]}
                )
            if amount <= 0 or amount > inst.outstanding:
                raise ValidationError(
                    {
                        "allocations": [
                            _("Instalment %(n)s has %(left)s outstanding.")
                            % {"n": inst.sequence, "left": inst.outstanding}
                        ]
                    }
                )
            plan.append((inst, amount))
            total += amount
        if total > payment.amount:
            raise ValidationError({"allocations": [_("The allocations exceed the payment.")]})
    else:
        left = payment.amount
        for inst in open_:
            if left <= 0:
                break
            share = min(left, inst.outstanding)
            plan.append((inst, share))
            left -= share
    for inst, amount in plan:
        PaymentAllocation.objects.create(payment=payment, instalment=inst, amount=amount)
        inst.paid_amount += amount
        inst.full_clean(validate_unique=False, validate_constraints=False)  # status from the amounts
        Instalment.objects.filter(pk=inst.pk).update(paid_amount=inst.paid_amount, status=inst.status)
    contract_receivables_refresh(contract_ids=[contract.pk])


def invoice_request_create(*, contract: Contract, data: dict, by) -> InvoiceRequest:
    """Ask finance for a VAT invoice. Refused on `amount` above the contract amount minus the live requests."""
    with transaction.atomic():
        locked = _lock_contract(contract, by, InvoiceRequest)
        live = (
            InvoiceRequest.objects.filter(contract=locked, status__in=INVOICE_COUNTED).aggregate(
                s=Sum("amount")
            )["s"]
            or ZERO
        )
        amount = data.get("amount")
        if amount is not None and amount > locked.amount - live:
            raise ValidationError(
                {
                    "amount": [
                        _("Only %(left)s %(currency)s of the contract are not yet invoiced or requested.")
                        % {"left": locked.amount - live, "currency": locked.currency}
                    ]
                }
            )
        invoice = records.record_create(
            model=InvoiceRequest,
            data={**data, "contract": locked, "currency": locked.currency, "requested_by": by},
            by=by,
        )
        Contract.objects.filter(pk=locked.pk).update(invoiced_amount=live + invoice.amount)
    return invoice


INVOICE_TRANSITIONS: dict[str, set[str]] = {
    InvoiceStatus.REQUESTED: {
        InvoiceStatus.APPROVED,
        InvoiceStatus.REJECTED,
        InvoiceStatus.CANCELLED,
        InvoiceStatus.ISSUED,
    },
    InvoiceStatus.APPROVED: {InvoiceStatus.ISSUED, InvoiceStatus.CANCELLED},
    InvoiceStatus.ISSUED: {InvoiceStatus.CANCELLED},
    InvoiceStatus.REJECTED: set(),
    InvoiceStatus.CANCELLED: set(),
}


def invoice_set_status(
    *,
    invoice: InvoiceRequest,
    status: str,
    by,
    invoice_number: str = "",
    issued_on=None,
    external_ref: str = "",
) -> InvoiceRequest:
    """Finance's answer (UI or API): approved, issued (invoice number, date), rejected, cancelled. The contract's
    invoiced amount follows."""
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=invoice.contract_id)
        locked, _access = records.lock_for_write(invoice, by)
        if status not in INVOICE_TRANSITIONS.get(locked.status, set()):
            raise BusinessRuleError(
                _("An invoice request that is %(old)s cannot become %(new)s.")
                % {"old": locked.get_status_display(), "new": InvoiceStatus(status).label},
                field="status",
            )
        changes: dict = {"status": status}
        if status == InvoiceStatus.ISSUED:
            changes.update(invoice_number=invoice_number.strip(), issued_on=issued_on or timezone.localdate())
        if external_ref.strip() and not locked.external_ref:
            changes["external_ref"] = external_ref.strip()
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.full_clean(validate_unique=False, validate_constraints=False)
        write_locked(locked, by, changes)
        live = (
            InvoiceRequest.objects.filter(contract=contract, status__in=INVOICE_COUNTED).aggregate(
                s=Sum("amount")
            )["s"]
            or ZERO
        )
        Contract.objects.filter(pk=contract.pk).update(invoiced_amount=live)
    return locked


def _overdue_title(values: dict) -> str:
    return _("Overdue: %(left)s %(currency)s of contract %(c)s were due on %(day)s") % values


def instalments_overdue_remind(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Remind the contract owner once of each instalment that is unpaid past its due date (sales scheduler).
    Claimed with a conditional UPDATE, so any number of workers remind once."""
    today = timezone.localdate(now or timezone.now())
    due = list(
        Instalment.objects.filter(
            status__in=UNPAID_STATUSES, due_date__lt=today, overdue_reminded_at__isnull=True
        )
        .select_related("contract", "contract__owner")
        .order_by("due_date")[:limit]
    )
    sent = 0
    for inst in due:
        with transaction.atomic():
            if not Instalment.objects.filter(pk=inst.pk, overdue_reminded_at__isnull=True).update(
                overdue_reminded_at=timezone.now()
            ):
                continue
            contract = inst.contract
            values = {
                "left": inst.outstanding,
                "currency": contract.currency,
                "c": contract.number,
                "day": inst.due_date.isoformat(),
            }
            tell(
                [contract.owner],
                partial(_overdue_title, values),
                contract.get_absolute_url(),
                dedup_key=f"instalment-overdue:{inst.pk}",
            )
            audit.log(actor=None, action=AuditAction.UPDATE, instance=inst, note="overdue reminder")
            sent += 1
    return sent


__all__ = [
    "InstalmentStatus",
    "contract_receivables_refresh",
    "instalment_plan_set",
    "instalments_overdue_remind",
    "invoice_request_create",
    "invoice_set_status",
    "payment_record",
]
