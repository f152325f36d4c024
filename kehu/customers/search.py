"""Customer search: one function, `filter_customers(qs, q)`, used by the list page, the API and the global
search box. `qs` arrives already scoped to the user, so search never widens what anyone may see.

Documents are the token bags of Customer.search_text (keys.py). A query is parsed into groups of tokens
(every group must match; a group matches when one of its alternatives does). The database does the matching
with an index:
- PostgreSQL: a stored tsvector column `search_vector` generated from search_text, with a GIN index, queried
  with a tsquery ('tok':* prefixes; migration 0006);
- SQLite: an FTS5 table kept in sync by triggers, queried with MATCH and prefix terms (migration 0002);
- other databases: a portable LIKE fallback.

Chinese without a segmenter: a run of CJK characters in the query is cut into the index's bigrams *without
overlap* (北京科技 → 北京 & 科技), so the words of a query match independently ("北京科技" finds
北京天成和科技集团有限公司, whose bigrams have no 京科). The cut may fall across a word, so every alignment is an
alternative (an odd run: one unigram at any even position; an even run: also shifted by one). The overlapping
bigrams (北京 & 京科 & 科技, i.e. nearly the phrase) form a separate tier that is collected first.

Ranked and bounded: candidates are collected in tiers — exact name, name prefix (b-tree index on name_key),
then the phrase (overlapping CJK bigrams), then the independent tokens — each tier capped at MAX_CANDIDATES rows and fetched without ORDER BY so that the
database stops at the cap however common the query ("有限公司" matches most of a million companies). The
returned queryset holds only those candidates, annotated with `search_rank` (exact 100 > prefix 80 >
contains 60 > pinyin/initials 50 > phrase 45 > other token matches 40) and ordered by it, then by shorter name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Length

from kehu.core import search as core_search
from kehu.core.selectors import scoped

from . import keys, normalize
from .models import Customer, Kind

_SPLIT = re.compile(r"\s+")
_PHONE_CHARS = re.compile(r"[\s+()\-./–]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")  # as keys.text_tokens cuts documents
_INITIALS = re.compile(r"[bcdfghjklmnpqrstwxyz]{4,}")
MAX_CANDIDATES = 200
MAX_GROUPS = 8
MIN_DIGITS = 4

# a term: (token, is_prefix); an alternative: terms that must all match; a group: alternatives (any)
Term = tuple[str, bool]
Group = list[list[Term]]


MAX_CJK_RUN = 24  # characters of one CJK run that take part in matching (bounds the size of the query)


@dataclass
class ParsedQuery:
    key: str = ""  # the query as a name key (exact / prefix / contains ranking on names)
    groups: list[Group] = field(default_factory=list)
    # the same groups with each CJK run as overlapping bigrams (its words adjacent, as typed); empty when equal
    phrase: list[Group] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.key or self.groups)


def parse(q: str) -> ParsedQuery:
    """What the user typed → name key + token groups, with the same rules as the documents (keys.py)."""
    text = normalize.clean_text(q).lower()[:100]
    key = normalize.name_key(text)[:200]
    compact = _PHONE_CHARS.sub("", text)
    if compact.isdigit():
        # a phone number in any format: +86 138-1234-5678, (021) 6123 4567, or its last digits
        if len(compact) >= MIN_DIGITS:
            return ParsedQuery(key=key, groups=[[[(compact[:20], True)]]])
        return ParsedQuery(key=key)
    groups: list[Group] = []
    phrase: list[Group] = []
    for word in _SPLIT.split(text):
        if not word:
            continue
        if normalize.has_cjk(word):
            simple = normalize.simplified(normalize.clean_text(word)).lower()
            for run in _CJK_RUN.findall(simple):
                run = run[:MAX_CJK_RUN]
                groups.append(cjk_alternatives(run))
                phrase.append(cjk_phrase(run))
            latin = [t for t in keys.text_tokens(simple) if not normalize.has_cjk(t)]
            for t in latin:
                if len(t) >= 2:
                    groups.append([[(t, True)]])
                    phrase.append([[(t, True)]])
            continue
        token = keys.safe_token(word)
        if len(token) < 2 or (token.isdigit() and len(token) < MIN_DIGITS):
            continue  # too short to be selective; the name prefix tier still answers it
        alternatives: Group = [[(token, True)]]
        if _INITIALS.fullmatch(token):
            # initials of non-adjacent words ("bjkj" → 北京某某科技): every pair of initials must occur
            pairs = [token[i : i + 2] for i in range(0, len(token) - 1, 2)]
            alternatives.append([(keys.PAIR_MARK + p, False) for p in pairs])
        groups.append(alternatives)
        phrase.append(alternatives)
    groups, phrase = groups[:MAX_GROUPS], phrase[:MAX_GROUPS]
    return ParsedQuery(key=key, groups=groups, phrase=phrase if phrase != groups else [])


def _pairs(run: str) -> list[Term]:
    return [(run[i : i + 2], False) for i in range(0, len(run) - 1, 2)]


def cjk_alternatives(run: str) -> Group:
    """A CJK run as the index's terms (bigrams, a unigram for an odd character), cut without overlap so that
    each piece matches on its own wherever it is in the name. CJK terms are indexed whole: no prefix.

    北京科技 → (北京 & 科技) | (北 & 京科 & 技); 北京天科技 → (北 & 京天 & 科技) | (北京 & 天 & 科技) | (北京 & 天科 & 技).
    """
    if len(run) == 1:
        return [[(run, False)]]
    if len(run) % 2 == 0:
        alternatives = [_pairs(run)]
        if len(run) > 2:  # the same cut shifted by one, for a query whose words are of odd length
            alternatives.append([(run[0], False), *_pairs(run[1:-1]), (run[-1], False)])
        return alternatives
    # odd: the one unigram at any even position, bigrams around it
    return [[*_pairs(run[:i]), (run[i], False), *_pairs(run[i + 1 :])] for i in range(0, len(run), 2)]


def cjk_phrase(run: str) -> Group:
    """A CJK run as overlapping bigrams: all must occur, which (nearly) means the run occurs as typed."""
    if len(run) == 1:
        return [[(run, False)]]
    return [[(t, False) for t in dict.fromkeys(run[i : i + 2] for i in range(len(run) - 1))]]


def query_tokens(q: str) -> list[str]:
    """The tokens a query looks for (first alternative of each group); for tests and debugging."""
    return [t for group in parse(q).groups for t, _prefix in group[0]]


# ------------------------------------------------------------------------------------------- field security
@dataclass(frozen=True)
class Reach:
    """Which token bags a search may match for a user (ADR 0009): the shared bag only if the user may see
    the name, the restricted bag only with the tags of the fields the user may see."""

    shared: bool = True
    fields: tuple[str, ...] = ()


#: internal callers without a user (duplicate detection by name): the shared bag only
SHARED_ONLY = Reach()


def reach_for(user) -> Reach:
    """What `user` may search by: Access decides which of the customer's indexed fields are hidden."""
    from kehu.core.access import Access

    hidden = Access.of(user).hidden_fields(Customer)
    return Reach(
        shared=keys.SHARED_FIELD not in hidden,
        fields=tuple(f for f in keys.RESTRICTED_FIELDS if f not in hidden),
    )


