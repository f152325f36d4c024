"""Duplicate detection: blocking keys, pair scoring with reasons, the full scan, and similar-record lookup.

Blocking: two customers are only compared when they share a key — a phone number, an email, the normalised
name (simplified Chinese, NFKC, no spaces or punctuation), the company name without legal suffixes and region
(北京某某科技有限公司 → 某某科技), or the full pinyin of the name (catches 陳/陈 and homophone typos). Pairs are
scored with rapidfuzz and explained in words, and stored as DuplicateCandidate rows for review.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rapidfuzz import fuzz, process

from kehu.core import bulk

from . import normalize
from .models import Customer, CustomerEmail, CustomerPhone, DuplicateCandidate, Kind, reason_text

THRESHOLD = 0.6
MAX_BLOCK = 60  # a key shared by more records than this (e.g. a very common name) does not pair them alone


@dataclass
class Profile:
    id: int
    kind: str
    name: str
    name_key: str
    pinyin: str
    core: str
    account_id: int | None
    region: str = ""
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)


def profile_of(row: dict, phones: Iterable[str] = (), emails: Iterable[str] = ()) -> Profile:
    name = row.get("name") or ""
    kind = row.get("kind") or Kind.ORGANIZATION
    p = Profile(
        id=row.get("id") or 0,
        kind=kind,
        name=name,
        name_key=row.get("name_key") or normalize.name_key(name),
        pinyin=row.get("name_pinyin") or normalize.pinyin_full(name),
        core=normalize.company_core(name) if kind == Kind.ORGANIZATION else "",
        account_id=row.get("account_id"),
        region=_region(name) if kind == Kind.ORGANIZATION else "",
    )
    p.phones = {x for x in [row.get("phone"), *phones] if x}
    p.emails = {x.lower() for x in [row.get("email"), *emails] if x}
    return p


def score_pair(a: Profile, b: Profile) -> tuple[float, list[list]]:
    """0..1 with reasons as [code, params] (models.DUPLICATE_REASONS; `reason_text` shows them).
    Strong identifiers (phone, email) dominate; names add evidence."""
    reasons: list[list] = []
    score = 0.0
    shared_phones = a.phones & b.phones
    if shared_phones:
        score += 0.6
        reasons.append(["same_phone", {"p": normalize.format_phone(sorted(shared_phones)[0])}])
    shared_emails = a.emails & b.emails
    if shared_emails:
        score += 0.6
        reasons.append(["same_email", {"e": sorted(shared_emails)[0]}])
    # a company name is rarer than a person's name: the same organisation name is strong evidence alone
    organisations = a.kind == b.kind == Kind.ORGANIZATION
    if a.name_key and a.name_key == b.name_key:
        score += 0.7 if organisations else 0.45
        reasons.append(["same_name", {}])
    else:
        similarity = fuzz.ratio(a.name_key, b.name_key) / 100 if a.name_key and b.name_key else 0.0
        other_regions = bool(a.region and b.region and a.region != b.region)
        if a.core and b.core and a.core == b.core and not other_regions:
            score += 0.65
            reasons.append(["same_core", {"c": a.core}])
        elif a.pinyin and a.pinyin == b.pinyin:
            score += 0.35
            reasons.append(["same_sound", {"p": a.pinyin}])
        elif similarity >= 0.8:
            score += (0.5 if organisations else 0.35) * similarity
            reasons.append(["similar_name", {"n": round(similarity * 100)}])
    if a.kind != b.kind:
        score -= 0.3
        reasons.append(["kind_differs", {}])
    elif a.kind == Kind.PERSON and a.account_id and b.account_id and a.account_id != b.account_id:
        score -= 0.15
        reasons.append(["other_accounts", {}])
    return max(0.0, min(1.0, round(score, 3))), reasons


def _keys(p: Profile) -> list[str]:
    keys = [f"p:{x}" for x in p.phones] + [f"e:{x}" for x in p.emails]
    if p.name_key:
        keys.append(f"n:{p.name_key}")
    if p.core and len(p.core) >= 2:
        keys.append(f"c:{p.core}")
    if p.pinyin and len(p.pinyin) >= 4:
        keys.append(f"y:{p.pinyin}")
    return keys


def load_profiles(qs=None) -> dict[int, Profile]:
    """Read live customers with their phones and emails (used for small sets and for explaining pairs)."""
    qs = qs if qs is not None else Customer.objects.filter(merged_into__isnull=True)
    profiles: dict[int, Profile] = {}
    for row in qs.values(
        "id", "kind", "name", "name_key", "name_pinyin", "account_id", "phone", "email"
    ).iterator(chunk_size=20000):
        profiles[row["id"]] = profile_of(row)
    ids = list(profiles)
    for i in range(0, len(ids), 20000):
        chunk = ids[i : i + 20000]
        for cid, number in CustomerPhone.objects.filter(customer_id__in=chunk).values_list(
            "customer_id", "number"
        ):
            profiles[cid].phones.add(number)
        for cid, email in CustomerEmail.objects.filter(customer_id__in=chunk).values_list(
            "customer_id", "email"
        ):
            profiles[cid].emails.add(email.lower())
    return profiles


def find_pairs(profiles: dict[int, Profile], threshold: float = THRESHOLD) -> dict[tuple[int, int], tuple]:
    """Pairs among a small set of profiles (pure Python; the full scan uses the vectorised `scan`)."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for p in profiles.values():
        for key in _keys(p):
            blocks[key].append(p.id)
    candidates: set[tuple[int, int]] = set()
    for members in blocks.values():
        if 2 <= len(members) <= MAX_BLOCK:
            members.sort()
            candidates.update((a, b) for i, a in enumerate(members) for b in members[i + 1 :])
    pairs = {}
    for a, b in candidates:
        score, reasons = score_pair(profiles[a], profiles[b])
        if score >= threshold:
            pairs[(a, b)] = (score, reasons)
    return pairs


