from __future__ import annotations

import datetime as dt

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
