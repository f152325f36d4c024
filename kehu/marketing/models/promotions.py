"""Promotions (促销) and their coupon codes: spend-threshold (满减), direct discount (直减) and a gift the customer
chooses (赠品任选). Each recipient gets a unique code; a code is redeemed once, on one order of its customer."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import OwnedModel

from .campaigns import Campaign

ZERO = Decimal("0")


class PromotionKind(models.TextChoices):
    THRESHOLD = "threshold", _("Spend threshold")
    DISCOUNT = "discount", _("Direct discount")
    GIFT = "gift", _("Gift of the customer's choice")


class Promotion(OwnedModel):
    name = models.CharField(_("name"), max_length=200)
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="promotions",
    )
    kind = models.CharField(
        _("kind"), max_length=10, choices=PromotionKind.choices, default=PromotionKind.THRESHOLD
    )
    threshold = models.DecimalField(
        _("minimum order total"),
        max_digits=14,
        decimal_places=2,
        default=ZERO,
        help_text=_("The order total the customer must reach (spend threshold; optional for gifts)."),
    )
    discount = models.DecimalField(
        _("discount amount"),
        max_digits=14,
        decimal_places=2,
        default=ZERO,
        help_text=_("Taken off the order (spend threshold and direct discount)."),
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    gifts = models.TextField(
        _("gift options"), blank=True, help_text=_("One gift per line; the customer picks one of them.")
    )
    valid_from = models.DateField(_("valid from"), default=timezone.localdate)
    valid_until = models.DateField(_("valid until"))
    terms = models.TextField(_("terms"), blank=True)

    class Meta:
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")
        ordering = ["-valid_from", "-pk"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("marketing:promotion", args=[self.pk])

    def gift_options(self) -> list[str]:
        return [line.strip() for line in (self.gifts or "").splitlines() if line.strip()]

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            errors["valid_until"] = _("The promotion must end on or after its first day.")
        if self.threshold is not None and self.threshold < 0:
            errors["threshold"] = _("The minimum order total cannot be negative.")
        if self.discount is not None and self.discount < 0:
            errors["discount"] = _("The discount cannot be negative.")
        if self.kind in (PromotionKind.THRESHOLD, PromotionKind.DISCOUNT) and not (self.discount or ZERO) > 0:
            errors.setdefault("discount", _("Give the amount taken off the order."))
        if self.kind == PromotionKind.THRESHOLD:
            if not (self.threshold or ZERO) > 0:
                errors.setdefault("threshold", _("A spend threshold needs the order total to reach."))
            elif (self.discount or ZERO) >= self.threshold:
                errors.setdefault("discount", _("The discount must be smaller than the spend threshold."))
        if self.kind == PromotionKind.GIFT:
            options = self.gift_options()
            if len(options) < 2:
                errors["gifts"] = _("Give at least two gifts, one per line, for the customer to choose from.")
            elif len(set(options)) != len(options):
                errors["gifts"] = _("Each gift may be listed once.")
            elif any(len(o) > 120 for o in options):
                errors["gifts"] = _("A gift's name may have at most 120 characters.")
        if errors:
            raise ValidationError(errors)


class CouponCode(models.Model):
    """One recipient's code of a promotion. Written only by the promotion services: issued in bulk, redeemed
    once — `redeemed_at` is set by a conditional UPDATE, so two cashiers redeeming the same code at once record
    one redemption."""

    promotion = models.ForeignKey(
        Promotion, verbose_name=_("promotion"), on_delete=models.CASCADE, related_name="codes"
    )
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    code = models.CharField(_("code"), max_length=20, unique=True)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True, editable=False)
    order = models.ForeignKey(
        "sales.Order",
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="coupon_codes",
        editable=False,
    )
    gift = models.CharField(_("gift chosen"), max_length=120, blank=True, editable=False)
    discount_granted = models.DecimalField(
        _("discount granted"), max_digits=14, decimal_places=2, null=True, blank=True, editable=False
    )
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("redeemed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = _("coupon code")
        verbose_name_plural = _("coupon codes")
        ordering = ["-issued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["promotion", "customer"], name="marketing_one_code_per_recipient")
        ]
        indexes = [models.Index(fields=["promotion", "redeemed_at"], name="ix_coupon_promotion_redeemed")]

    def __str__(self) -> str:
        return self.code
