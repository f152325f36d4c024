from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from kehu.core.selectors import scoped

from .models import InstalledProduct, Product


def product_list(*, user) -> QuerySet:
    return scoped(Product, user=user).select_related("category")


def unit_list(*, user) -> QuerySet:
    """Units of the customers the user may see."""
    return scoped(InstalledProduct, user=user).select_related("product", "customer")


def units_of(*, user, customer) -> QuerySet:
    qs = unit_list(user=user)
    if customer.is_organization:
        from django.db.models import Q

        return qs.filter(Q(customer=customer) | Q(customer__account=customer))
    return qs.filter(customer=customer)


def warranty_expiring(*, user, days: int) -> QuerySet:
    today = timezone.localdate()
    return unit_list(user=user).filter(
        warranty_end__gte=today, warranty_end__lte=today + dt.timedelta(days=days)
    )


def price_list_for(*, currency: str, customer_type: str, day: dt.date):
    """The price list that applies: active, valid on `day`, in `currency`; a list for the customer's class
    wins over a list for every class; among equals the most recent start wins. None when none applies."""
    from django.db.models import Q

    from .models import PriceList

    return (
        PriceList.objects.filter(currency=currency.upper(), active=True, valid_from__lte=day)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day))
        .filter(Q(customer_type=customer_type) | Q(customer_type=""))
        .order_by("-customer_type", "-valid_from", "-pk")
        .first()
    )


def list_price(*, price_list, product, quantity) -> Decimal | None:
    """The unit price of `product` in `price_list` for `quantity` (the highest tier reached), or None."""
    from .models import PriceListItem

    return (
        PriceListItem.objects.filter(price_list=price_list, product=product, min_quantity__lte=quantity)
        .order_by("-min_quantity")
        .values_list("unit_price", flat=True)
        .first()
    )
