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

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from rapidfuzz import fuzz

from . import normalize
from .models import Customer, CustomerEmail, CustomerPhone, DuplicateCandidate, Kind

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
    )
    p.phones = {x for x in [row.get("phone"), *phones] if x}
    p.emails = {x.lower() for x in [row.get("email"), *emails] if x}
    return p


def score_pair(a: Profile, b: Profile) -> tuple[float, list[str]]:
    """0..1 with human-readable reasons. Strong identifiers (phone, email) dominate; names add evidence."""
    reasons: list[str] = []
    score = 0.0
    shared_phones = a.phones & b.phones
    if shared_phones:
        score += 0.6
        reasons.append(_("same phone %(p)s") % {"p": normalize.format_phone(sorted(shared_phones)[0])})
    shared_emails = a.emails & b.emails
    if shared_emails:
        score += 0.6
        reasons.append(_("same email %(e)s") % {"e": sorted(shared_emails)[0]})
    # a company name is rarer than a person's name: the same organisation name is strong evidence alone
    organisations = a.kind == b.kind == Kind.ORGANIZATION
    if a.name_key and a.name_key == b.name_key:
        score += 0.7 if organisations else 0.45
        reasons.append(_("same name"))
    else:
        similarity = fuzz.ratio(a.name_key, b.name_key) / 100 if a.name_key and b.name_key else 0.0
        if a.core and b.core and a.core == b.core:
            score += 0.65
            reasons.append(_("same company name without legal form or region (%(c)s)") % {"c": a.core})
        elif a.pinyin and a.pinyin == b.pinyin:
            score += 0.35
            reasons.append(_("names sound the same (%(p)s)") % {"p": a.pinyin})
        elif similarity >= 0.8:
            score += (0.5 if organisations else 0.35) * similarity
            reasons.append(_("names %(n)d%% similar") % {"n": round(similarity * 100)})
    if a.kind != b.kind:
        score -= 0.3
        reasons.append(_("one is an organisation, the other a person"))
    elif a.kind == Kind.PERSON and a.account_id and b.account_id and a.account_id != b.account_id:
        score -= 0.15
        reasons.append(_("contacts of different accounts"))
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
    """Read every live customer with its phones and emails in three streaming queries."""
    qs = qs if qs is not None else Customer.objects.filter(merged_into__isnull=True)
    profiles: dict[int, Profile] = {}
    for row in qs.values(
        "id", "kind", "name", "name_key", "name_pinyin", "account_id", "phone", "email"
    ).iterator(chunk_size=20000):
        profiles[row["id"]] = profile_of(row)
    for cid, number in CustomerPhone.objects.values_list("customer_id", "number").iterator(chunk_size=50000):
        p = profiles.get(cid)
        if p is not None:
            p.phones.add(number)
    for cid, email in CustomerEmail.objects.values_list("customer_id", "email").iterator(chunk_size=50000):
        p = profiles.get(cid)
        if p is not None:
            p.emails.add(email.lower())
    return profiles


def find_pairs(profiles: dict[int, Profile], threshold: float = THRESHOLD) -> dict[tuple[int, int], tuple]:
    blocks: dict[str, list[int]] = defaultdict(list)
    for p in profiles.values():
        for key in _keys(p):
            blocks[key].append(p.id)
    seen: set[tuple[int, int]] = set()
    pairs: dict[tuple[int, int], tuple] = {}
    for members in blocks.values():
        if len(members) < 2 or len(members) > MAX_BLOCK:
            continue
        members.sort()
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if (a, b) in seen:
                    continue
                seen.add((a, b))
                score, reasons = score_pair(profiles[a], profiles[b])
                if score >= threshold:
                    pairs[(a, b)] = (score, reasons)
    return pairs


def scan(*, threshold: float = THRESHOLD) -> dict[str, int]:
    """Full scan: refresh the open candidates (dismissed and merged pairs are kept as decided)."""
    profiles = load_profiles()
    pairs = find_pairs(profiles, threshold)
    decided = set(
        DuplicateCandidate.objects.exclude(status=DuplicateCandidate.Status.OPEN).values_list(
            "first_id", "second_id"
        )
    )
    now = timezone.now()
    with transaction.atomic():
        DuplicateCandidate.objects.filter(status=DuplicateCandidate.Status.OPEN).delete()
        DuplicateCandidate.objects.bulk_create(
            [
                DuplicateCandidate(first_id=a, second_id=b, score=s, reasons=r, found_at=now)
                for (a, b), (s, r) in pairs.items()
                if (a, b) not in decided
            ],
            batch_size=5000,
            ignore_conflicts=True,
        )
    return {"customers": len(profiles), "pairs": len(pairs)}


def similar_customers(*, data: dict, qs, limit: int = 5, exclude_id: int | None = None) -> list[tuple]:
    """Likely duplicates of a record being entered, among `qs` (already scoped to the user)."""
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
            results.append((c, score, reasons))
    results.sort(key=lambda r: -r[1])
    return results[:limit]
