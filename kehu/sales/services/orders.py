"""Orders: from an accepted quote in one click or entered directly; status changes along ORDER_TRANSITIONS by
users or the ERP (idempotent per key); cancellation and returns net out of revenue (ADR 0006); delivered lines
become installed-base units.

Locks: the order's row lock for every change (a quote → order conversion locks the quote first). The
denormalised columns of OrderLine (customer, order_date, currency, counted) are written with the order in the
same transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit, records
from kehu.core.exceptions import BusinessRuleError
from kehu.core.models import AuditAction
from kehu.products.models import InstalledProduct

from ..models import (
    ORDER_TRANSITIONS,
    Order,
    OrderKind,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    Quote,
    QuoteLine,
    QuoteStatus,
)
from ..money import ZERO, line_figures, totals
from .documents import ensure_customer_visible, next_number, timeline, with_number_retry, write_locked

LINE_FIELDS = (
    "product",
    "description",
    "quantity",
    "unit_price",
    "discount_percent",
    "tax_rate",
    "serial_numbers",
)


def _store_totals(order: Order) -> None:
    figures = totals(
        [
            line_figures(
                quantity=x.quantity,
                unit_price=x.unit_price,
                discount_percent=x.discount_percent,
                tax_rate=x.tax_rate,
            )
            for x in OrderLine.objects.filter(order=order)
        ]
    )
    Order.objects.filter(pk=order.pk).update(
        net_amount=figures.net, tax_amount=figures.tax, total=figures.total
    )
    order.net_amount, order.tax_amount, order.total = figures.net, figures.tax, figures.total


def _add_lines(order: Order, lines: list[dict]) -> None:
    if not lines:
        raise ValidationError({"lines": [_("An order needs at least one line.")]})
    made = []
    errors: dict = {}
    for no, data in enumerate(lines, 1):
        line = OrderLine(
            order=order,
            line_no=no,
            customer_id=order.customer_id,
            order_date=order.order_date,
            currency=order.currency,
            counted=True,
            **{k: v for k, v in data.items() if k in LINE_FIELDS + ("returned_line",)},
        )
        if line.product is not None and not line.description:
            line.description = line.product.name
        try:
            line.full_clean(exclude=["order", "customer"], validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(f"lines.{no}.{field}" if len(lines) > 1 else field, messages)
            continue
        made.append(line)
    if errors:
        raise ValidationError(errors)
    OrderLine.objects.bulk_create(made)
    _store_totals(order)


def order_create(*, data: dict, lines: list[dict], by) -> Order:
    """An order entered directly (no quote): header through the record service, lines validated one by one
    (each refusal names its line and field; nothing is saved when one is refused)."""
    data = {k: v for k, v in data.items() if v is not None or k not in ("order_date", "currency", "number")}
    customer = data.get("customer")
    if customer is None:
        raise ValidationError({"customer": [_("Choose the customer.")]})
    ensure_customer_visible(customer, by)
    if not data.get("currency"):
        data.pop("currency", None)
    data.pop("kind", None)
    data.pop("original", None)
    day = data.get("order_date") or timezone.localdate()

    def create() -> Order:
        number = data.pop("number", None) or next_number(Order, "SO", day)
        return records.record_create(model=Order, data={**data, "number": number}, by=by)

    with transaction.atomic():
        order = with_number_retry(create)
        _add_lines(order, lines)
        _status_row(order, "", OrderStatus.CONFIRMED, by, None, "")
        _timeline(order, OrderStatus.CONFIRMED)
    return order


def order_from_quote(*, quote: Quote, by) -> Order:
    """The accepted quote as an order, in one click: lines copied with their prices, discounts and VAT; the
    quote and order are one-to-one (a second conversion is refused, also when two users race). A live contract
    made from the same quote becomes the order's contract."""
    with transaction.atomic():
        locked, _access = records.lock_for_write(quote, by, action="view")
        if locked.status != QuoteStatus.ACCEPTED:
            raise BusinessRuleError(_("Only an accepted quote becomes an order."), field="status")
        if Order.objects.filter(quote=locked).exists():
            raise BusinessRuleError(_("This quote already has an order."), field="quote")
        lines = [
            {
                f: getattr(x, f)
                for f in ("product", "description", "quantity", "unit_price", "discount_percent", "tax_rate")
            }
            for x in QuoteLine.objects.filter(quote=locked)
            .select_related("product")
            .order_by("position", "id")
        ]
        from .contracts import live_contract_of

        data = {"customer": locked.customer, "currency": locked.currency, "opportunity": locked.opportunity}
        contract = live_contract_of(locked)
        if contract is not None:
            data["contract"] = contract  # the contract made from the same quote: order and contract linked
        try:
            order = order_create(
                data=data,
                lines=lines,
                by=by,
            )
            # the order belongs to the quote's owner (the rep's deal), whoever clicked: scope follows the rep
            Order.objects.filter(pk=order.pk).update(quote=locked, owner_id=locked.owner_id)
            order.owner_id = locked.owner_id
        except IntegrityError:
            raise BusinessRuleError(_("This quote already has an order."), field="quote") from None
        order.quote = locked
    return order