# ------------------------------------------------------------------------------------------- backends
def _postgres_match(qs: QuerySet, groups: list[Group], reach: Reach) -> QuerySet:
    def tsquery(token: str, prefix: bool) -> str:
        return f"'{token}':*" if prefix else f"'{token}'"

    table = qs.model._meta.db_table  # a constant; qualified because the account join has the columns too
    params: list[str] = []

    def term(t: Term) -> str:
        token, prefix = t
        parts = []
        if reach.shared:
            parts.append(f'"{table}"."search_vector" @@ %s::tsquery')
            params.append(tsquery(token, prefix))
        if reach.fields:
            parts.append(f'"{table}"."search_restricted_vector" @@ %s::tsquery')
            params.append(" | ".join(tsquery(keys.tag(f, token), prefix) for f in reach.fields))
        return "(" + " OR ".join(parts) + ")"

    sql = " AND ".join(
        "(" + " OR ".join("(" + " AND ".join(term(t) for t in alt) + ")" for alt in group) + ")"
        for group in groups
    )
    return qs.alias(_match=RawSQL(sql, params, output_field=BooleanField())).filter(_match=True)  # noqa: S611 # nosec B611


def _sqlite_match(qs: QuerySet, groups: list[Group], reach: Reach) -> QuerySet:
    def fts(token: str, prefix: bool) -> str:
        return f'"{token}"*' if prefix else f'"{token}"'

    def term(t: Term) -> str:
        token, prefix = t
        parts = []
        if reach.shared:
            parts.append(f"search_text : {fts(token, prefix)}")
        if reach.fields:
            tagged = " OR ".join(fts(keys.tag(f, token), prefix) for f in reach.fields)
            parts.append(f"search_restricted : ({tagged})")
        return "(" + " OR ".join(parts) + ")"

    match = " AND ".join(
        "(" + " OR ".join("(" + " AND ".join(term(t) for t in alt) + ")" for alt in group) + ")"
        for group in groups
    )
    return qs.filter(
        pk__in=RawSQL(
            "SELECT rowid FROM customers_customer_fts WHERE customers_customer_fts MATCH %s", [match]
        )
    )


