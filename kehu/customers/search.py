"""Customer search: the global search box provider and the list filter.

Every query starts from the scoped selector. Matching is token based over Customer.search_text (see keys.py):
each query token must be a prefix of some indexed token.
"""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

from kehu.core import search as core_search
from kehu.core.selectors import scoped

from . import keys, normalize
from .models import Customer, Kind

_SPLIT = re.compile(r"\s+")


def query_tokens(q: str) -> list[str]:
    text = normalize.clean_text(q).lower()
    tokens: list[str] = []
    for word in _SPLIT.split(text):
        if not word:
            continue
        digits = normalize.phone_digits(word)
        if len(digits) >= 4 and len(digits) >= len(re.sub(r"[\s+()\-.]", "", word)) - 1:
            tokens.append(digits.removeprefix("86") if len(digits) > 11 else digits)
        elif normalize.has_cjk(word):
            key = normalize.simplified(word)
            tokens.extend(keys.text_tokens(key)[len(key) :] or [key])  # bigrams (or the single char)
        else:
            tokens.append(re.sub(r"[^\w@.\-]", "", word))
    return [t for t in tokens if t]


def filter_customers(qs: QuerySet, q: str) -> QuerySet:
    """Portable token-prefix match: ' token' occurs in ' ' + search_text."""
    for token in query_tokens(q):
        qs = qs.filter(Q(search_text__startswith=token) | Q(search_text__contains=f" {token}"))
    return qs


def rank(customer: Customer, q: str) -> float:
    key = normalize.name_key(q)
    name = customer.name_key
    if key and name == key:
        return 100.0
    if key and name.startswith(key):
        return 80.0
    if key and key in name:
        return 60.0
    return 40.0


def customer_search(*, user, q: str, limit: int = 20) -> list[Customer]:
    qs = filter_customers(scoped(Customer, user=user).filter(merged_into__isnull=True), q)
    candidates = list(
        qs.select_related("account").only(
            "id", "name", "kind", "phone", "email", "city", "name_key", "account__name", "account_id"
        )[:200]
    )
    candidates.sort(key=lambda c: (-rank(c, q), len(c.name), c.pk))
    return candidates[:limit]


@core_search.register
def provider(*, user, q: str, limit: int) -> list[core_search.SearchResult]:
    results = []
    for c in customer_search(user=user, q=q, limit=limit):
        subtitle = " · ".join(
            x for x in (c.account.name if c.account_id else "", c.phone_display, c.email, c.city) if x
        )
        kind = str(Kind(c.kind).label) if not c.account_id else str(Kind.PERSON.label)
        results.append(
            core_search.SearchResult(
                kind=kind, title=c.name, subtitle=subtitle, url=c.get_absolute_url(), rank=rank(c, q)
            )
        )
    return results