def _status_row(order: Order, old: str, new: str, by, key: str | None, note: str) -> OrderStatusChange:
    return OrderStatusChange.objects.create(
        order=order,
        from_status=old,
        to_status=new,
        by=by,
        idempotency_key=key or None,
        note=(note or "")[:300],
    )


def _timeline(order: Order, status: str) -> None:
    label = OrderStatus(status).label
    subject = (
        _("Return %(order)s: %(total)s %(currency)s")
        if order.kind == OrderKind.RETURN
        else _("Order %(order)s %(status)s: %(total)s %(currency)s")
    ) % {"order": order, "status": label, "total": order.total, "currency": order.currency}
    timeline(order, f"sales.order.{status}", subject)


def _deliver(order: Order, by) -> int:
    """Delivered lines: delivered quantity = ordered, and installed-base units (one per serial number when
    given, else one unit row carrying the quantity)."""
    made = 0
    warranty_from = timezone.localdate()
    for line in OrderLine.objects.filter(order=order).select_related("product"):
        OrderLine.objects.filter(pk=line.pk).update(delivered_quantity=line.quantity)
        product = line.product
        if product is None or line.quantity <= 0:
            continue
        warranty = (
            warranty_from + dt.timedelta(days=30 * product.warranty_months)
            if product.warranty_months
            else None
        )
        serials = [s.strip() for s in (line.serial_numbers or "").splitlines() if s.strip()]
        units = (
            [(s, 1) for s in serials]
            if serials
            else [(f"{order.number}-{line.line_no}", max(1, int(line.quantity)))]
        )
        for serial, qty in units:
            if InstalledProduct.objects.filter(product=product, serial_number=serial).exists():
                continue
            unit = InstalledProduct.objects.create(
                customer_id=order.customer_id,
                product=product,
                serial_number=serial,
                quantity=qty,
                purchase_date=order.order_date,
                order_reference=order.number,
                warranty_end=warranty,
            )
            audit.log(
                actor=by,
                action=AuditAction.CREATE,
                instance=unit,
                note=_("delivered with %(o)s") % {"o": order},
            )
            made += 1
    return made


def order_set_status(
    *,
    order: Order,
    status: str,
    by,
    idempotency_key: str | None = None,
    external_ref: str | None = None,
    note: str = "",
    serials: dict[int, str] | None = None,
) -> Order:
    """Move an order along ORDER_TRANSITIONS. With an `idempotency_key` (the ERP's event id) a replay changes
    nothing and returns the order. Cancelled: lines stop counting as revenue (same transaction). Returned: a
    full return order is created. Delivered: installed-base units, one per serial number when `serials`
    (order line id → serial numbers, one a line) or the line gives them; more serial numbers than the line's
    quantity is refused on `serials`, nothing saved. A transition not in the flow is refused on the `status`
    field."""
    key = (idempotency_key or "").strip() or None
    if key and OrderStatusChange.objects.filter(order=order, idempotency_key=key).exists():
        order.refresh_from_db()
        return order
    try:
        with transaction.atomic():
            locked, _access = records.lock_for_write(order, by)
            if key and OrderStatusChange.objects.filter(order=locked, idempotency_key=key).exists():
                return locked
            if status not in OrderStatus.values:
                raise ValidationError({"status": [_("Unknown status.")]})
            if status not in ORDER_TRANSITIONS.get(locked.status, set()):
                raise BusinessRuleError(
                    _("An order that is %(old)s cannot become %(new)s.")
                    % {"old": locked.get_status_display(), "new": OrderStatus(status).label},
                    field="status",
                )
            if status == OrderStatus.RETURNED:
                if locked.kind != OrderKind.SALE:
                    raise BusinessRuleError(_("A return cannot be returned."), field="status")
                if not locked.returns.exists():
                    _create_return(locked, None, by, note)
            old = locked.status
            changes: dict = {"status": status, "status_changed_at": timezone.now()}
            ref = (external_ref or "").strip()
            if ref and not locked.external_ref:
                changes["external_ref"] = ref
            write_locked(locked, by, changes, note=note or _("status changed"))
            if status == OrderStatus.CANCELLED:
                OrderLine.objects.filter(order=locked).update(counted=False)
            if status == OrderStatus.DELIVERED:
                _serials_set(locked, serials or {})
                _deliver(locked, by)
            _status_row(locked, old, status, by, key, note)
            _timeline(locked, status)
    except IntegrityError:
        if key and OrderStatusChange.objects.filter(order=order, idempotency_key=key).exists():
            order.refresh_from_db()
            return order
        raise
    order.refresh_from_db()
    return locked