# ------------------------------------------------------------------------------------ the full scan
# Blocking and scoring in NumPy: every (blocking key, customer) is one row of two int64 arrays; a sort
# groups the blocks, pairs come from np.triu_indices per block size, and the score is computed on whole
# arrays (rapidfuzz.process.cpdist for the name similarity). Python only explains the pairs that pass.
PHONE, EMAIL, NAME, CORE, PINYIN = 1, 2, 4, 8, 16


def _codes(values: list[str]) -> np.ndarray:
    """Stable int64 code per distinct non-empty string (0 for empty)."""
    table: dict[str, int] = {"": 0}
    return np.fromiter((table.setdefault(v, len(table)) for v in values), dtype=np.int64, count=len(values))


def _block_pairs(keys: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Pairs (a < b, encoded a << 32 | b) of customers sharing a key, for blocks of 2..MAX_BLOCK members."""
    if len(keys) < 2:
        return np.empty(0, dtype=np.int64)
    both = np.unique(np.stack([keys, ids], axis=1), axis=0)  # one row per (key, customer)
    keys, ids = both[:, 0], both[:, 1]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    out = []
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= MAX_BLOCK)]):
        block_starts = starts[sizes == size]
        members = ids[block_starts[:, None] + np.arange(size)[None, :]]  # (blocks, size)
        i, j = np.triu_indices(int(size), 1)
        a, b = members[:, i].ravel(), members[:, j].ravel()
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        out.append((lo << 32) | hi)
    return np.unique(np.concatenate(out)) if out else np.empty(0, dtype=np.int64)


def scan_pairs(*, threshold: float = THRESHOLD) -> tuple[int, dict[tuple[int, int], tuple]]:
    """All candidate pairs among live customers with score ≥ threshold: (customers scanned, pairs)."""
    from django.db import connection

    rows = list(
        Customer.objects.filter(merged_into__isnull=True)
        .order_by()
        .values_list("id", "kind", "name", "name_key", "name_pinyin", "account_id", "phone", "email")
        .iterator(chunk_size=50000)
    )
    n = len(rows)
    if n < 2:
        return n, {}
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    live = set(ids.tolist())
    is_org = np.fromiter((r[1] == Kind.ORGANIZATION for r in rows), dtype=bool, count=n)
    name_keys = [r[3] or "" for r in rows]
    account = np.fromiter((r[5] or 0 for r in rows), dtype=np.int64, count=n)
    name_code = _codes(name_keys)
    pinyin_code = _codes([r[4] or "" for r in rows])
    pinyin_block = np.fromiter((len(r[4] or "") >= 4 for r in rows), dtype=bool, count=n) & (pinyin_code > 0)
    core_code = _codes([_core(r[2]) if r[1] == Kind.ORGANIZATION else "" for r in rows])
    region_code = _codes([_region(r[2]) if r[1] == Kind.ORGANIZATION else "" for r in rows])
    # phones and emails: the primary columns and every contact-point row
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT customer_id, number FROM {CustomerPhone._meta.db_table}")  # noqa: S608
        phone_rows = cursor.fetchall()
        cursor.execute(f"SELECT customer_id, lower(email) FROM {CustomerEmail._meta.db_table}")  # noqa: S608
        email_rows = cursor.fetchall()
    phone_rows = [(c, v) for c, v in phone_rows if c in live] + [(r[0], r[6]) for r in rows if r[6]]
    email_rows = [(c, v) for c, v in email_rows if c in live] + [(r[0], r[7].lower()) for r in rows if r[7]]

    def contact_pairs(pairs_rows):
        if not pairs_rows:
            return np.empty(0, dtype=np.int64)
        owners = np.fromiter((c for c, _v in pairs_rows), dtype=np.int64, count=len(pairs_rows))
        return _block_pairs(_codes([v for _c, v in pairs_rows]), owners)

    by_kind = {
        PHONE: contact_pairs(phone_rows),
        EMAIL: contact_pairs(email_rows),
        NAME: _block_pairs(name_code[name_code > 0], ids[name_code > 0]),
        CORE: _block_pairs(core_code[core_code > 0], ids[core_code > 0]),
        PINYIN: _block_pairs(pinyin_code[pinyin_block], ids[pinyin_block]),
    }
    del phone_rows, email_rows
    codes = np.concatenate(list(by_kind.values()))
    flags = np.concatenate([np.full(len(v), k, dtype=np.int64) for k, v in by_kind.items()])
    if not len(codes):
        return n, {}
    order = np.argsort(codes, kind="stable")
    codes, flags = codes[order], flags[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    pair_codes, pair_flags = codes[starts], np.bitwise_or.reduceat(flags, starts)
    by_id = np.argsort(ids)
    a_idx = by_id[np.searchsorted(ids[by_id], pair_codes >> 32)]
    b_idx = by_id[np.searchsorted(ids[by_id], pair_codes & 0xFFFFFFFF)]
    # the score of score_pair(), on whole arrays
    orgs = is_org[a_idx] & is_org[b_idx]
    same_name = (name_code[a_idx] == name_code[b_idx]) & (name_code[a_idx] > 0)
    other_regions = (
        (region_code[a_idx] > 0) & (region_code[b_idx] > 0) & (region_code[a_idx] != region_code[b_idx])
    )
    same_core = (core_code[a_idx] == core_code[b_idx]) & (core_code[a_idx] > 0) & ~other_regions
    same_pinyin = (pinyin_code[a_idx] == pinyin_code[b_idx]) & (pinyin_code[a_idx] > 0)
    similarity = (
        process.cpdist(
            [name_keys[i] for i in a_idx], [name_keys[i] for i in b_idx], scorer=fuzz.ratio, workers=1
        ).astype(np.float64)
        / 100
    )
    score = 0.6 * ((pair_flags & PHONE) > 0) + 0.6 * ((pair_flags & EMAIL) > 0)
    fuzzy = np.where(similarity >= 0.8, np.where(orgs, 0.5, 0.35) * similarity, 0.0)
    name_part = np.where(
        same_name, np.where(orgs, 0.7, 0.45), np.where(same_core, 0.65, np.where(same_pinyin, 0.35, fuzzy))
    )
    score = score + name_part
    score -= 0.3 * (is_org[a_idx] != is_org[b_idx])
    contacts = (
        ~is_org[a_idx]
        & ~is_org[b_idx]
        & (account[a_idx] > 0)
        & (account[b_idx] > 0)
        & (account[a_idx] != account[b_idx])
    )
    score -= 0.15 * contacts
    keep = np.flatnonzero(np.clip(score, 0, 1) >= threshold - 1e-9)
    # explain the pairs that pass, with the exact scorer (authoritative score and reasons)
    involved = {int(ids[i]) for i in np.concatenate([a_idx[keep], b_idx[keep]])}
    profiles = (
        load_profiles(Customer.objects.filter(pk__in=list(involved))) if len(involved) < 50_000 else None
    )
    pairs: dict[tuple[int, int], tuple] = {}
    for chunk_start in range(0, len(keep), 20000):
        chunk = keep[chunk_start : chunk_start + 20000]
        if profiles is None:
            chunk_ids = {int(ids[i]) for i in np.concatenate([a_idx[chunk], b_idx[chunk]])}
            local = load_profiles(Customer.objects.filter(pk__in=list(chunk_ids)))
        else:
            local = profiles
        for k in chunk:
            a, b = int(ids[a_idx[k]]), int(ids[b_idx[k]])
            result = score_pair(local[a], local[b])
            if result[0] >= threshold:
                pairs[(a, b)] = result
    return n, pairs


@lru_cache(maxsize=200_000)
def _region(name: str) -> str:
    return normalize.company_region(name or "")


@lru_cache(maxsize=200_000)
def _core(name: str) -> str:
    core = normalize.company_core(name or "")
    return core if len(core) >= 2 else ""


def scan(*, threshold: float = THRESHOLD) -> dict[str, int]:
    """Full scan: refresh the open candidates (dismissed and merged pairs are kept as decided)."""
    count, pairs = scan_pairs(threshold=threshold)
    decided = set(
        DuplicateCandidate.objects.exclude(status=DuplicateCandidate.Status.OPEN).values_list(
            "first_id", "second_id"
        )
    )
    now = timezone.now()
    with transaction.atomic():
        DuplicateCandidate.objects.filter(status=DuplicateCandidate.Status.OPEN).delete()
        # millions of pairs on large data: COPY/executemany rather than the ORM's bulk_create
        bulk.insert_rows(
            DuplicateCandidate,
            ["first", "second", "score", "reasons", "status", "found_at"],
            (
                (a, b, sc, r, DuplicateCandidate.Status.OPEN, now)
                for (a, b), (sc, r) in pairs.items()
                if (a, b) not in decided
            ),
        )
    return {"customers": count, "pairs": len(pairs)}


def similar_customers(
    *, data: dict, user=None, qs=None, limit: int = 5, exclude_id: int | None = None
) -> list[tuple[Customer, float, list[str]]]:
    """Likely duplicates of a record being entered, as (customer, score, reasons), best first — only among
    the customers `user` may see (or among `qs`, already scoped), so the warning never leaks a record."""
    if qs is None:
        from .selectors import customer_list

        qs = customer_list(user=user)
    name = normalize.clean_text(data.get("name") or "")
    phone, email = data.get("phone") or "", (data.get("email") or "").lower()
    try:
        phone = normalize.normalize_phone(phone) if phone else ""
    except Exception:  # noqa: BLE001 - an invalid phone is reported by the form itself
        phone = ""
    kind = data.get("kind") or Kind.ORGANIZATION
    probe = profile_of(
        {
            "name": name,
            "kind": kind,
            "phone": phone,
            "email": email,
            "account_id": getattr(data.get("account"), "pk", data.get("account")),
        }
    )
    condition = Q(name_key=probe.name_key) if probe.name_key else Q(pk__in=[])
    if probe.pinyin and len(probe.pinyin) >= 4:
        condition |= Q(name_pinyin=probe.pinyin)
    if phone:
        condition |= Q(phone=phone) | Q(phones__number=phone)
    if email:
        condition |= Q(email=email) | Q(emails__email=email)
    candidates = list(qs.filter(condition).distinct()[:50])
    if probe.core and len(probe.core) >= 2:
        from .search import filter_customers

        candidates += list(filter_customers(qs, probe.core)[:50])
    results, seen = [], set()
    for c in candidates:
        if c.pk in seen or c.pk == exclude_id:
            continue
        seen.add(c.pk)
        other = profile_of(
            {
                "id": c.pk,
                "kind": c.kind,
                "name": c.name,
                "name_key": c.name_key,
                "name_pinyin": c.name_pinyin,
                "account_id": c.account_id,
                "phone": c.phone,
                "email": c.email,
            }
        )
        score, reasons = score_pair(probe, other)
        if score >= THRESHOLD:
            results.append((c, score, [reason_text(r) for r in reasons]))
    results.sort(key=lambda r: -r[1])
    return results[:limit]
