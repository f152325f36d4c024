"""Product catalogue and the installed base (sold-product archive): which product units each customer holds."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.dates import add_months
from kehu.core.models import CustomFieldsModel, Tag, VersionedModel


class ProductCategory(VersionedModel):
    name = models.CharField(_("name"), max_length=120)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )

    class Meta:
        verbose_name = _("product category")
        verbose_name_plural = _("product categories")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        node, seen = self.parent, set()
        while node is not None and node.pk not in seen:
            if self.pk and node.pk == self.pk:
                raise ValidationError({"parent": _("A category cannot be placed under itself.")})
            seen.add(node.pk)
            node = node.parent


class Product(VersionedModel, CustomFieldsModel):
    sku = models.CharField(_("SKU"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.ForeignKey(
        ProductCategory,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="products",
    )
    unit = models.CharField(_("unit of measure"), max_length=20, default="pcs")
    list_price = models.DecimalField(
        _("list price"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    warranty_months = models.PositiveIntegerField(_("standard warranty (months)"), default=12)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="products")

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def get_absolute_url(self) -> str:
        return reverse("products:detail", args=[self.pk])

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        self.sku = clean_text(self.sku).upper()
        self.name = clean_text(self.name)
        self.currency = (self.currency or "").upper()
        if len(self.currency) != 3 or not self.currency.isalpha():
            raise ValidationError({"currency": _("Use a three-letter currency code such as CNY or USD.")})


class UnitStatus(models.TextChoices):
    ACTIVE = "active", _("In use")
    IN_REPAIR = "in_repair", _("In repair")
    REPLACED = "replaced", _("Replaced")
    RETURNED = "returned", _("Returned")
    RETIRED = "retired", _("Retired")


class InstalledProduct(VersionedModel):
    """One product unit held by a customer: links the sale to after-sales service."""

    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="installed_products",
    )
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="units"
    )
    serial_number = models.CharField(_("serial number"), max_length=80)
    quantity = models.PositiveIntegerField(_("quantity"), default=1, validators=[MinValueValidator(1)])
    purchase_date = models.DateField(_("purchase date"), null=True, blank=True)
    order_reference = models.CharField(_("order reference"), max_length=60, blank=True)
    warranty_end = models.DateField(_("warranty end"), null=True, blank=True)
    location = models.CharField(_("location / site"), max_length=255, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=UnitStatus.choices, default=UnitStatus.ACTIVE
    )
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("installed product")
        verbose_name_plural = _("installed base")
        ordering = ["-purchase_date", "-id"]
        constraints = [models.UniqueConstraint(fields=["product", "serial_number"], name="uniq_unit_serial")]
        indexes = [
            models.Index(fields=["customer", "status"], name="ix_unit_customer_status"),
            models.Index(fields=["serial_number"], name="ix_unit_serial"),
            models.Index(fields=["warranty_end"], name="ix_unit_warranty"),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} #{self.serial_number}"

    def get_absolute_url(self) -> str:
        return reverse("products:unit", args=[self.pk])

    @property
    def under_warranty(self) -> bool:
        return bool(self.warranty_end and self.warranty_end >= timezone.localdate())

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        errors = {}
        self.serial_number = clean_text(self.serial_number).upper().replace(" ", "")
        if not self.serial_number:
            errors["serial_number"] = _("Enter the serial number.")
        if self.purchase_date and self.purchase_date > timezone.localdate():
            errors["purchase_date"] = _("The purchase date cannot be in the future.")
        if self.purchase_date and self.warranty_end and self.warranty_end < self.purchase_date:
            errors["warranty_end"] = _("The warranty cannot end before the purchase date.")
        if (
            self.product_id
            and self.serial_number
            and InstalledProduct.objects.filter(product_id=self.product_id, serial_number=self.serial_number)
            .exclude(pk=self.pk)
            .exists()
        ):
            errors["serial_number"] = _("Another unit of this product already has serial number %(sn)s.") % {
                "sn": self.serial_number
            }
        if errors:
            raise ValidationError(errors)
        if self.purchase_date and not self.warranty_end and self.product_id:
            months = (
                Product.objects.filter(pk=self.product_id).values_list("warranty_months", flat=True).first()
                or 0
            )
            self.warranty_end = add_months(self.purchase_date, months)


class PriceList(VersionedModel):
    """Prices of products for one customer class (customer type) in one currency, valid over a period.

    Price lists are catalogue data (like products): quotes in kehu.sales, the portal's web shop and
    marketing promotions read them. Which list applies to a customer on a day: `price_list_for` in
    kehu.products.selectors (the most specific active list whose validity covers the day)."""

    name = models.CharField(_("name"), max_length=120)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    customer_type = models.CharField(
        _("customer class"),
        max_length=12,
        blank=True,
        help_text=_("Empty: every customer class"),
    )
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid until"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("price list")
        verbose_name_plural = _("price lists")
        ordering = ["name"]
        indexes = [
            models.Index(fields=["currency", "customer_type", "valid_from"], name="ix_pricelist_pick"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"

    def clean(self) -> None:
        from kehu.customers.models import CustomerType
        from kehu.customers.normalize import clean_text

        errors = {}
        self.name = clean_text(self.name)
        self.currency = (self.currency or "").strip().upper()
        if not self.name:
            errors["name"] = _("Enter a name.")
        if len(self.currency) != 3 or not self.currency.isalpha():
            errors["currency"] = _("Use a three-letter currency code such as CNY or USD.")
        if self.customer_type and self.customer_type not in CustomerType.values:
            errors["customer_type"] = _("Unknown customer class.")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            errors["valid_to"] = _("The end of validity cannot be before its start.")
        if errors:
            raise ValidationError(errors)

    def get_absolute_url(self) -> str:
        return reverse("products:pricelist", args=[self.pk])

    def covers(self, day) -> bool:
        return self.active and self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class PriceListItem(VersionedModel):
    """One product's price in a list, from a minimum quantity (volume tiers are several items)."""

    price_list = models.ForeignKey(
        PriceList, verbose_name=_("price list"), on_delete=models.CASCADE, related_name="items"
    )
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="price_items"
    )
    min_quantity = models.DecimalField(
        _("from quantity"), max_digits=12, decimal_places=3, default=Decimal("1")
    )
    unit_price = models.DecimalField(_("unit price"), max_digits=16, decimal_places=2)

    class Meta:
        verbose_name = _("price list item")
        verbose_name_plural = _("price list items")
        ordering = ["price_list", "product", "min_quantity"]
        constraints = [
            models.UniqueConstraint(
                fields=["price_list", "product", "min_quantity"], name="uniq_pricelist_product_tier"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} @ {self.unit_price}"

    def clean(self) -> None:
        errors = {}
        if self.unit_price is not None and self.unit_price < 0:
            errors["unit_price"] = _("A price cannot be negative.")
        if self.min_quantity is not None and self.min_quantity <= 0:
            errors["min_quantity"] = _("The quantity must be greater than zero.")
        if errors:
            raise ValidationError(errors)
