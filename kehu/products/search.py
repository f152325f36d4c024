"""Global search provider: installed units by serial number (prefix, case-insensitive), scoped."""

from __future__ import annotations

from django.utils.translation import gettext as _

from kehu.core import search as core_search
from kehu.core.access import Access

from .selectors import unit_list


@core_search.register
def provider(*, user, q: str, limit: int) -> list[core_search.SearchResult]:
    term = q.strip().upper().replace(" ", "")
    if len(term) < 3 or not Access.of(user).can("view", "products.installedproduct"):
        return []
    units = unit_list(user=user).filter(serial_number__startswith=term)[:limit]
    return [
        core_search.SearchResult(
            kind=_("Serial number"),
            title=u.serial_number,
            subtitle=f"{u.product.name} · {u.customer.name}",
            url=u.get_absolute_url(),
            rank=90.0 if u.serial_number == term else 70.0,
        )
        for u in units
    ]
