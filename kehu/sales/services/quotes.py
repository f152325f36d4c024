"""Quotes: create (from an opportunity, priced from the price list of the customer's class and currency, with
volume tiers), lines, stored totals (kehu.sales.money), discount approval against the owner's DiscountLimit,
send, accept/decline, revisions, expiry.

Locks: every change takes the quote's row lock (records.lock_for_write) first; a decision on an approval takes
the quote's lock and then re-reads the approval, so two managers deciding at once record one decision. Every
refusal raises before anything is written (or inside the transaction, which rolls back): nothing half-saved."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import audit, records
from kehu.core.exceptions import BusinessRuleError, StaleRecordError
from kehu.core.models import AuditAction, Role, User
from kehu.products.selectors import list_price, price_list_for

from ..models import (
    QUOTE_EDITABLE,
    ApprovalDecision,
    Contract,
    DiscountLimit,
    Opportunity,
    Quote,
    QuoteApproval,
    QuoteLine,
    QuoteStatus,
)
from ..money import ZERO, line_figures, totals
from .documents import (
    ensure_customer_visible,
    next_number,
    timeline,
    with_number_retry,
    write_locked,
)

DEFAULT_VALIDITY_DAYS = 30
SENDABLE = (QuoteStatus.DRAFT, QuoteStatus.APPROVED)
# statuses a quote can still expire from (the offer is open)
OPEN_QUOTE = (QuoteStatus.DRAFT, QuoteStatus.PENDING_APPROVAL, QuoteStatus.APPROVED, QuoteStatus.SENT)


@dataclass(frozen=True)
class Limits:
    line: Decimal | None  # None: unlimited
    total: Decimal | None
    approver_role: Role | None


def discount_limits(user: User) -> Limits:
    """The most generous discount limit over the user's roles; no limit row → every discount needs approval;
    a superuser is not limited."""
    if user.is_superuser:
        return Limits(None, None, None)
    rows = list(DiscountLimit.objects.filter(role__in=user.roles.all()).select_related("approver_role"))
    if not rows:
        return Limits(ZERO, ZERO, None)
    best = max(rows, key=lambda r: (r.max_line_discount, r.max_total_discount))
    return Limits(
        max(r.max_line_discount for r in rows),
        max(r.max_total_discount for r in rows),
        best.approver_role,
    )


def _needs_approval(quote: Quote, lines: list[QuoteLine]) -> tuple[bool, Decimal, Decimal]:
    owner = quote.owner
    max_line = max((line.discount_percent for line in lines), default=ZERO)
    figures = totals(
        [
            line_figures(
                quantity=x.quantity,
                unit_price=x.unit_price,
                discount_percent=x.discount_percent,
                tax_rate=x.tax_rate,
            )
            for x in lines
        ]
    )
    total_pct = figures.discount_percent
    if owner is None:
        return (max_line > 0 or total_pct > 0), max_line, total_pct
    limits = discount_limits(owner)
    over = (limits.line is not None and max_line > limits.line) or (
        limits.total is not None and total_pct > limits.total
    )
    return over, max_line, total_pct


def _recalculate(quote: Quote) -> None:
    """Store the totals and the approval flag from the lines (caller holds the quote's lock)."""
    lines = list(QuoteLine.objects.filter(quote=quote))
    figures = totals(
        [
            line_figures(
                quantity=x.quantity,
                unit_price=x.unit_price,
                discount_percent=x.discount_percent,
                tax_rate=x.tax_rate,
            )
            for x in lines
        ]
    )
    required, _line, _total = _needs_approval(quote, lines)
    status = QuoteStatus.DRAFT if quote.status == QuoteStatus.REJECTED else quote.status
    Quote.objects.filter(pk=quote.pk).update(
        gross_amount=figures.gross,
        discount_amount=figures.discount,
        net_amount=figures.net,
        tax_amount=figures.tax,
        total=figures.total,
        approval_required=required,
        status=status,
        version=F("version") + 1,
        updated_at=timezone.now(),
    )
    quote.refresh_from_db()


def _price(quote: Quote, product, quantity) -> Decimal | None:
    if quote.price_list_id is None or product is None:
        return None
    return list_price(price_list=quote.price_list, product=product, quantity=quantity)


def _line_data(quote: Quote, data: dict) -> dict:
    """Fill the unit price from the price list (tier for the quantity); without a list price the product's
    own price if it is in the quote's currency; otherwise the price must be given."""
    data = dict(data)
    product = data.get("product")
    quantity = data.get("quantity") or Decimal("1")
    listed = _price(quote, product, quantity)
    data["list_price"] = listed
    if data.get("unit_price") in (None, ""):
        if listed is not None:
            data["unit_price"] = listed
        elif (
            product is not None
            and getattr(product, "list_price", None) is not None
            and (product.currency == quote.currency)
        ):
            data["unit_price"] = product.list_price
        else:
            raise ValidationError(
                {
                    "unit_price": [
                        _("Give the unit price in the quote's currency (%(c)s).") % {"c": quote.currency}
                    ]
                }
            )
    if product is not None and not data.get("unit"):
        data["unit"] = getattr(product, "unit", "") or ""
    if product is not None and not data.get("description"):
        data["description"] = product.name
    return data


def _lock_editable(quote: Quote, by) -> Quote:
    locked, _access = records.lock_for_write(quote, by)
    if locked.status not in QUOTE_EDITABLE:
        raise BusinessRuleError(
            _("The quote is %(status)s: revise it to change its lines.")
            % {"status": locked.get_status_display()},
            field="status",
        )
    return locked


def _check_version(locked: Quote, expected_version: int | None) -> None:
    if expected_version is not None and locked.version != expected_version:
        raise StaleRecordError(
            locked, expected_version, audit.changes_since("sales.quote", locked.pk, expected_version)
        )


# ------------------------------------------------------------------------------------------ create and edit
def quote_create(
    *,
    customer,
    by,
    opportunity: Opportunity | None = None,
    price_list=None,
    data: dict | None = None,
    copy_lines: bool = True,
) -> Quote:
    """A draft quote for a customer the user may see. Currency: the price list's, else the opportunity's, else
    the given one (CNY by default). Price list: the given one (its currency must match the quote's: refused on
    the `currency` field), else the one that applies to the customer's class, currency and date. With an
    opportunity its lines are copied, priced from the list (tiers by quantity)."""
    data = dict(data or {})
    ensure_customer_visible(customer, by)
    if opportunity is not None and opportunity.customer_id != customer.pk:
        raise ValidationError({"opportunity": [_("The opportunity belongs to another customer.")]})
    currency = (data.pop("currency", None) or (opportunity.currency if opportunity else None) or "").upper()
    issue = data.get("issue_date") or timezone.localdate()
    if price_list is None:
        price_list = price_list_for(
            currency=currency or "CNY", customer_type=customer.customer_type or "", day=issue
        )
    currency = currency or (price_list.currency if price_list else "CNY")
    payload = {
        "title": (opportunity.name if opportunity else "")[:200],
        "valid_until": issue + dt.timedelta(days=DEFAULT_VALIDITY_DAYS),
        **data,
        "customer": customer,
        "opportunity": opportunity,
        "price_list": price_list,
        "currency": currency,
        "issue_date": issue,
    }
    if payload.get("contact") is None and opportunity is not None and opportunity.contact_id:
        payload["contact"] = opportunity.contact

    def create() -> Quote:
        return records.record_create(
            model=Quote, data={**payload, "number": next_number(Quote, "Q", issue)}, by=by
        )

    with transaction.atomic():
        quote = with_number_retry(create)
        if opportunity is not None and copy_lines:
            for position, oline in enumerate(
                opportunity.lines.select_related("product").order_by("position", "id"), 1
            ):
                line = _line_data(
                    quote,
                    {
                        "product": oline.product,
                        "quantity": oline.quantity,
                        "discount_percent": oline.discount_percent,
                        "unit_price": None,
                    },
                )
                if line.get("list_price") is None and oline.unit_price is not None:
                    line["unit_price"] = oline.unit_price
                records.record_create(
                    model=QuoteLine, data={**line, "quote": quote, "position": position}, by=by
                )
        _recalculate(quote)
    return quote


def quote_update(*, quote: Quote, data: dict, by, expected_version: int | None) -> Quote:
    """Edit the header (title, dates, terms, language, contact) of an editable quote."""
    for name in ("customer", "price_list", "currency", "number", "revision"):
        current = (
            getattr(quote, f"{name}_id", None) if name in ("customer", "price_list") else getattr(quote, name)
        )
        if name in data and getattr(data[name], "pk", data[name]) != current:
            raise ValidationError({name: [_("This cannot change on an existing quote: create a new one.")]})
        data.pop(name, None)
    with transaction.atomic():
        locked = _lock_editable(quote, by)
        updated = records.record_update(instance=locked, data=data, by=by, expected_version=expected_version)
    return updated


def quote_line_add(*, quote: Quote, data: dict, by) -> QuoteLine:
    with transaction.atomic():
        locked = _lock_editable(quote, by)
        payload = _line_data(locked, data)
        position = (QuoteLine.objects.filter(quote=locked).aggregate(m=Max("position"))["m"] or 0) + 1
        line = records.record_create(
            model=QuoteLine, data={**payload, "quote": locked, "position": position}, by=by
        )
        _recalculate(locked)
    quote.refresh_from_db()
    return line


def quote_line_update(*, line: QuoteLine, data: dict, by, expected_version: int | None = None) -> QuoteLine:
    """Change quantity, price, discount or VAT rate. A new quantity re-prices a line still at its list price
    (volume tiers) unless a price is given."""
    data = dict(data)
    data.pop("quote", None)
    with transaction.atomic():
        locked = _lock_editable(line.quote, by)
        if (
            "quantity" in data
            and data.get("unit_price") in (None, "")
            and line.product_id
            and line.list_price is not None
            and line.unit_price == line.list_price
        ):
            listed = _price(locked, line.product, data["quantity"])
            if listed is not None:
                data["unit_price"] = listed
                data["list_price"] = listed
        if data.get("unit_price") in (None, ""):
            data.pop("unit_price", None)
        updated = records.record_update(instance=line, data=data, by=by, expected_version=expected_version)
        _recalculate(locked)
    return updated


def quote_line_remove(*, line: QuoteLine, by) -> None:
    with transaction.atomic():
        locked = _lock_editable(line.quote, by)
        records.record_delete(instance=line, by=by)
        _recalculate(locked)


# ------------------------------------------------------------------------------------------------ approval
# Who decides, in which order, reminders and delegation: the approval engine (kehu.approvals, ADR 0018). The
# quote keeps its QuoteApproval row (the discount figures of the request and its outcome).
def can_decide(user: User, quote: Quote | Contract) -> bool:
    from kehu.approvals.services import can_decide as engine_can_decide

    return engine_can_decide(user, quote)


def quote_submit(*, quote: Quote, by, reason: str = "", expected_version: int | None = None) -> QuoteApproval:
    """Ask for approval of a quote whose discount exceeds the owner's limit: a pending QuoteApproval (one at a
    time, by a partial unique index), status 'awaiting approval', and an approval request on the engine (the
    quote chain that matches; its first step's approvers are notified in-app and by email)."""
    from kehu.approvals.services import start_approval

    with transaction.atomic():
        locked = _lock_editable(quote, by)
        _check_version(locked, expected_version)
        lines = list(QuoteLine.objects.filter(quote=locked))
        if not lines:
            raise BusinessRuleError(_("Add at least one line first."), field="lines")
        required, max_line, total_pct = _needs_approval(locked, lines)
        if not required:
            raise BusinessRuleError(
                _("The discounts are within your limit: no approval is needed."), field="status"
            )
        approval = QuoteApproval.objects.create(
            quote=locked,
            requested_by=by,
            reason=(reason or "").strip()[:300],
            max_line_discount=max_line,
            total_discount=total_pct,
        )
        write_locked(locked, by, {"status": QuoteStatus.PENDING_APPROVAL}, note=_("submitted for approval"))
        start_approval(locked, by, reason=approval.reason)
    quote.refresh_from_db()
    return approval


def quote_decide(*, approval: QuoteApproval, approve: bool, comment: str, by) -> QuoteApproval:
    """Approve or reject (a comment is required to reject) the current step of the quote's request on the
    engine. Under the quote's row lock: a second decision on the same request — two managers at once — is
    refused. The last step's approval (or any rejection) sets the quote's status and tells the owner."""
    from kehu.approvals.services import approval_decide_record

    with transaction.atomic():
        quote = (
            Quote.objects.select_for_update(of=("self",)).select_related("owner").get(pk=approval.quote_id)
        )
        current = QuoteApproval.objects.select_for_update().get(pk=approval.pk)
        if current.decision != ApprovalDecision.PENDING:
            raise BusinessRuleError(_("This approval request was already decided."), field="decision")
        approval_decide_record(record=quote, approve=approve, comment=comment, by=by)
        current.refresh_from_db()
    approval.refresh_from_db()
    return current


# ------------------------------------------------------------------------------------ send, accept, revise
def quote_send(
    *, quote: Quote, by, expected_version: int | None = None, email_to: str = "", message: str = ""
) -> Quote:
    """Mark the quote sent to the customer (timeline event `sales.quote.sent`). Refused while its discount
    needs an approval it does not have, and without lines. With `email_to`, the PDF (in the quote's language,
    with the fields the sender may see) is emailed after the commit and the email is logged on the customer's
    timeline (an outbound email interaction)."""
    with transaction.atomic():
        locked, _access = records.lock_for_write(quote, by)
        _check_version(locked, expected_version)
        if locked.status not in SENDABLE:
            raise BusinessRuleError(
                _("A quote that is %(status)s cannot be sent.") % {"status": locked.get_status_display()},
                field="status",
            )
        if locked.status == QuoteStatus.DRAFT and locked.approval_required:
            raise BusinessRuleError(
                _("The discount exceeds your limit: submit the quote for approval first."), field="status"
            )
        if not QuoteLine.objects.filter(quote=locked).exists():
            raise BusinessRuleError(_("Add at least one line first."), field="lines")
        if locked.valid_until < timezone.localdate():
            raise BusinessRuleError(_("The quote's validity has passed: revise it."), field="valid_until")
        write_locked(locked, by, {"status": QuoteStatus.SENT, "sent_at": timezone.now()}, note=_("sent"))
        timeline(
            locked,
            "sales.quote.sent",
            _("Quote %(quote)s sent: %(total)s %(currency)s")
            % {"quote": locked, "total": locked.total, "currency": locked.currency},
            user=by,
        )
        if (email_to or "").strip():
            _email_quote(locked, by, email_to.strip(), message)
    quote.refresh_from_db()
    return locked


def _email_quote(quote: Quote, by, to: str, message: str) -> None:
    from django.core.validators import validate_email

    from kehu.interactions.services import interaction_log

    from ..pdf import quote_pdf

    try:
        validate_email(to)
    except ValidationError:
        raise ValidationError({"email_to": [_("Enter a valid email address.")]}) from None
    pdf = quote_pdf(quote=quote, user=by, language=quote.language)
    with translation.override(quote.language):
        subject = _("Quote %(quote)s") % {"quote": quote}
    interaction_log(
        customer=quote.customer,
        data={"channel": "email", "direction": "out", "subject": subject[:200], "body": message},
        by=by,
    )
    filename = f"{quote.number}-v{quote.revision}.pdf"
    transaction.on_commit(
        partial(_mail_quote, to, subject, message, filename, pdf, getattr(by, "email", "") or None)
    )


def _mail_quote(to: str, subject: str, body: str, filename: str, pdf: bytes, reply_to: str | None) -> None:
    from django.core.mail import EmailMessage

    email = EmailMessage(subject=subject, body=body, to=[to], reply_to=[reply_to] if reply_to else None)
    email.attach(filename, pdf, "application/pdf")
    email.send()


def quote_respond(*, quote: Quote, accepted: bool, by, expected_version: int | None = None) -> Quote:
    """The customer accepted or declined a sent quote (an expired one cannot be accepted)."""
    with transaction.atomic():
        locked, _access = records.lock_for_write(quote, by)
        _check_version(locked, expected_version)
        if locked.status != QuoteStatus.SENT:
            raise BusinessRuleError(_("Only a sent quote can be accepted or declined."), field="status")
        if accepted and locked.valid_until < timezone.localdate():
            raise BusinessRuleError(_("The quote's validity has passed: revise it."), field="valid_until")
        if accepted:
            write_locked(
                locked,
                by,
                {"status": QuoteStatus.ACCEPTED, "accepted_at": timezone.now()},
                note=_("accepted"),
            )
            timeline(
                locked, "sales.quote.accepted", _("Quote %(quote)s accepted") % {"quote": locked}, user=by
            )
        else:
            write_locked(locked, by, {"status": QuoteStatus.DECLINED}, note=_("declined"))
            timeline(
                locked, "sales.quote.declined", _("Quote %(quote)s declined") % {"quote": locked}, user=by
            )
    quote.refresh_from_db()
    return locked


REVISABLE = (
    QuoteStatus.DRAFT,
    QuoteStatus.PENDING_APPROVAL,
    QuoteStatus.APPROVED,
    QuoteStatus.REJECTED,
    QuoteStatus.SENT,
    QuoteStatus.DECLINED,
    QuoteStatus.EXPIRED,
)


def quote_revise(*, quote: Quote, by, expected_version: int | None = None) -> Quote:
    """A new revision (same number, revision + 1, `previous` = this one) with the lines copied, as a draft
    valid for another period; this one becomes SUPERSEDED and keeps its lines; a pending approval is
    withdrawn. An accepted quote is final."""
    with transaction.atomic():
        locked, _access = records.lock_for_write(quote, by)
        _check_version(locked, expected_version)
        if locked.status not in REVISABLE:
            raise BusinessRuleError(
                _("A quote that is %(status)s cannot be revised.") % {"status": locked.get_status_display()},
                field="status",
            )
        QuoteApproval.objects.filter(quote=locked, decision=ApprovalDecision.PENDING).update(
            decision=ApprovalDecision.WITHDRAWN, decided_at=timezone.now(), decided_by=by
        )
        from kehu.approvals.services import approval_withdraw

        approval_withdraw(record=locked, by=by, note=_("superseded by a revision"))
        today = timezone.localdate()
        write_locked(locked, by, {"status": QuoteStatus.SUPERSEDED}, note=_("superseded by a revision"))
        fields = (
            "title",
            "customer",
            "contact",
            "opportunity",
            "price_list",
            "currency",
            "terms",
            "language",
        )
        new = records.record_create(
            model=Quote,
            data={
                **{f: getattr(locked, f) for f in fields},
                "owner": locked.owner,
                "number": locked.number,
                "revision": locked.revision + 1,
                "previous": locked,
                "issue_date": today,
                "valid_until": max(locked.valid_until, today + dt.timedelta(days=DEFAULT_VALIDITY_DAYS)),
            },
            by=by,
            note=_("revision of %(quote)s") % {"quote": locked},
        )
        for line in QuoteLine.objects.filter(quote=locked).order_by("position", "id"):
            QuoteLine.objects.create(
                quote=new,
                position=line.position,
                product_id=line.product_id,
                description=line.description,
                quantity=line.quantity,
                unit=line.unit,
                unit_price=line.unit_price,
                list_price=line.list_price,
                discount_percent=line.discount_percent,
                tax_rate=line.tax_rate,
                gross_amount=line.gross_amount,
                net_amount=line.net_amount,
                tax_amount=line.tax_amount,
                total=line.total,
            )
        _recalculate(new)
    quote.refresh_from_db()
    return new


def quotes_expire(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Expire open quotes whose validity ended before today (sales scheduler). Each row is claimed with a
    conditional UPDATE on its status, so concurrent workers expire it once; pending approvals are withdrawn."""
    today = timezone.localdate(now or timezone.now())
    candidates = list(
        Quote.objects.filter(status__in=OPEN_QUOTE, valid_until__lt=today)
        .order_by("valid_until", "id")
        .values_list("pk", "status", "number")[:limit]
    )
    expired = 0
    for pk, status, number in candidates:
        with transaction.atomic():
            if not Quote.objects.filter(pk=pk, status=status).update(
                status=QuoteStatus.EXPIRED, version=F("version") + 1, updated_at=timezone.now()
            ):
                continue
            QuoteApproval.objects.filter(quote_id=pk, decision=ApprovalDecision.PENDING).update(
                decision=ApprovalDecision.WITHDRAWN, decided_at=timezone.now()
            )
            audit.log(
                actor=None,
                action=AuditAction.UPDATE,
                model="sales.quote",
                object_id=pk,
                object_repr=number,
                changes={"status": [status, QuoteStatus.EXPIRED]},
                note=str(EXPIRED_NOTE),
            )
            expired += 1
    return expired


EXPIRED_NOTE = gettext_lazy("validity ended")
