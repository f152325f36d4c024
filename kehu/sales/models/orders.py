"""Orders (订单): the purchase history analytics reads. Returns and cancellations net out by construction:

- a cancelled order keeps its lines with `counted=False` (set by the service in the same transaction);
- a return (refund) is an Order of kind RETURN pointing at the original, whose lines carry *negative*
  quantities and amounts;

so net revenue per customer and day is `SUM(amount)` over `OrderLine` with `counted=True`, one index range
scan over (customer, order_date) without joining the order (customer, date, currency and the flag are
denormalised onto every line).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import OwnedModel
from kehu.sales.money import ZERO, VatRate, clean_currency, line_figures


class OrderKind(models.TextChoices):
    SALE = "sale", _("Sale")
    RETURN = "return", _("Return / refund")


class OrderStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("Confirmed")
    IN_PRODUCTION = "production", _("In production")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    INVOICED = "invoiced", _("Invoiced")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")
    RETURNED = "returned", _("Returned")


# forward flow; CANCELLED from any status before DELIVERED; RETURNED after delivery (a return order exists)
ORDER_FLOW = [
    OrderStatus.CONFIRMED,
    OrderStatus.IN_PRODUCTION,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.INVOICED,
    OrderStatus.PAID,
]
ORDER_TRANSITIONS: dict[str, set[str]] = {
    OrderStatus.CONFIRMED: {
        OrderStatus.IN_PRODUCTION,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.CANCELLED,
    },
    OrderStatus.IN_PRODUCTION: {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED},
    OrderStatus.SHIPPED: {OrderStatus.DELIVERED, OrderStatus.CANCELLED},
    OrderStatus.DELIVERED: {OrderStatus.INVOICED, OrderStatus.PAID, OrderStatus.RETURNED},
    OrderStatus.INVOICED: {OrderStatus.PAID, OrderStatus.RETURNED},
    OrderStatus.PAID: {OrderStatus.RETURNED},
    OrderStatus.CANCELLED: set(),
    OrderStatus.RETURNED: set(),
}


class Order(OwnedModel):
    number = models.CharField(_("number"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=6, choices=OrderKind.choices, default=OrderKind.SALE)
    original = models.ForeignKey(
        "self",
        verbose_name=_("original order"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="returns",
    )
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="orders"
    )
    order_date = models.DateField(_("order date"), default=timezone.localdate)
    status = models.CharField(
        _("status"), max_length=10, choices=OrderStatus.choices, default=OrderStatus.CONFIRMED, editable=False
    )
    status_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    net_amount = models.DecimalField(
        _("net amount"), max_digits=16, decimal_places=2, default=ZERO, editable=False
    )
    tax_amount = models.DecimalField(_("VAT"), max_digits=16, decimal_places=2, default=ZERO, editable=False)
    total = models.DecimalField(_("total"), max_digits=16, decimal_places=2, default=ZERO, editable=False)
    quote = models.OneToOneField(
        "sales.Quote",
        verbose_name=_("quote"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="order",
        editable=False,
    )
    opportunity = models.ForeignKey(
        "sales.Opportunity",
        verbose_name=_("opportunity"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    contract = models.ForeignKey(
        "sales.Contract",
        verbose_name=_("contract"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    external_ref = models.CharField(_("ERP reference"), max_length=120, null=True, blank=True, unique=True)
    shipping_address = models.TextField(_("delivery address"), blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-order_date", "-id"]
        indexes = [
            models.Index(fields=["customer", "order_date"], name="ix_order_customer_date"),
            models.Index(fields=["owner", "-order_date"], name="ix_order_owner_date"),
            models.Index(fields=["status", "-order_date"], name="ix_order_status_date"),
            models.Index(fields=["order_date"], name="ix_order_date"),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("sales:order", args=[self.pk])

    @property
    def sign(self) -> int:
        return -1 if self.kind == OrderKind.RETURN else 1

    def clean(self) -> None:
        errors: dict = {}
        self.number = (self.number or "").strip().upper()
        self.external_ref = (self.external_ref or "").strip() or None
        if not self.number:
            errors["number"] = _("Enter a number.")
        self.currency = clean_currency(self.currency)
        if not self.currency:
            errors["currency"] = _("Use a three-letter currency code such as CNY or USD.")
        if self.kind == OrderKind.RETURN:
            if not self.original_id:
                errors["original"] = _("A return refers to the order it returns.")
            else:
                original = (
                    Order.objects.filter(pk=self.original_id)
                    .values("customer_id", "currency", "kind")
                    .first()
                )
                if original is None or original["kind"] != OrderKind.SALE:
                    errors["original"] = _("A return refers to a sale.")
                elif original["customer_id"] != self.customer_id:
                    errors["original"] = _("The original order belongs to another customer.")
                elif original["currency"] != self.currency:
                    errors["currency"] = _("A return is in the currency of the original order.")
        elif self.original_id:
            errors["original"] = _("Only a return refers to an original order.")
        if self.order_date and self.order_date > timezone.localdate() + timezone.timedelta(days=366):
            errors["order_date"] = _("The date is more than a year in the future.")
        if errors:
            raise ValidationError(errors)


class OrderLine(models.Model):
    """An order line. Signed: a return's lines have negative quantity and amounts. `customer`, `order_date`,
    `currency` and `counted` copy the order's values (services keep them in sync) so that analytics can
    aggregate 10M lines per customer and date from one covering index."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField(_("line"), default=1)
    product = models.ForeignKey(
        "products.Product",
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    description = models.CharField(_("description"), max_length=300, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(_("unit price"), max_digits=16, decimal_places=2)
    discount_percent = models.DecimalField(_("discount (%)"), max_digits=5, decimal_places=2, default=ZERO)
    tax_rate = models.DecimalField(
        _("VAT rate (%)"), max_digits=5, decimal_places=2, default=Decimal("13.00")
    )
    amount = models.DecimalField(_("net amount"), max_digits=16, decimal_places=2, default=ZERO)
    tax_amount = models.DecimalField(_("VAT"), max_digits=16, decimal_places=2, default=ZERO)
    delivered_quantity = models.DecimalField(_("delivered"), max_digits=12, decimal_places=3, default=ZERO)
    serial_numbers = models.TextField(_("serial numbers"), blank=True, help_text=_("One per line"))
    returned_line = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="returns",
        verbose_name=_("returned line"),
    )
    # denormalised from the order for analytics (kept in sync by kehu.sales services)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+", editable=False
    )
    order_date = models.DateField(editable=False)
    currency = models.CharField(max_length=3, editable=False)
    counted = models.BooleanField(default=True, editable=False, help_text="False when the order is cancelled")

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "line_no", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "line_no"], name="uniq_orderline_no")]
        indexes = [
            # purchase history per customer and period: index-only on PostgreSQL
            models.Index(
                fields=["customer", "order_date"],
                name="ix_orderline_customer_date",
                include=["amount", "quantity", "product", "counted", "currency"],
            ),
            models.Index(fields=["product", "order_date"], name="ix_orderline_product_date"),
            models.Index(
                fields=["order_date"], name="ix_orderline_date", include=["amount", "counted", "currency"]
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_no}"

    def clean(self) -> None:
        """Sign rules: a sale's quantity > 0, a return's < 0 (the order must be set first)."""
        errors = {}
        kind = (
            Order.objects.filter(pk=self.order_id).values_list("kind", flat=True).first()
            if self.order_id
            else None
        )
        if self.quantity is None or self.quantity == 0:
            errors["quantity"] = _("The quantity cannot be zero.")
        elif kind == OrderKind.SALE and self.quantity < 0:
            errors["quantity"] = _("The quantity must be greater than zero.")
        elif kind == OrderKind.RETURN and self.quantity > 0:
            errors["quantity"] = _("A returned quantity is negative.")
        if self.unit_price is None or self.unit_price < 0:
            errors["unit_price"] = _("A price cannot be negative.")
        if self.discount_percent is None or not ZERO <= self.discount_percent <= 100:
            errors["discount_percent"] = _("A discount lies between 0 and 100%.")
        if (
            self.tax_rate is None
            or str(Decimal(self.tax_rate).quantize(Decimal("0.01"))) not in VatRate.values
        ):
            errors["tax_rate"] = _("Choose one of the VAT rates 13%, 9%, 6% or 0%.")
        if (
            self.delivered_quantity is not None
            and self.quantity
            and abs(self.delivered_quantity) > abs(self.quantity)
        ):
            errors["delivered_quantity"] = _("More delivered than ordered.")
        if not self.product_id and not (self.description or "").strip():
            errors["description"] = _("Choose a product or describe the line.")
        if errors:
            raise ValidationError(errors)
        figures = line_figures(
            quantity=self.quantity,
            unit_price=self.unit_price,
            discount_percent=self.discount_percent,
            tax_rate=self.tax_rate,
        )
        self.amount, self.tax_amount = figures.net, figures.tax


class OrderStatusChange(models.Model):
    """Order status history. `idempotency_key` (an ERP event id, unique per order) makes API status updates
    safe to retry: a replayed key changes nothing."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10, choices=OrderStatus.choices)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    idempotency_key = models.CharField(max_length=120, null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("order status change")
        verbose_name_plural = _("order status history")
        ordering = ["order", "at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "idempotency_key"], name="uniq_order_status_key")
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status} → {self.to_status}"
