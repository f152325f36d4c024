"""Search and duplicate keys of a customer, recomputed on every write (Customer.clean calls refresh()).

Two space-separated token bags that the search backends index (see search.py):
- `search_text`, the shared bag: tokens of the name (the record's identity, shown wherever the record is)
  and of its social ids (child rows without field rights): name words, CJK unigrams and bigrams, full pinyin
  and initials (as prefix-searchable suffixes), initials of adjacent syllable pairs ("_bj", "_kj": so "bjkj"
  finds 北京某某科技);
- `search_restricted`, the bag of fields a role may be denied (RESTRICTED_FIELDS): every token carries its
  field as a tag, `<field>+<token>` (field names hold no "+", so the tag is unambiguous) — alias words and
  pinyin, phone digits (E.164, national, national with trunk prefix and every suffix of 4+ digits), emails and
  their parts, the tax id. search.py matches a query there only with the tags of the fields the searching
  user may see, so a hidden field's value can never be found, confirmed or guessed by prefix (ADR 0009).

KEYS_VERSION changes whenever the token rules change; a data migration then rebuilds every row.
"""

from __future__ import annotations

import re

from . import normalize

_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[0-9a-z]+")
KEYS_VERSION = 3
#: marks the initials of two adjacent syllables, so they never collide with words
PAIR_MARK = "_"
#: the field the shared bag's tokens come from (with social ids); hidden → the shared bag is not searched
SHARED_FIELD = "name"
#: customer fields a role may be denied whose tokens live in the tagged restricted bag (phone and email
#: include the customer's other phone numbers and emails)
RESTRICTED_FIELDS = ("alias", "phone", "email", "tax_id")
#: between a field tag and a token in the restricted bag
TAG_MARK = "+"


_UNSAFE = re.compile(r"[^0-9a-z@._+\-\u3400-\u9fff\uf900-\ufaff]")


def safe_token(token: str) -> str:
    """Only characters that mean nothing special to PostgreSQL's tsvector/tsquery input and SQLite FTS5
    (quotes, colons, backslashes, spaces and operators are dropped), so indexing can never fail on input."""
    return _UNSAFE.sub("", token.lower()).strip(".-+")[:100]


def text_tokens(text: str) -> list[str]:
    """Tokens of free text: latin/digit words and CJK unigrams+bigrams (substring search without a segmenter)."""
    key = normalize.simplified(normalize.clean_text(text)).lower()
    tokens: list[str] = _WORD.findall(key)
    for run in _CJK_RUN.findall(key):
        tokens.extend(run)
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    return tokens


def pinyin_tokens(text: str) -> list[str]:
    """Full pinyin and initials from every syllable on, so 'keji' and 'kj' find …科技…"""
    parts = [p for p in normalize.pinyin_parts(text) if _WORD.fullmatch(p)]
    if not parts or not normalize.has_cjk(text):
        return []
    tokens = []
    initials = "".join(p[0] for p in parts)
    for i in range(len(parts)):
        tokens.append("".join(parts[i:])[:60])
        if len(initials) - i >= 2:
            tokens.append(initials[i:])
            tokens.append(PAIR_MARK + initials[i : i + 2])
    return tokens


def phone_tokens(e164: str) -> list[str]:
    """E.164 digits, national digits, national digits as dialled at home (with the trunk 0: 02161234567),
    and every suffix of 4 or more digits so that "5678" or "2345678" find the number."""
    digits = normalize.phone_digits(e164)
    if not digits:
        return []
    national = normalize.national_digits(e164)
    tokens = [digits, national, normalize.phone_digits(normalize.format_phone(e164))]
    for n in range(4, len(national)):
        tokens.append(national[-n:])
    return tokens


def email_tokens(email: str) -> list[str]:
    if not email:
        return []
    local, _sep, domain = email.lower().partition("@")
    return [email.lower(), local, domain] + _WORD.findall(local)


def _unique(tokens) -> list[str]:
    seen, unique = set(), []
    for t in tokens:
        t = safe_token(t)
        if t and t not in seen:
            seen.add(t)
            unique.append(t)
    return unique


def _name_tokens(text: str) -> list[str]:
    return [*text_tokens(text), *pinyin_tokens(text)] if text else []


def tag(field: str, token: str) -> str:
    """A restricted-bag token: the field as a tag, then the (safe) token."""
    return f"{field}{TAG_MARK}{token}"


def build_search_text(*, name: str, handles=()) -> str:
    """The shared bag: name tokens (and the company core's), social ids."""
    tokens = _name_tokens(name)
    core = normalize.company_core(name)
    if core and core != normalize.name_key(name):
        tokens.extend(text_tokens(core))
    tokens.extend(normalize.clean_text(h).lower() for h in handles if h)
    return " ".join(_unique(tokens))


def build_restricted_text(*, alias: str = "", phones=(), emails=(), tax_id: str = "") -> str:
    """The restricted bag: every token tagged with the field it comes from (RESTRICTED_FIELDS)."""
    per_field: dict[str, list[str]] = {
        "alias": _name_tokens(alias),
        "phone": [t for p in phones for t in phone_tokens(p)],
        "email": [t for e in emails for t in email_tokens(e)],
        "tax_id": [normalize.clean_text(tax_id).lower()] if tax_id else [],
    }
    return " ".join(tag(f, t) for f in RESTRICTED_FIELDS for t in _unique(per_field[f]))


def build_bags(*, name: str, alias: str = "", phones=(), emails=(), tax_id: str = "", handles=()):
    """(search_text, search_restricted) of a customer."""
    return (
        build_search_text(name=name, handles=handles),
        build_restricted_text(alias=alias, phones=phones, emails=emails, tax_id=tax_id),
    )


def refresh(customer, *, phones=None, emails=None) -> None:
    """Recompute the key columns of an (unsaved or saved) customer."""
    name = customer.name or ""
    customer.name_key = normalize.name_key(name)[:200]
    customer.name_pinyin = normalize.pinyin_full(name)[:400]
    customer.name_initials = normalize.pinyin_initials(name)[:100]
    if phones is None:
        phones = [customer.phone] if customer.phone else []
        if customer.pk:
            phones += list(customer.phones.values_list("number", flat=True))
    if emails is None:
        emails = [customer.email] if customer.email else []
        if customer.pk:
            emails += list(customer.emails.values_list("email", flat=True))
    # WeChat and other ids: an agent who only has the customer's WeChat id must find them
    handles = sorted(customer.social_ids.values_list("handle", flat=True)) if customer.pk else []
    customer.search_text, customer.search_restricted = build_bags(
        name=name,
        alias=customer.alias,
        phones=sorted(set(phones)),
        emails=sorted(set(emails)),
        tax_id=customer.tax_id,
        handles=handles,
    )