def _portable_match(qs: QuerySet, groups: list[Group], reach: Reach) -> QuerySet:
    def in_bag(column: str, token: str, prefix: bool) -> Q:
        if prefix:
            return Q(**{f"{column}__startswith": token}) | Q(**{f"{column}__contains": f" {token}"})
        return (
            Q(**{column: token})
            | Q(**{f"{column}__startswith": f"{token} "})
            | Q(**{f"{column}__contains": f" {token} "})
            | Q(**{f"{column}__endswith": f" {token}"})
        )

    def term(t: Term) -> Q:
        token, prefix = t
        condition = Q(pk__in=[])
        if reach.shared:
            condition |= in_bag("search_text", token, prefix)
        for f in reach.fields:
            condition |= in_bag("search_restricted", keys.tag(f, token), prefix)
        return condition

    for group in groups:
        condition = Q(pk__in=[])
        for alt in group:
            both = Q()
            for t in alt:
                both &= term(t)
            condition |= both
        qs = qs.filter(condition)
    return qs


def match_tokens(qs: QuerySet, parsed: ParsedQuery, reach: Reach = SHARED_ONLY) -> QuerySet:
    """Rows of `qs` whose token bags, as far as `reach` allows, match every group (unordered, unbounded)."""
    if not (reach.shared or reach.fields):
        return qs.none()
    vendor = connection.vendor
    if vendor == "postgresql":
        return _postgres_match(qs, parsed.groups, reach)
    if vendor == "sqlite":
        return _sqlite_match(qs, parsed.groups, reach)
    return _portable_match(qs, parsed.groups, reach)


def _name_prefix(qs: QuerySet, key: str) -> QuerySet:
    if connection.vendor == "sqlite":
        # a range uses the b-tree index (SQLite's LIKE is case-insensitive and cannot); BINARY collation
        # orders UTF-8 by code point, so [key, key + U+10FFFF) is exactly "starts with key"
        return qs.filter(name_key__gte=key, name_key__lt=key + "\U0010ffff")
    # PostgreSQL: Django's varchar_pattern_ops index on name_key serves LIKE 'key%'
    return qs.filter(name_key__startswith=key)


def candidate_ids(
    qs: QuerySet,
    parsed: ParsedQuery,
    limit: int | None = None,
    *,
    phrase_ids: set[int] | None = None,
    reach: Reach = SHARED_ONLY,
) -> list[int]:
    """Ids of at most `limit` (default MAX_CANDIDATES) matches per tier: exact name, name prefix, phrase,
    independent tokens. `phrase_ids`, when given, receives the ids that matched the phrase tier. `reach` says
    which restricted fields' tokens may match (the reader's visible fields)."""
    limit = limit or MAX_CANDIDATES
    base = qs.order_by()
    ids: dict[int, None] = {}
    if parsed.key and reach.shared:
        ids.update(dict.fromkeys(base.filter(name_key=parsed.key).values_list("pk", flat=True)[:limit]))
        if len(ids) < limit:
            prefix = _name_prefix(base, parsed.key).exclude(name_key=parsed.key)
            ids.update(dict.fromkeys(prefix.values_list("pk", flat=True)[: limit - len(ids)]))
    if parsed.phrase:
        found = list(
            match_tokens(base, ParsedQuery(groups=parsed.phrase), reach).values_list("pk", flat=True)[:limit]
        )
        ids.update(dict.fromkeys(found))
        if phrase_ids is not None:
            phrase_ids.update(found)
    if parsed.groups:
        ids.update(dict.fromkeys(match_tokens(base, parsed, reach).values_list("pk", flat=True)[:limit]))
    return list(ids)


def rank_expression(parsed: ParsedQuery, phrase_ids=()):
    key = parsed.key
    if not key:
        return Value(40, output_field=IntegerField())
    return Case(
        When(name_key=key, then=Value(100)),
        When(name_key__startswith=key, then=Value(80)),
        When(name_key__contains=key, then=Value(60)),
        When(Q(name_initials__startswith=key) | Q(name_pinyin__startswith=key), then=Value(55)),
        When(name_pinyin__contains=key, then=Value(50)),
        When(pk__in=list(phrase_ids), then=Value(45)),  # the CJK words as typed, e.g. in the alias
        default=Value(40),
        output_field=IntegerField(),
    )


