from __future__ import annotations

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.access import Access

from . import selectors


def units_panel(request, customer) -> dict | None:
    access = Access.of(request.user)
    if not access.can("view", "products.installedproduct"):
        return None
    units = list(
        selectors.units_of(user=request.user, customer=customer).order_by("-purchase_date", "-id")[:20]
    )
    return {"customer": customer, "units": units, "can_add": access.can("add", "products.installedproduct")}


def figures(request, customer) -> list[tuple]:
    if not Access.of(request.user).can("view", "products.installedproduct"):
        return []
    counts = selectors.units_of(user=request.user, customer=customer).aggregate(
        total=Count("id"), warranty=Count("id", filter=Q(warranty_end__gte=timezone.localdate()))
    )
    return [(_("Installed units"), counts["total"]), (_("Under warranty"), counts["warranty"])]
