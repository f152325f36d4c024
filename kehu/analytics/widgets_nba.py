"""The Next Best Activity panel of the customer 360° page: the customer's ranked actions with taken/ignored."""

from __future__ import annotations

from kehu.core.access import Access

from . import selectors_nba


def nba_panel(request, customer) -> dict | None:
    recs = selectors_nba.recommendations_for(user=request.user, customer=customer)  # one query
    if not recs:
        return None
    return {
        "customer": customer,
        "recommendations": recs,
        "effect_hidden": selectors_nba.effect_hidden(request.user),
        "can_decide": Access.of(request.user).can("add", "analytics.nbadecision")
        and Access.of(request.user).can_write_record(customer),
        "next": request.get_full_path(),
    }
