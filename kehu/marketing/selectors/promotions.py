"""Promotion reads: the promotions in a user's scope, their redemption figures (issued, redeemed, discount
granted, revenue of the orders that used a code) and the codes of the customers the user may see."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from kehu.core.selectors import get_visible, scoped
from kehu.customers.selectors import customer_list

from ..models import CouponCode, Promotion, PromotionKind
from ..services.promotions import normalise_code

CENT = Decimal("0.01")


def promotion_list(*, user) -> QuerySet[Promotion]:
    return scoped(Promotion, user=user).select_related("owner", "campaign")


def promotion_get(*, user, pk) -> Promotion:
    return get_visible(promotion_list(user=user), user=user, pk=pk)


def promotion_stats(promotion: Promotion) -> dict:
    """Counts over every code of the promotion (figures, not people: no customer is named)."""
    from kehu.sales.models import Order

    codes = CouponCode.objects.filter(promotion=promotion)
    row = codes.aggregate(
        issued=Count("id"),
        redeemed=Count("id", filter=Q(redeemed_at__isnull=False)),
        granted=Sum("discount_granted"),
    )
    revenue = Order.objects.filter(pk__in=codes.filter(order__isnull=False).values("order_id")).aggregate(
        total=Sum("total")
    )["total"]
    issued = row["issued"] or 0
    redeemed = row["redeemed"] or 0
    gifts = (
        dict(codes.exclude(gift="").values_list("gift").annotate(n=Count("id")))
        if promotion.kind == PromotionKind.GIFT
        else {}
    )
    return {
        "issued": issued,
        "redeemed": redeemed,
        "rate": (Decimal(redeemed) * 100 / issued).quantize(Decimal("0.1")) if issued else None,
        "discount_granted": (row["granted"] or Decimal(0)).quantize(CENT),
        "revenue": (revenue or Decimal(0)).quantize(CENT),
        "gifts": sorted(gifts.items(), key=lambda kv: (-kv[1], kv[0])),
    }


def promotion_codes(*, promotion: Promotion, user) -> QuerySet[CouponCode]:
    """The promotion's codes of the customers the user may see, newest redemptions first."""
    visible = customer_list(user=user).values("pk")
    return (
        CouponCode.objects.filter(promotion=promotion, customer__in=visible)
        .select_related("customer", "order")
        .order_by("-redeemed_at", "-pk")
    )


def campaign_promotions(*, campaign, user) -> list[tuple[Promotion, dict]]:
    """The campaign's promotions the user may see, each with its figures (for the campaign page)."""
    return [
        (p, promotion_stats(p)) for p in promotion_list(user=user).filter(campaign=campaign).order_by("pk")
    ]


def gift_choices(code: str) -> list[str]:
    """The gift options of the promotion a typed code belongs to (empty when it is not a gift coupon)."""
    typed = normalise_code(code)
    if not typed:
        return []
    coupon = CouponCode.objects.select_related("promotion").filter(code=typed).first()
    if coupon is None or coupon.promotion.kind != PromotionKind.GIFT:
        return []
    return coupon.promotion.gift_options()


def order_by_number(*, user, number: str):
    """An order in the user's scope with exactly this number, or None."""
    from kehu.sales.models import Order

    return scoped(Order, user=user).filter(number=(number or "").strip()).first()
