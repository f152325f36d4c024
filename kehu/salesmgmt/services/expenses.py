"""Expenses: file (with receipts), change, submit, approve/reject, close a month (ADR 0016).

Built on what exists, not a third copy:
- receipts are checked by the attachments' one rule (`kehu.sales.services.attachments.attachment_check`: the
  name cleaned of paths and control characters, the type by extension against KEHU_ATTACHMENT_TYPES, the size
  against KEHU_ATTACHMENT_MAX_BYTES), each refusal on the `receipts` field;
- the approval runs on the approval engine (`kehu.approvals`, ADR 0018) with the expenses' own chain (by
  default the owner's manager, walking up the departments, else the superusers; never the owner) — no longer
  the rep's discount approver (issue #17); the status change is written under the row lock with its audit
  entry (`documents.write_locked`) by the engine's callbacks in `kehu.salesmgmt.approvals`;
- every other write goes through the record service (rights, scope, field rights, version, audit).

Nothing is half-saved: every check (files, amount, date, closed month, ties the user may not see) comes
before the first write, the rows are written in one transaction, and receipt files stored by a transaction
that then fails are removed again."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import records
from kehu.core.selectors import scoped
from kehu.interactions.services import timeline_event_record
from kehu.sales.models import Opportunity
from kehu.sales.services.attachments import attachment_check
from kehu.sales.services.documents import write_locked

from ..models import Expense, ExpensePeriodClose, ExpenseReceipt, ExpenseStatus, Visit
from ..models.expenses import EDITABLE, month_is_closed, month_start

MAX_RECEIPTS = 10


def receipts_check(files: list[tuple[str, int]]) -> list[str]:
    """The cleaned names of (name, size) pairs, or one ValidationError on `receipts` naming every bad file."""
    if len(files) > MAX_RECEIPTS:
        raise ValidationError({"receipts": [_("At most %(n)d receipts per expense.") % {"n": MAX_RECEIPTS}]})
    names, problems = [], []
    for name, size in files:
        try:
            names.append(attachment_check(name=name, size=size))
        except ValidationError as exc:
            problems.extend(exc.messages)
    if problems:
        raise ValidationError({"receipts": problems})
    return names


def _check_ties(data: dict, by) -> None:
    """An expense may be tied only to an opportunity or a visit its author may see (else: a field error, as
    if the record did not exist — its name is not echoed)."""
    errors = {}
    opp = data.get("opportunity")
    if opp not in (None, ""):
        pk = str(getattr(opp, "pk", opp))
        if not pk.isdigit() or not scoped(Opportunity, user=by).filter(pk=int(pk)).exists():
            errors["opportunity"] = [_("Choose an opportunity you can see.")]
    visit = data.get("visit")
    if visit not in (None, ""):
        pk = str(getattr(visit, "pk", visit))
        if not pk.isdigit() or not scoped(Visit, user=by).filter(pk=int(pk)).exists():
            errors["visit"] = [_("Choose a visit you can see.")]
    if errors:
        raise ValidationError(errors)


def _closed(day: dt.date | None) -> ValidationError:
    month = f"{day:%Y-%m}" if day else ""
    return ValidationError({"spent_on": [_("%(month)s is closed for expenses.") % {"month": month}]})


def _timeline(expense: Expense, key: str, subject: str, user) -> None:
    """On the customer's timeline (and so the opportunity's) when the expense is tied; the amount stays off
    it: whoever sees the customer sees the entry, not necessarily the expense."""
    if expense.customer_id is None:
        return
    timeline_event_record(
        customer=expense.customer,  # type: ignore[arg-type]  # set above: not None
        subject=subject,
        related_model=key,
        related_id=expense.pk,
        url=expense.get_absolute_url(),
        occurred_at=timezone.now(),
        user=user,
    )


def _store_receipts(expense: Expense, files: list[tuple[str, bytes]], names: list[str], by, stored: list):
    for (_name, content), clean in zip(files, names, strict=True):
        receipt = records.record_create(
            model=ExpenseReceipt,
            data={
                "expense": expense,
                "name": clean,
                "size": len(content),
                "file": ContentFile(content, name=clean),
            },
            by=by,
        )
        stored.append((receipt.file.storage, receipt.file.name))


def _remove(stored: list) -> None:
    for storage, path in stored:
        try:
            storage.delete(path)
        except OSError:  # pragma: no cover - already gone
            pass


def expense_create(
    *, data: dict, by, receipts: list[tuple[str, bytes]] | None = None, submit: bool = False
) -> Expense:
    """File an expense (owner: `by` unless given — another owner needs the transfer right) with its
    receipts, optionally submitting it at once. Refused before anything is written: receipts of a type not
    allowed or too large, a non-positive amount, a date in the future or in a closed month, an opportunity or
    visit the user cannot see."""
    files = list(receipts or [])
    names = receipts_check([(n, len(c)) for n, c in files])
    _check_ties(data, by)
    stored: list = []
    try:
        with transaction.atomic():
            expense = records.record_create(model=Expense, data=data, by=by)
            _store_receipts(expense, files, names, by, stored)
            if expense.customer_id:
                _timeline(
                    expense,
                    "salesmgmt.expense",
                    _("Expense filed: %(category)s") % {"category": expense.category},
                    expense.owner,
                )
            if submit:
                expense = expense_submit(expense=expense, by=by)
    except BaseException:
        _remove(stored)
        raise
    return expense


def _lock_editable(expense: Expense, by) -> Expense:
    locked, _access = records.lock_for_write(expense, by)
    if locked.status not in EDITABLE:
        raise ValidationError(
            {
                "status": [
                    _("An expense that is %(s)s cannot be changed.") % {"s": locked.get_status_display()}
                ]
            }
        )
    if month_is_closed(locked.spent_on):
        raise _closed(locked.spent_on)
    return locked


def expense_update(*, expense: Expense, data: dict, by, expected_version: int | None) -> Expense:
    """Change a draft or rejected expense (not one awaiting approval or approved, not one in a closed month,
    nor move it into one). The record service checks rights, version and field rights and audits."""
    _check_ties(data, by)
    with transaction.atomic():
        _lock_editable(expense, by)
        updated = records.record_update(instance=expense, data=data, by=by, expected_version=expected_version)
        if updated.customer_id:
            _timeline(
                updated,
                "salesmgmt.expense",
                _("Expense filed: %(category)s") % {"category": updated.category},
                updated.owner,
            )
    return updated


def expense_receipt_add(*, expense: Expense, name: str, content: bytes, by) -> ExpenseReceipt:
    """Add a receipt to an expense the user may change (draft or rejected)."""
    names = receipts_check([(name, len(content))])
    stored: list = []
    try:
        with transaction.atomic():
            locked = _lock_editable(expense, by)
            if ExpenseReceipt.objects.filter(expense=locked).count() >= MAX_RECEIPTS:
                raise ValidationError(
                    {"receipts": [_("At most %(n)d receipts per expense.") % {"n": MAX_RECEIPTS}]}
                )
            _store_receipts(locked, [(name, content)], names, by, stored)
    except BaseException:
        _remove(stored)
        raise
    return ExpenseReceipt.objects.get(expense=expense, file=stored[0][1])


def expense_submit(*, expense: Expense, by, expected_version: int | None = None) -> Expense:
    """Ask for approval: the approvers (see the module) are notified."""
    with transaction.atomic():
        locked = _lock_editable(expense, by)
        if expected_version is not None and locked.version != expected_version:
            from kehu.core import audit
            from kehu.core.exceptions import StaleRecordError

            raise StaleRecordError(
                locked,
                expected_version,
                audit.changes_since("salesmgmt.expense", locked.pk, expected_version),
            )
        write_locked(
            locked,
            by,
            {"status": ExpenseStatus.SUBMITTED, "submitted_at": timezone.now(), "decision_comment": ""},
            note=_("submitted for approval"),
        )
        from kehu.approvals.services import start_approval

        # the engine's notifications show the amount only to approvers who may see it (ADR 0009)
        start_approval(locked, by)
    expense.refresh_from_db()
    return locked


def expense_decide(*, expense: Expense, approve: bool, comment: str, by) -> Expense:
    """Approve or reject (a rejection needs a comment) the current step of the expense's request on the
    approval engine — an approver of that step, never the owner. Under the row lock: a second decision (two
    managers at once) is refused. The last step's approval (or any rejection) sets the status, the owner is
    notified; an approved expense tied to a customer goes on its timeline (kehu.salesmgmt.approvals)."""
    from kehu.approvals.services import approval_decide_record

    comment = (comment or "").strip()
    with transaction.atomic():
        locked = Expense.objects.select_for_update(of=("self",)).select_related("owner").get(pk=expense.pk)
        if locked.status != ExpenseStatus.SUBMITTED:
            raise ValidationError({"status": [_("This expense is not awaiting approval.")]})
        if month_is_closed(locked.spent_on):
            raise _closed(locked.spent_on)
        approval_decide_record(record=locked, approve=approve, comment=comment, by=by)
    expense.refresh_from_db()
    return expense


def expense_decided(locked: Expense, approve: bool, by, comment: str) -> None:
    """The engine's outcome written on the expense (caller: kehu.salesmgmt.approvals, under the row lock)."""
    status = ExpenseStatus.APPROVED if approve else ExpenseStatus.REJECTED
    write_locked(
        locked,
        by,
        {"status": status, "decided_by": by, "decided_at": timezone.now(), "decision_comment": comment},
        note=(_("approved") if approve else _("rejected")) + (f": {comment}" if comment else ""),
    )
    if approve:
        _timeline(
            locked,
            "salesmgmt.expense.approved",
            _("Expense approved: %(category)s") % {"category": locked.category},
            locked.owner,
        )


