"""Duplicate detection: the full scan (probabilistic record linkage, kehu/customers/linkage.py, ADR 0010),
the quick pairwise scorer the import and the create warning use, and similar-record lookup.

Blocking: two customers are only compared when they share a key — a phone number, an email, the normalised
name (simplified Chinese, NFKC, no spaces or punctuation), the company name without legal suffixes and region
(北京某某科技有限公司 → 某某科技), or the full pinyin of the name (catches 陳/陈 and homophone typos). Pairs are
scored with rapidfuzz and explained in words, and stored as DuplicateCandidate rows for review.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rapidfuzz import fuzz

from kehu.core import bulk

from . import linkage, normalize
from .models import (
    Customer,
    CustomerAddress,
    CustomerEmail,
    CustomerPhone,
    DuplicateCandidate,
    Kind,
    reason_text,
)

THRESHOLD = 0.6  # the quick pairwise scorer (imports, warning on create)
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
    # identity and address, for the record-linkage engine
    extra: dict = field(default_factory=dict)


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
    for row in qs.values(*LINK_FIELDS).iterator(chunk_size=20000):
        profiles[row["id"]] = profile_of(row)
        profiles[row["id"]].extra = {k: row[k] for k in ("birthday", "gender", "id_number_hash", "tax_id")}
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
        for row in _addresses(chunk):
            profiles[row["customer_id"]].extra.update(_address_row(row))
    return profiles


LINK_FIELDS = (
    "id",
    "kind",
    "name",
    "name_key",
    "name_pinyin",
    "account_id",
    "phone",
    "email",
    "birthday",
    "gender",
    "id_number_hash",
    "tax_id",
)


def _addresses(ids) -> list[dict]:
    """The primary (else the first) address of each customer."""
    rows = (
        CustomerAddress.objects.filter(customer_id__in=ids)
        .order_by("customer_id", "-is_primary", "id")
        .values("customer_id", "province", "city", "district", "street", "postal_code")
    )
    seen, out = set(), []
    for row in rows:
        if row["customer_id"] not in seen:
            seen.add(row["customer_id"])
            out.append(row)
    return out


def _address_row(row: dict) -> dict:
    return {
        "province": row["province"],
        "city_part": row["city"],
        "district": row["district"],
        "street": row["street"],
        "postcode": row["postal_code"],
    }


def _link_row(p: Profile) -> dict:
    extra = p.extra
    return {
        "id": p.id,
        "kind": p.kind,
        "name": p.name,
        "name_key": p.name_key,
        "name_pinyin": p.pinyin,
        "account_id": p.account_id,
        "phones": sorted(p.phones),
        "emails": sorted(p.emails),
        "birthday": extra.get("birthday"),
        "gender": extra.get("gender"),
        "id_hash": extra.get("id_number_hash"),
        "tax_id": extra.get("tax_id"),
        **{k: extra.get(k, "") for k in ("province", "city_part", "district", "street", "postcode")},
    }


def link_pairs(rows: list[dict], *, threshold: float = linkage.THRESHOLD) -> dict[tuple[int, int], tuple]:
    """Record linkage over rows (linkage.build's format): {(id, id): (probability, reasons)}."""
    if len(rows) < 2:
        return {}
    rec = linkage.build(rows)
    result = linkage.link(rec, threshold=threshold)
    pairs: dict[tuple[int, int], tuple] = {}
    for k in range(len(result.left)):
        i, j = int(result.left[k]), int(result.right[k])
        a, b = int(rec.ids[i]), int(rec.ids[j])
        reasons = linkage.explain(rec, i, j, result.gamma[k], float(result.similarity[k]), result.weights[k])
        for r in reasons:
            if r[0] == "same_phone":
                r[1]["p"] = normalize.format_phone(r[1]["p"])
        via = int(result.via[k]) if len(result.via) else -1
        if via >= 0:  # implied through a third customer matching both (linkage.transitive_pairs)
            p = float(result.probability[k])
            own = result.model.prior_log2_odds() + float(result.weights[k].sum())
            gain = math.log2(p / max(1 - p, 1e-12)) - own
            reasons.insert(0, ["linked_through", {"c": int(rec.ids[via])}, round(gain, 1)])
        pairs[(min(a, b), max(a, b))] = (round(float(result.probability[k]), 3), reasons)
    return pairs


def find_pairs(
    profiles: dict[int, Profile], threshold: float = linkage.THRESHOLD
) -> dict[tuple[int, int], tuple]:
    """Pairs among a set of profiles by record linkage (the same engine as the full scan)."""
    return link_pairs([_link_row(p) for p in profiles.values()], threshold=threshold)


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


def scan_pairs(*, threshold: float = linkage.THRESHOLD) -> tuple[int, dict[tuple[int, int], tuple]]:
    """All pairs among live customers whose match probability reaches `threshold`: (customers, pairs).
    Columns are read with raw cursors (no per-record ORM work) and scored by the vectorised linkage engine."""
    from django.db import connection

    rows: dict[int, dict] = {}
    for values in (
        Customer.objects.filter(merged_into__isnull=True)
        .order_by()
        .values_list(*LINK_FIELDS)
        .iterator(chunk_size=50000)
    ):
        row = dict(zip(LINK_FIELDS, values, strict=True))
        row["phones"] = [row.pop("phone")] if row["phone"] else []
        row["emails"] = [row.pop("email").lower()] if row["email"] else []
        row["id_hash"] = row.pop("id_number_hash")
        rows[row["id"]] = row
    n = len(rows)
    if n < 2:
        return n, {}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT customer_id, number FROM {CustomerPhone._meta.db_table}")  # noqa: S608 # nosec B608
        for cid, number in cursor.fetchall():
            if cid in rows and number not in rows[cid]["phones"]:
                rows[cid]["phones"].append(number)
        cursor.execute(f"SELECT customer_id, lower(email) FROM {CustomerEmail._meta.db_table}")  # noqa: S608 # nosec B608
        for cid, email in cursor.fetchall():
            if cid in rows and email not in rows[cid]["emails"]:
                rows[cid]["emails"].append(email)
        cursor.execute(
            "SELECT customer_id, province, city, district, street, postal_code, is_primary "  # noqa: S608 # nosec B608
            f"FROM {CustomerAddress._meta.db_table} ORDER BY customer_id, is_primary ASC, id DESC"
        )
        for cid, province, city, district, street, postcode, _primary in cursor.fetchall():
            if cid in rows:  # the last row written per customer wins: the primary (or the first) address
                rows[cid].update(
                    {
                        "province": province,
                        "city_part": city,
                        "district": district,
                        "street": street,
                        "postcode": postcode,
                    }
                )
    for row in rows.values():
        row["phones"].sort()
        row["emails"].sort()
    return n, link_pairs(list(rows.values()), threshold=threshold)


@lru_cache(maxsize=200_000)
def _region(name: str) -> str:
    return normalize.company_region(name or "")


@lru_cache(maxsize=200_000)
def _core(name: str) -> str:
    core = normalize.company_core(name or "")
    return core if len(core) >= 2 else ""


def scan(*, threshold: float = linkage.THRESHOLD) -> dict[str, int]:
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
