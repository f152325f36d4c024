"""Customer search: one function, `filter_customers(qs, q)`, used by the list page, the API and the global
search box. `qs` arrives already scoped to the user, so search never widens what anyone may see.

Documents are the token bags of Customer.search_text (keys.py). Every query token must be a prefix of an
indexed token. The database does the matching with an index:
- PostgreSQL: GIN index on search_text::tsvector, queried with a prefix tsquery (migration 0002);
- SQLite: an FTS5 table kept in sync by triggers, queried with MATCH and prefix terms (migration 0002);
- other databases: a portable LIKE fallback.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from kehu.core import search as core_search
from kehu.core.selectors import scoped

from . import keys, normalize
from .models import Customer, Kind

_SPLIT = re.compile(r"\s+")
_PHONE_CHARS = re.compile(r"[\s+()\-./]")
MAX_CANDIDATES = 200


def query_tokens(q: str) -> list[str]:
    """Split what the user typed into index tokens (same rules as the documents)."""
    text = normalize.clean_text(q).lower()[:100]
    compact = _PHONE_CHARS.sub("", text)
    if len(compact) >= 4 and compact.isdigit():
        # a phone number in any format: +86 138-1234-5678, (021) 6123 4567, or its last digits
        return [compact[2:] if compact.startswith("86") and len(compact) > 11 else compact]
    tokens: list[str] = []
    for word in _SPLIT.split(text):
        if not word:
            continue
        if normalize.has_cjk(word):
            key = normalize.simplified(word)
            cjk = [t for t in keys.text_tokens(key) if normalize.has_cjk(t)]
            bigrams = [t for t in cjk if len(t) == 2]
            tokens.extend(bigrams or cjk[:1])
            tokens.extend(t for t in keys.text_tokens(key) if not normalize.has_cjk(t))
        else:
            tokens.append(word)
    return [t for t in (keys.safe_token(t) for t in tokens) if t][:8]


def _postgres_filter(qs: QuerySet, tokens: list[str]) -> QuerySet:
    query = " & ".join(f"'{t}':*" for t in tokens)
    # qualified: the account join (select_related) has a search_text column too; the table name is a constant
    sql = f'"{qs.model._meta.db_table}"."search_text"::tsvector @@ %s::tsquery'
    return qs.alias(_match=RawSQL(sql, [query], output_field=BooleanField())).filter(_match=True)  # noqa: S611


def _sqlite_filter(qs: QuerySet, tokens: list[str]) -> QuerySet:
    match = " AND ".join(f'"{t}"*' for t in tokens)
    return qs.filter(
        pk__in=RawSQL(
            "SELECT rowid FROM customers_customer_fts WHERE customers_customer_fts MATCH %s", [match]
        )
    )


def _portable_filter(qs: QuerySet, tokens: list[str]) -> QuerySet:
    for token in tokens:
        qs = qs.filter(Q(search_text__startswith=token) | Q(search_text__contains=f" {token}"))
    return qs


def filter_customers(qs: QuerySet, q: str) -> QuerySet:
    tokens = query_tokens(q)
    if not tokens:
        return qs.none() if (q or "").strip() else qs
    vendor = connection.vendor
    if vendor == "postgresql":
        return _postgres_filter(qs, tokens)
    if vendor == "sqlite":
        return _sqlite_filter(qs, tokens)
    return _portable_filter(qs, tokens)


def rank(customer: Customer, q: str) -> float:
    """Exact name > name prefix > name contains > other matches (pinyin, phone, email); shorter names first."""
    key = normalize.name_key(q)
    name = customer.name_key
    if key and name == key:
        return 100.0
    if key and name.startswith(key):
        return 80.0
    if key and key in name:
        return 60.0
    if key and customer.name_initials.startswith(key):
        return 55.0
    return 40.0


def customer_search(*, user, q: str, limit: int = 20) -> list[Customer]:
    """Ranked search results as you type: at most MAX_CANDIDATES matches are ranked, so the cost stays
    bounded however common the query."""
    qs = filter_customers(scoped(Customer, user=user).filter(merged_into__isnull=True), q)
    candidates = list(
        qs.select_related("account").only(
            "id",
            "name",
            "kind",
            "phone",
            "email",
            "city",
            "name_key",
            "name_initials",
            "account__name",
            "account_id",
        )[:MAX_CANDIDATES]
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
        kind = str(Kind(c.kind).label)
        results.append(
            core_search.SearchResult(
                kind=kind, title=c.name, subtitle=subtitle, url=c.get_absolute_url(), rank=rank(c, q)
            )
        )
    return results