def _serials_set(order: Order, serials: dict[int, str]) -> None:
    """Store the serial numbers given at delivery on the order's lines (caller holds the order's lock)."""
    if not serials:
        return
    errors = []
    for line in OrderLine.objects.filter(order=order, pk__in=list(serials)).select_related("product"):
        given = [s.strip() for s in serials[line.pk].splitlines() if s.strip()]
        if not given:
            continue
        if len(given) > line.quantity:
            errors.append(
                _("Line %(n)s: %(given)d serial numbers for a quantity of %(qty)s.")
                % {"n": line.line_no, "given": len(given), "qty": line.quantity.normalize()}
            )
            continue
        if len(set(given)) != len(given):
            errors.append(_("Line %(n)s: a serial number is repeated.") % {"n": line.line_no})
            continue
        OrderLine.objects.filter(pk=line.pk).update(serial_numbers="\n".join(given))
    if errors:
        raise ValidationError({"serials": errors})


def _create_return(original: Order, quantities: dict[int, Decimal] | None, by, note: str) -> Order:
    """A return order of `original` (caller holds its lock): negative lines referencing the returned lines."""
    already: dict[int, Decimal] = {}
    for row in OrderLine.objects.filter(returned_line__order=original, order__status__in=_LIVE).values(
        "returned_line_id", "quantity"
    ):
        already[row["returned_line_id"]] = already.get(row["returned_line_id"], ZERO) + row["quantity"]
    lines = []
    for line in OrderLine.objects.filter(order=original).order_by("line_no"):
        left = line.quantity + already.get(line.pk, ZERO)  # returned quantities are negative
        qty = left if quantities is None else Decimal(quantities.get(line.pk, ZERO))
        if qty <= 0:
            continue
        if qty > left:
            raise ValidationError({"quantity": [_("More returned than was ordered and not yet returned.")]})
        lines.append(
            {
                "product": line.product,
                "description": line.description,
                "quantity": -qty,
                "unit_price": line.unit_price,
                "discount_percent": line.discount_percent,
                "tax_rate": line.tax_rate,
                "returned_line": line,
            }
        )
    if not lines:
        raise BusinessRuleError(_("Nothing is left to return."), field="lines")

    def create() -> Order:
        return records.record_create(
            model=Order,
            data={
                "number": next_number(Order, "RT"),
                "kind": OrderKind.RETURN,
                "original": original,
                "customer": original.customer,
                "currency": original.currency,
                "opportunity": original.opportunity,
                "notes": note,
            },
            by=by,
        )

    ret = with_number_retry(create)
    # a return belongs to the original order's owner (no transfer right needed: it follows the sale)
    Order.objects.filter(pk=ret.pk).update(owner_id=original.owner_id)
    ret.owner_id = original.owner_id
    _add_lines(ret, lines)
    _status_row(ret, "", OrderStatus.CONFIRMED, by, None, note)
    _timeline(ret, OrderStatus.CONFIRMED)
    return ret


_LIVE = [s for s in OrderStatus.values if s != OrderStatus.CANCELLED]


def order_return(*, order: Order, quantities: dict[int, Decimal] | None, by, note: str = "") -> Order:
    """Return some (`{line id: quantity}`, positive numbers) or all (None) of a delivered order: a return order
    with negative lines pointing at the original lines. When everything is returned the original becomes
    RETURNED."""
    with transaction.atomic():
        locked, _access = records.lock_for_write(order, by)
        if locked.kind != OrderKind.SALE or locked.status not in (
            OrderStatus.DELIVERED,
            OrderStatus.INVOICED,
            OrderStatus.PAID,
        ):
            raise BusinessRuleError(_("Only a delivered sale can be returned."), field="status")
        ret = _create_return(locked, quantities, by, note)
        remaining = sum((x.quantity for x in OrderLine.objects.filter(order=locked)), ZERO) + sum(
            (
                x.quantity
                for x in OrderLine.objects.filter(returned_line__order=locked, order__status__in=_LIVE)
            ),
            ZERO,
        )
        if remaining <= 0:
            old = locked.status
            write_locked(
                locked, by, {"status": OrderStatus.RETURNED, "status_changed_at": timezone.now()}, note=note
            )
            _status_row(locked, old, OrderStatus.RETURNED, by, None, note)
            _timeline(locked, OrderStatus.RETURNED)
    return ret


def order_by_ref(external_ref: str) -> Order | None:
    return Order.objects.filter(external_ref=(external_ref or "").strip()).first()