def match_customers(qs: QuerySet, q: str, *, user=None) -> QuerySet:
    """Every customer of `qs` matching `q`, unranked and unbounded: what a list filter, an export or the API's
    `?q=` needs (all matches, in the list's own order). The search box uses `filter_customers` instead.
    Matches only by what `user` may see (without a user: by name and social ids)."""
    if not (q or "").strip():
        return qs
    parsed = parse(q)
    reach = reach_for(user) if user is not None else SHARED_ONLY
    if parsed.groups:
        return match_tokens(qs, parsed, reach)
    if parsed.key and reach.shared:
        return _name_prefix(qs, parsed.key)  # too short for the token index (e.g. "12"): names starting so
    return qs.none()


def filter_customers(qs: QuerySet, q: str, *, limit: int | None = None, user=None) -> QuerySet:
    """The customers of `qs` matching `q`, best first (annotated `search_rank`); at most about 2 × `limit`
    candidates. An empty query returns `qs` unchanged; a query with nothing searchable returns none.
    Matches only by what `user` may see (without a user: by name and social ids)."""
    if not (q or "").strip():
        return qs
    parsed = parse(q)
    if not parsed:
        return qs.none()
    reach = reach_for(user) if user is not None else SHARED_ONLY
    phrase_ids: set[int] = set()
    ids = candidate_ids(qs, parsed, limit, phrase_ids=phrase_ids, reach=reach)
    return (
        qs.filter(pk__in=ids)
        .annotate(
            search_rank=rank_expression(parsed, phrase_ids)
            if reach.shared
            else Value(40, output_field=IntegerField())
        )
        .order_by("-search_rank", Length("name"), "name", "pk")
    )


def rank(customer: Customer, q: str) -> float:
    """The rank of a result (the annotation when it came from filter_customers)."""
    annotated = getattr(customer, "search_rank", None)
    if annotated is not None:
        return float(annotated)
    key = normalize.name_key(q)
    name = customer.name_key
    if key and name == key:
        return 100.0
    if key and name.startswith(key):
        return 80.0
    if key and key in name:
        return 60.0
    if key and (customer.name_initials.startswith(key) or customer.name_pinyin.startswith(key)):
        return 55.0
    return 40.0


def id_number_matches(*, user, q: str) -> QuerySet | None:
    """The customers in scope whose resident ID number is exactly `q` (found by its keyed hash), or None when
    `q` is not a valid ID number or the user's role may not see the field (then it is searched as text and,
    since the number is never stored, finds nothing)."""
    from kehu.core.access import Access

    from . import identity

    text = q.strip()
    if len(text) < 18 or len(text) > 24:
        return None
    try:
        number = identity.clean_id_number(text)
    except ValidationError:
        return None
    if "id_number_masked" in Access.of(user).hidden_fields(Customer):
        return None
    return scoped(Customer, user=user).filter(
        merged_into__isnull=True, id_number_hash=identity.digest(number)
    )


def customer_search(*, user, q: str, limit: int = 20) -> list[Customer]:
    """Ranked search results as you type: at most MAX_CANDIDATES matches per tier are ranked, so the cost
    stays bounded however common the query."""
    if not (q or "").strip():
        return []
    by_id = id_number_matches(user=user, q=q)
    if by_id is not None:
        return list(by_id.select_related("account")[:limit])
    qs = filter_customers(scoped(Customer, user=user).filter(merged_into__isnull=True), q, user=user)
    return list(
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
        )[:limit]
    )


@core_search.register
def provider(*, user, q: str, limit: int) -> list[core_search.SearchResult]:
    from kehu.core.access import Access

    hidden = Access.of(user).hidden_fields(Customer)
    results = []
    for c in customer_search(user=user, q=q, limit=limit):
        shown = {
            "account": c.account.name if c.account_id else "",
            "phone": c.phone_display,
            "email": c.email,
            "city": c.city,
        }
        subtitle = " · ".join(x for f, x in shown.items() if x and f not in hidden)
        kind = str(Kind(c.kind).label)
        results.append(
            core_search.SearchResult(
                kind=kind, title=c.name, subtitle=subtitle, url=c.get_absolute_url(), rank=rank(c, q)
            )
        )
    return results
