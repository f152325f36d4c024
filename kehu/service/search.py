"""Global search provider: tickets by number (#123) or subject prefix, scoped to what the user may see."""

from __future__ import annotations

from django.utils.translation import gettext as _

from kehu.core import search as core_search
from kehu.core.access import Access

from .models import Ticket
from .selectors import ticket_list


@core_search.register
def provider(*, user, q: str, limit: int) -> list[core_search.SearchResult]:
    if not Access.of(user).can("view", Ticket):
        return []
    term = q.strip()
    number = term.lstrip("#").replace("KH-", "").replace("kh-", "")
    qs = ticket_list(user=user)
    if number.isdigit():
        qs = qs.filter(pk=int(number))
    elif len(term) >= 2:
        qs = qs.filter(subject__istartswith=term).order_by("-created_at")
    else:
        return []
    return [
        core_search.SearchResult(
            kind=_("Ticket"),
            title=str(t),
            subtitle=f"{t.get_status_display()} · {t.customer.name if t.customer_id else t.requester_email}",
            url=t.get_absolute_url(),
            rank=95.0 if number.isdigit() else 50.0,
        )
        for t in qs[:limit]
    ]