def expense_delete(*, expense: Expense, by, expected_version: int | None = None) -> None:
    """Delete a draft or rejected expense (its receipts' files go after the commit)."""
    from functools import partial

    with transaction.atomic():
        locked = _lock_editable(expense, by)
        stored = [
            (r.file.storage, r.file.name) for r in ExpenseReceipt.objects.filter(expense=locked) if r.file
        ]
        records.record_delete(instance=locked, by=by, expected_version=expected_version)
        transaction.on_commit(partial(_remove, stored))


def expense_month_close(*, month: dt.date, by, note: str = "") -> ExpensePeriodClose:
    """Close a month for expenses. Refused while expenses of that month await approval (decide them first)."""
    first = month_start(month)
    if first >= month_start(timezone.localdate()):
        raise ValidationError({"month": [_("Only a past month can be closed.")]})
    end = (first + dt.timedelta(days=32)).replace(day=1)
    with transaction.atomic():
        waiting = (
            Expense.objects.select_for_update()
            .filter(spent_on__gte=first, spent_on__lt=end, status=ExpenseStatus.SUBMITTED)
            .count()
        )
        if waiting:
            raise ValidationError(
                {
                    "month": [
                        _("%(n)d expenses of this month await approval: decide them first.") % {"n": waiting}
                    ]
                }
            )
        if ExpensePeriodClose.objects.filter(month=first).exists():
            raise ValidationError({"month": [_("This month is already closed.")]})
        return records.record_create(model=ExpensePeriodClose, data={"month": first, "note": note}, by=by)


def expense_month_reopen(*, closing: ExpensePeriodClose, by) -> None:
    records.record_delete(instance=closing, by=by)


__all__ = [
    "expense_create",
    "expense_decide",
    "expense_delete",
    "expense_month_close",
    "expense_month_reopen",
    "expense_receipt_add",
    "expense_submit",
    "expense_update",
    "receipts_check",
]
