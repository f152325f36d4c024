"""Spare parts: stock per warehouse and engineer's van, and the moves between them and work orders.

Stock never goes negative: `StockLevel.quantity` has a CHECK constraint, and the stock services decrement
it with a conditional UPDATE (`quantity >= n`) under the row lock, so concurrent issues cannot overdraw.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import VersionedModel


class SparePart(VersionedModel):
    """A catalogue product stocked as a spare part."""

    product = models.OneToOneField(
        "products.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="spare_part"
    )
    reorder_level = models.PositiveIntegerField(
        _("reorder level"), default=0, help_text=_("Alert when the stock of a warehouse falls below this.")
    )
    compatible_products = models.ManyToManyField(
        "products.Product", verbose_name=_("fits"), blank=True, related_name="compatible_parts"
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("spare part")
        verbose_name_plural = _("spare parts")
        ordering = ["product__name"]

    def __str__(self) -> str:
        return str(self.product)


class WarehouseKind(models.TextChoices):
    WAREHOUSE = "warehouse", _("Warehouse")
    VAN = "van", _("Engineer's van")


class Warehouse(VersionedModel):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(
        _("type"), max_length=10, choices=WarehouseKind.choices, default=WarehouseKind.WAREHOUSE
    )
    engineer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("engineer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    region = models.CharField(_("region"), max_length=80, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses and vans")
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["engineer"], condition=models.Q(kind="van"), name="uniq_van_per_engineer"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == WarehouseKind.VAN and not self.engineer_id:
            raise ValidationError({"engineer": _("A van belongs to an engineer.")})
        if self.kind == WarehouseKind.WAREHOUSE and self.engineer_id:
            raise ValidationError({"engineer": _("Only a van belongs to an engineer.")})


class StockLevel(models.Model):
    part = models.ForeignKey(
        SparePart, verbose_name=_("part"), on_delete=models.CASCADE, related_name="stock"
    )
    warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("warehouse"), on_delete=models.CASCADE, related_name="stock"
    )
    quantity = models.IntegerField(_("on hand"), default=0)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        ordering = ["warehouse", "part"]
        constraints = [
            models.UniqueConstraint(fields=["part", "warehouse"], name="uniq_stock_part_warehouse"),
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="stock_never_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.part} @ {self.warehouse}: {self.quantity}"


class StockMoveKind(models.TextChoices):
    RECEIPT = "receipt", _("Receipt")
    TRANSFER = "transfer", _("Transfer")
    ISSUE = "issue", _("Issued to a work order")
    CONSUME = "consume", _("Used on site")
    RETURN = "return", _("Returned from a work order")
    ADJUST = "adjust", _("Stock count adjustment")


class StockMove(models.Model):
    """An append-only movement of parts. Issued parts leave stock; a work order consumes or returns them."""

    part = models.ForeignKey(
        SparePart, verbose_name=_("part"), on_delete=models.PROTECT, related_name="moves"
    )
    kind = models.CharField(_("type"), max_length=10, choices=StockMoveKind.choices)
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    from_warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("from"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("to"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    work_order = models.ForeignKey(
        "service.WorkOrder",
        verbose_name=_("work order"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="part_moves",
    )
    at = models.DateTimeField(_("when"), default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    idempotency_key = models.CharField(max_length=80, null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = _("stock move")
        verbose_name_plural = _("stock moves")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["part", "-at"], name="ix_stockmove_part"),
            models.Index(fields=["work_order", "at"], name="ix_stockmove_workorder"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="stockmove_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity} × {self.part}"

    def clean(self) -> None:
        src, dst, wo = self.from_warehouse_id, self.to_warehouse_id, self.work_order_id
        rules = {
            StockMoveKind.RECEIPT: (src is None and dst is not None, _("A receipt goes into one warehouse.")),
            StockMoveKind.TRANSFER: (
                src is not None and dst is not None and src != dst,
                _("A transfer goes from one warehouse to another."),
            ),
            StockMoveKind.ISSUE: (
                src is not None and dst is None and wo is not None,
                _("Parts are issued from a warehouse or van to a work order."),
            ),
            StockMoveKind.CONSUME: (
                src is None and dst is None and wo is not None,
                _("Used parts are recorded on their work order."),
            ),
            StockMoveKind.RETURN: (
                src is None and dst is not None and wo is not None,
                _("Parts are returned from a work order into a warehouse or van."),
            ),
            StockMoveKind.ADJUST: ((src is None) != (dst is None), _("An adjustment changes one warehouse.")),
        }
        ok, message = rules.get(self.kind, (False, _("Unknown move type.")))
        if not ok:
            raise ValidationError({"kind": message})
