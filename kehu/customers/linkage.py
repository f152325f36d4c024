"""Probabilistic record linkage (Fellegi–Sunter) for people and organisations, vectorised with NumPy.

No Django here: the engine works on plain rows (dicts) so the duplicate scan (dedup.py), the warning on create
and the benchmark (tests/bench) share it. ADR 0010 explains the choices.

1. **Features** — each row becomes columns: name key, pinyin, name parts (surname/given, or Western words),
   company core and region, date of birth as YYYYMMDD, hashed ID number, phones and emails (padded code
   matrices), parsed address (province/city/district codes, street tokens), postcode, gender, account.
2. **Blocking** — several rules each give a key per record (phone, email, ID number, name key, pinyin, sorted
   name parts, name part + birth date with day/month in either order, full pinyin + birth year, district or
   postcode + name part, company core, core pinyin). Records sharing a key form a block; the candidate set is
   the union of the pairs of all blocks (a block larger than MAX_BLOCK adds nothing alone), so a typo in one
   field does not hide a pair.
3. **Comparisons** — per candidate pair and field, an agreement *level* (exact, swapped, sounds the same,
   Jaro-Winkler bands, one part missing, date transposed, one digit off, …; level 0 = one side is empty, no
   evidence), computed on whole arrays.
4. **Weights** — m (P(level | match)) and u (P(level | non-match)) per level, estimated by EM over the candidate
   pairs from priors given as pseudo-counts (a small data set keeps the priors; a large one learns its own).
   The match weight is log2(m/u); the match probability is the EM posterior, i.e. calibrated on the candidates.
"""

from __future__ import annotations

import datetime as dt
import math
import mmap
import multiprocessing
import os
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler, Levenshtein

from . import normalize

MAX_BLOCK = 60
#: rules on the name alone: a block of a common name holds mostly strangers, and a duplicate among them is only
#: flagged with more evidence — which other rules (name part × date of birth, district, street) block on. Their
#: block cap shrinks as the book grows past WEAK_BASE records, so candidates per record stay about constant.
WEAK_RULES = frozenset({"name", "pinyin", "sorted_parts", "sorted_pinyin", "deletions"})
WEAK_BASE = 200_000
#: how the frequency of an exact name is estimated (fourth pass): the posterior mean of the name's own count
#: among the other people with the part-frequency product as a prior worth NAME_MIX books — (own + NAME_MIX ×
#: parts) / (1 + NAME_MIX). None = the larger of the two (second and third pass), which lets the parts of a
#: name seen only on the pair (王 × 伟) outweigh the book's own evidence that nobody else carries it.
NAME_MIX: float | None = 1.0
#: a record written swapped or in pinyin (sixth pass): a duplicate pair shows the variant on one of its two
#: records, a pair of strangers with the same name likewise — so u = the name's frequency × the variant's share
#: among duplicates' names × VARIANT_FACTOR (1; the fifth pass counted the two records twice, 2).
VARIANT_FACTOR = 1.0
#: the part-frequency product of a name runs over all its parts (a middle name makes a name rarer); False =
#: the first and the last part only (up to the fifth pass)
ALL_PARTS = True
WEAK_MIN = 24


def block_cap(rule: str, n: int, max_block: int = MAX_BLOCK) -> int:
    """The largest block of `rule` that adds pairs, in a book of n records."""
    if rule not in WEAK_RULES or n <= WEAK_BASE:
        return max_block
    return max(min(WEAK_MIN, max_block), round(max_block * math.sqrt(WEAK_BASE / n)))


#: processes for the comparisons, the EM and the blocking of a large book (KEHU_LINKAGE_WORKERS overrides;
#: 1 = everything in this process). Forked children read the arrays copy-on-write and write into shared memory.
WORKERS = max(1, min(2, os.cpu_count() or 1))
PARALLEL_MIN = 300_000  # candidate pairs below which forking costs more than it saves
EM_BLOCK = 1 << 20  # pairs per partial sum of the EM: fixed, so 1 or 2 processes add up in the same order
THRESHOLD = 0.5  # flagged for review when more likely a duplicate than not (ADR 0010, fifth pass)
RATE = 0.2  # prior: expected duplicates per record
TF_STRENGTH = 1000.0  # pseudo-records behind the prior u of an exact-value level
NAME_STRENGTH = 100.0  # pseudo-records behind the prior u of the name levels estimated from name frequencies
#: similar-name levels whose u depends on the rarest name part the two names share exactly (fifth pass): a typo
#: in the first name of two "… Simmons" says more than in the given name of two 王; u = P(a person carries the
#: part) × P(the level | two people share a part), the second estimated from sampled people sharing a part.
RARE_PART_LEVELS = ("jw_high", "part_missing", "initials", "jw_mid", "one_part_far")
PART_SAMPLE = 50_000  # pairs of people sharing a name part, sampled to estimate P(level | a shared part)
PART_STRENGTH = 50.0  # pseudo-pairs behind the prior of P(level | a shared part)
PART_EPS = 0.5  # records added to the count of a name part seen only on the pair itself
PART_PRIOR = 10.0  # pseudo-people behind the prior u of the levels weighed by a shared part's frequency
#: u of the date-of-birth levels "exact" and "day/month swapped" (sixth pass) is the frequency of the date the
#: other record would need to carry, not one u from random pairs: 200,000 random pairs hold a handful of equal
#: dates and about no swapped ones, which gave a swapped date 2.9 bits *more* weight than an exact one. The
#: frequency is the posterior mean of the date's count among the other records with DOB_PRIOR pseudo-records
#: at P(birth year) / 365.25 — a placeholder date many records carry (1900-01-01, 1月1日) weighs little.
DOB_PRIOR = 5.0
#: the sample of people sharing a name part is reweighed by P(not the same person) in every EM iteration
PART_NONMATCH = True
DAYS_PER_YEAR = 365.25

COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "轩辕",
        "令狐",
        "钟离",
        "独孤",
        "南宫",
        "端木",
        "闻人",
        "澹台",
        "申屠",
        "太史",
        "万俟",
        "呼延",
        "西门",
        "百里",
        "东郭",
        "拓跋",
        "第五",
    ]
)
#: characters that OCR and hurried handwriting confuse (王/玉, 日/曰, 未/末, 己/已 …): a name one such character
#: apart is the same name misread, folded to the first of each pair for the comparison
LOOKALIKE = str.maketrans("玉曰末已士入夭太孑力千牛幸", "王日未己土人天大子刀干午辛")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CJK_ONLY = re.compile(r"^[\u3400-\u9fff]+$")
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
_DIGITS = re.compile(r"\d+")
_PROVINCE_SUFFIX = ("省", "市", "自治区", "特别行政区")
PROVINCES = [
    "北京",
    "天津",
    "上海",
    "重庆",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "内蒙古",
    "广西",
    "西藏",
    "宁夏",
    "新疆",
    "香港",
    "澳门",
]
_ADDRESS = re.compile(
    r"^(?P<province>(?:{})(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)?)?"
    r"(?P<city>[\u4e00-\u9fff]{{1,8}}?(?:自治州|地区|盟|市))?"
    r"(?P<district>[\u4e00-\u9fff]{{1,8}}?(?:区|县|旗|市))?"
    r"(?P<street>.*)$".format("|".join(PROVINCES))
)


# a street field that may carry province/city/district (the parse is skipped without one of these)
_ADMIN_HINT = re.compile(r"[省市区區縣县旗盟州]|{}".format("|".join(PROVINCES)))

# ------------------------------------------------------------------------------------------ parsing


def parse_address(text: str) -> dict[str, str]:
    """Province, city, district and the rest of a Chinese address written as one string
    (浙江省杭州市西湖区文三路90号 → 浙江 / 杭州 / 西湖 / 文三路90号), suffixes removed so 杭州 = 杭州市."""
    text = normalize.simplified(normalize.clean_text(text or "")).replace(" ", "")
    m = _ADDRESS.match(text)
    if not m:  # pragma: no cover - the pattern matches every string
        return {"province": "", "city": "", "district": "", "street": text}
    parts = {k: m.group(k) or "" for k in ("province", "city", "district", "street")}
    if parts["province"].rstrip("市") in ("北京", "天津", "上海", "重庆"):
        # 北京市朝阳区: the municipality is province and city
        if not parts["district"]:
            parts["district"] = parts["city"]
        parts["city"] = parts["province"]
    return {k: _strip_admin(v) if k != "street" else v for k, v in parts.items()}


def split_address(text: str) -> dict[str, str]:
    """The parts of a one-line Chinese address as written, for storing it structured (江苏省苏州市工业园区星湖街328号
    → 江苏省 / 苏州市 / 工业园区 / 星湖街328号): the parts joined give the text back. Split only where a province,
    or a city followed by a district, is recognised and the text has no spaces (文三路90号, 新华超市旁 stay one
    street); a municipality (上海市浦东新区…) keeps its city empty, so the parts read as written."""
    text = normalize.clean_text(text or "")
    m = _ADDRESS.match(text)
    parts = {k: (m.group(k) or "") if m else "" for k in ("province", "city", "district", "street")}
    recognised = parts["province"] or (parts["city"] and parts["district"])
    if not m or not recognised or not parts["street"] or any(ch.isspace() for ch in text):
        return {"province": "", "city": "", "district": "", "street": text}
    return parts


def _strip_admin(value: str) -> str:
    for suffix in (
        "壮族自治区",
        "回族自治区",
        "维吾尔自治区",
        "特别行政区",
        "自治区",
        "自治州",
        "地区",
        "省",
        "市",
        "区",
        "县",
        "旗",
        "盟",
    ):
        if value.endswith(suffix) and len(value) > len(suffix) + 1 - (suffix in ("区", "县")):
            return value[: -len(suffix)]
    return value


def street_tokens(street: str) -> list[str]:
    """Comparable tokens of a street address: CJK bigrams (single characters when alone), numbers, words."""
    text = normalize.simplified(normalize.clean_text(street or "")).lower()
    tokens: list[str] = _DIGITS.findall(text)
    for run in re.findall(r"[\u3400-\u9fff]+", text):
        tokens += [run[i : i + 2] for i in range(len(run) - 1)] or [run]
    tokens += [w for w in re.findall(r"[a-z]+", text) if len(w) > 1]
    return tokens


def name_parts(name: str, kind_org: bool = False, pinyin_of=None) -> tuple[str, ...]:
    """The parts of a person's name, as pinyin: (surname, given) for a Chinese name, the words of a Western one.
    `pinyin_of` (text → pinyin, e.g. a dict caching per distinct part) defaults to normalize.pinyin_full."""
    text = normalize.simplified(normalize.clean_text(name or ""))
    if kind_org or not text:
        return ()
    cjk = "".join(_CJK.findall(text))
    if cjk and len(cjk) >= 2:
        surname = cjk[:2] if cjk[:2] in COMPOUND_SURNAMES else cjk[0]
        if pinyin_of is None:
            return tuple(
                p for p in (normalize.pinyin_full(surname), normalize.pinyin_full(cjk[len(surname) :])) if p
            )
        return tuple(p for p in (pinyin_of[surname], pinyin_of[cjk[len(surname) :]]) if p)
    words = [unicodedata.normalize("NFKC", w).lower() for w in _WORDS.findall(text)]
    return tuple(w for w in words if w)[:4]


def birth_int(value) -> int:
    """A date (or ISO string) as YYYYMMDD, 0 when missing or unreadable."""
    if not value:
        return 0
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return 0
    return value.year * 10000 + value.month * 100 + value.day


# ------------------------------------------------------------------------------------------ features


class _Codes:
    """Stable positive int code per distinct string (0 = empty)."""

    def __init__(self) -> None:
        self.table: dict[str, int] = {"": 0}

    def __call__(self, value: str) -> int:
        return self.table.setdefault(value or "", len(self.table))

    def many(self, values: Iterable[str]) -> np.ndarray:
        return np.fromiter((self(v) for v in values), dtype=np.int64)


def _padded(sets: Sequence[Sequence[str]], codes: _Codes, width: int) -> np.ndarray:
    """(rows × width) codes of each row's distinct non-empty values, sorted, 0-padded."""
    out = np.zeros((len(sets), width), dtype=np.int64)
    for i, values in enumerate(sets):
        if values:
            for j, v in enumerate(sorted({v for v in values if v})[:width]):
                out[i, j] = codes(v)
    return out


@dataclass
class Records:
    """Columnar features of n customers (index i = row i of the input)."""

    ids: np.ndarray
    org: np.ndarray
    name_key: list[str]
    pinyin: list[str]
    core: list[str]
    street: list[str]
    parts: list[tuple[str, ...]]
    cols: dict[str, np.ndarray] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)  # code → value (phones, emails), for the reasons

    def __len__(self) -> int:
        return len(self.ids)


def _distinct(values: Sequence) -> tuple[list, np.ndarray]:
    """(distinct values in first-seen order, index of each value in them)."""
    table: dict = {}
    inverse = np.fromiter(
        (table.setdefault(v, len(table)) for v in values), dtype=np.int64, count=len(values)
    )
    return list(table), inverse


class _Pinyin(dict):
    """Pinyin of name parts and company cores, once per distinct text; a text of Chinese characters only is
    spelled character by character from a per-character cache (a book has a few thousand distinct
    characters and millions of records). Character by character reads a polyphone inside a word by its
    first reading, which is how a name is read anyway (no word context), and both sides of every comparison
    go through the same function."""

    def __init__(self) -> None:
        super().__init__()
        self.chars: dict[str, str] = {}

    def __missing__(self, text: str) -> str:
        if _CJK_ONLY.match(text):
            chars = self.chars
            for ch in text:
                if ch not in chars:
                    chars[ch] = normalize.pinyin_full(ch)
            value = "".join(chars[ch] for ch in text)
        else:
            value = normalize.pinyin_full(text)
        self[text] = value
        return value


def _name_features(names: Sequence[tuple[str, bool]], stored: dict[int, tuple[str, str]], codes: _Codes):
    """Features of each distinct (name, is organisation): computed once per distinct name — most books repeat
    names (王伟) and the scan re-reads every record. `stored` maps a distinct index to the name key and
    pinyin stored on the customer (computed when missing)."""
    u = len(names)
    pinyin_of = _Pinyin()
    key, pinyin, parts, core, region = [], [], [], [], []
    for d, (name, org) in enumerate(names):
        k, y = stored.get(d, ("", ""))
        key.append(k or normalize.name_key(name))
        pinyin.append(y or normalize.pinyin_full(name))
        parts.append(name_parts(name, org, pinyin_of))
        c = _core(name) if org else ""
        core.append(c)
        region.append(normalize.company_region(name) if org else "")
    padded_parts = np.zeros((u, 3), dtype=np.int64)
    for i, ps in enumerate(parts):
        for j, v in enumerate(ps[:3]):
            padded_parts[i, j] = codes("np:" + v)
    cols = {
        "name": codes.many("n:" + k if k else "" for k in key),
        "pinyin": codes.many("y:" + k if k else "" for k in pinyin),
        "pinyin_long": np.fromiter((len(y) >= 4 for y in pinyin), dtype=bool, count=u),
        "initials": codes.many("i:" + "".join(x[0] for x in ps) if len(ps) >= 2 else "" for ps in parts),
        "sorted_parts": codes.many(_order_free(k, ps) for k, ps in zip(key, parts, strict=True)),
        "sorted_pinyin": codes.many("sp:" + "|".join(sorted(ps)) if len(ps) >= 2 else "" for ps in parts),
        "deletions": _padded([_deletions(k, ps) for k, ps in zip(key, parts, strict=True)], codes, 21),
        "chars": _padded([_name_chars(k, ps) for k, ps in zip(key, parts, strict=True)], codes, 4),
        "parts": padded_parts,
        "cjk": np.fromiter((bool(_CJK.search(k)) for k in key), dtype=bool, count=u),
        "folded": codes.many("f:" + k.translate(LOOKALIKE) if _CJK.search(k) else "" for k in key),
        # a part written as its initial (J. Smith, Zhang W.)
        "abbreviated": np.fromiter((any(len(x) == 1 for x in ps) for ps in parts), dtype=bool, count=u),
        "core": codes.many("c:" + c if c else "" for c in core),
        "core_pinyin": codes.many("cy:" + pinyin_of[c] if len(c) >= 2 else "" for c in core),
        "region": codes.many("r:" + x if x else "" for x in region),
    }
    texts = {
        "name_key": np.array(key, dtype=object),
        "pinyin": np.array(pinyin, dtype=object),
        "core": np.array(core, dtype=object),
        "parts": np.array(parts + [()], dtype=object)[:-1],  # keep tuples as objects
    }
    return cols, texts


def _address_features(rows: Sequence[dict], codes: _Codes) -> dict[str, np.ndarray]:
    """Province, city, district, street tokens and postcode of each row; the parsing and tokenising run once
    per distinct address (a household, a company's office and re-imports repeat them)."""
    values = [
        (
            r.get("address") or "",
            r.get("province") or "",
            r.get("city_part") or "",
            r.get("district") or "",
            r.get("street") or "",
        )
        for r in rows
    ]
    distinct, inverse = _distinct(values)
    province, city, district, street = [], [], [], []
    for one_line, pr, ci, di, st in distinct:
        if one_line and not st:
            a = parse_address(one_line)
        else:
            parsed = (
                parse_address(st)
                if _ADMIN_HINT.search(st)
                else {"street": st.replace(" ", "").replace("\u3000", "")}
            )
            a = {
                "province": _strip_admin(pr) or parsed.get("province", ""),
                "city": _strip_admin(ci) or parsed.get("city", ""),
                "district": _strip_admin(di) or parsed.get("district", ""),
                "street": parsed.get("street", st),
            }
        province.append("pr:" + a["province"] if a["province"] else "")
        city.append("ci:" + a["city"] if a["city"] else "")
        district.append("d:" + a["city"] + a["district"] if a["district"] else "")
        street.append(" ".join(street_tokens(a["street"])))
    street_text = np.array(street, dtype=object)[inverse]
    return {
        "province": codes.many(province)[inverse],
        "city": codes.many(city)[inverse],
        "district": codes.many(district)[inverse],
        "street": codes.many("st:" + x if len(x) >= 4 else "" for x in street)[inverse],
        "has_street": np.fromiter((bool(x) for x in street), dtype=bool, count=len(street))[inverse],
        "_street_text": street_text,
    }


#: rows from which build() shares the work between processes (KEHU_LINKAGE_WORKERS; 1 = one process)
BUILD_PARALLEL_MIN = 100_000
#: integer feature columns that hold values, not codes of strings (everything else is renumbered on a merge)
VALUE_COLUMNS = frozenset({"nparts", "dob", "account"})


def build(rows: Sequence[dict], workers: int | None = None) -> Records:
    """Features of customer rows: id, kind, name, [name_key, name_pinyin], birthday, gender, id_hash, phones,
    emails, province, city, district, street (or address as one string), postcode, account_id, tax_id.

    A large book is cut into contiguous shares built by forked processes (each with its own string codes and
    caches), then merged: each share's codes are renumbered into one table, so equal strings get equal codes
    across shares. Code values differ from a one-process build; nothing downstream depends on them."""
    n = len(rows)
    shares = workers_for(n * 3, workers) if n >= BUILD_PARALLEL_MIN or workers else 1
    if shares <= 1:
        return _build(rows)
    parts = in_parallel(lambda start, stop: _build(rows[start:stop], start), _even(n, shares))
    return _merge(parts)


def _merge(parts: list[Records]) -> Records:
    """One Records from the Records of consecutive shares of the rows."""
    codes = _Codes()
    cols: dict[str, list[np.ndarray]] = {}
    for part in parts:
        top = max(part.texts, default=0)
        remap = np.zeros(top + 1, dtype=np.int64)
        for code, value in part.texts.items():
            remap[code] = codes(value)
        for name, column in part.cols.items():
            if column.dtype != bool and name not in VALUE_COLUMNS:
                column = remap[column]
            cols.setdefault(name, []).append(column)
    return Records(
        ids=np.concatenate([p.ids for p in parts]),
        org=np.concatenate([p.org for p in parts]),
        name_key=np.concatenate([p.name_key for p in parts]),
        pinyin=np.concatenate([p.pinyin for p in parts]),
        core=np.concatenate([p.core for p in parts]),
        street=np.concatenate([p.street for p in parts]),
        parts=np.concatenate([p.parts for p in parts]),
        cols={name: np.concatenate(columns) for name, columns in cols.items()},
        texts={v: k for k, v in codes.table.items()},
    )


def _build(rows: Sequence[dict], offset: int = 0) -> Records:
    codes = _Codes()
    n = len(rows)
    org = np.fromiter((r.get("kind") == "organization" for r in rows), dtype=bool, count=n)
    names, inv = _distinct([(r.get("name") or "", bool(o)) for r, o in zip(rows, org, strict=True)])
    stored: dict[int, tuple[str, str]] = {}
    for r, d in zip(rows, inv.tolist(), strict=True):
        if d not in stored and (r.get("name_key") or r.get("name_pinyin")):
            stored[d] = (r.get("name_key") or "", r.get("name_pinyin") or "")
    name_cols, name_texts = _name_features(names, stored, codes)
    address = _address_features(rows, codes)
    street = address.pop("_street_text")
    dob = np.fromiter((birth_int(r.get("birthday")) for r in rows), dtype=np.int64, count=n)
    cols = {k: v[inv] for k, v in name_cols.items()}
    cols["nparts"] = (cols["parts"] > 0).sum(axis=1)
    cols.update(
        {
            "dob": dob,
            "gender": codes.many(
                "g:" + (r.get("gender") or "") if r.get("gender") in ("female", "male") else "" for r in rows
            ),
            "id": codes.many("id:" + r["id_hash"] if r.get("id_hash") else "" for r in rows),
            "tax": codes.many("t:" + r["tax_id"].upper() if r.get("tax_id") else "" for r in rows),
            "phones": _padded([r.get("phones") or () for r in rows], codes, 4),
            "emails": _padded([[e.lower() for e in r.get("emails") or () if e] for r in rows], codes, 3),
            "email_local": _padded(
                [
                    [
                        e.lower().split("@")[0]
                        for e in r.get("emails") or ()
                        if e and len(e.split("@")[0]) >= 4
                    ]
                    for r in rows
                ],
                codes,
                3,
            ),
            **address,
            "postcode": codes.many(
                "pc:" + (r.get("postcode") or "") if r.get("postcode") else "" for r in rows
            ),
            "account": np.fromiter((r.get("account_id") or 0 for r in rows), dtype=np.int64, count=n),
        }
    )
    return Records(
        ids=np.fromiter((r.get("id") or offset + i for i, r in enumerate(rows)), dtype=np.int64, count=n),
        org=org,
        name_key=name_texts["name_key"][inv],
        pinyin=name_texts["pinyin"][inv],
        core=name_texts["core"][inv],
        street=street,
        parts=name_texts["parts"][inv],
        cols=cols,
        texts={v: k for k, v in codes.table.items()},
    )


def _deletions(key: str, parts: tuple[str, ...]) -> list[str]:
    """The name key and the key with one character left out (林斌彬 → 林斌彬, 斌彬, 林彬, 林斌), for blocking: two
    names one edit apart (a character changed, added or dropped) share one of them — the symmetric deletion
    neighbourhood of edit distance 1. Keys of two characters give only themselves (single characters would
    block half the book)."""
    if len(parts) < 2 or len(key) < 2 or len(key) > 20:
        return []
    out = ["del:" + key]  # the key itself: 贾楠 meets 贾楠龙 (one character added or dropped)
    if len(key) >= 3:
        out += ["del:" + key[:i] + key[i + 1 :] for i in range(len(key))]
    return out


def _name_chars(key: str, parts: tuple[str, ...]) -> list[str]:
    """The characters of a Chinese name, for blocking with the date of birth: a typo or a dropped character
    leaves the others (凤建 / 韩建华 share 建), where the name parts (surname, given name) all differ."""
    if len(parts) < 2 or not _CJK.search(key):
        return []
    return ["ch:" + ch for ch in dict.fromkeys(key)]


def _order_free(key: str, parts: tuple[str, ...]) -> str:
    """A key equal for swapped name parts: the least rotation of a Chinese name (蔺红柳 = 红柳蔺), the sorted
    words of a Western one."""
    if len(parts) < 2:
        return ""
    if _CJK.search(key):
        return "s:" + min(key[i:] + key[:i] for i in range(len(key)))
    return "s:" + "|".join(sorted(parts))


def _core(name: str) -> str:
    core = normalize.company_core(name or "")
    return core if len(core) >= 2 else ""


# ------------------------------------------------------------------------------------------ processes


def workers_for(size: int, workers: int | None = None) -> int:
    """How many processes to use for `size` pairs: `workers`, else KEHU_LINKAGE_WORKERS, else WORKERS — and 1
    below PARALLEL_MIN or in a process running other threads (unless `workers` is given), or where a process
    cannot fork."""
    if workers is None:
        # forking a process with other threads running can copy a lock one of them holds: stay in one process
        if size < PARALLEL_MIN or threading.active_count() > 1:
            return 1
        workers = int(os.environ.get("KEHU_LINKAGE_WORKERS", "") or WORKERS)
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if multiprocessing.current_process().daemon:  # a daemonic process may not have children
        return 1
    return max(1, min(workers, size))


def _shared(shape: tuple[int, ...], dtype) -> np.ndarray:
    """A zeroed array in anonymous shared memory: what a forked child writes into it, the parent sees."""
    count = int(np.prod(shape))
    buffer = mmap.mmap(-1, max(count * np.dtype(dtype).itemsize, 1), flags=mmap.MAP_SHARED)
    return np.frombuffer(buffer, dtype=dtype, count=count).reshape(shape)


def _child(fn, start: int, stop: int, send) -> None:
    try:
        send.send((True, fn(start, stop)))
    except BaseException:  # noqa: BLE001 - the parent redoes the share itself
        send.send((False, None))
    finally:
        send.close()


def in_parallel(fn, bounds: Sequence[int]) -> list:
    """fn(bounds[w], bounds[w + 1]) for each share w, the first in this process and the others in forked
    children (they see the arrays as they are now, copy-on-write); the results in order. A child that fails
    has its share redone here, so the outcome never depends on the processes."""
    shares = list(zip(bounds[:-1], bounds[1:], strict=True))
    if len(shares) == 1:
        return [fn(*shares[0])]
    ctx = multiprocessing.get_context("fork")
    children = []
    for start, stop in shares[1:]:
        recv, send = ctx.Pipe(duplex=False)
        try:
            process = ctx.Process(target=_child, args=(fn, start, stop, send), daemon=True)
            process.start()
        except (OSError, AssertionError):
            process = None
        send.close()
        children.append((process, recv))
    results = [fn(*shares[0])]
    for (process, recv), (start, stop) in zip(children, shares[1:], strict=True):
        ok, value = False, None
        if process is not None:
            try:
                ok, value = recv.recv()
            except EOFError:
                pass
            process.join()
        recv.close()
        results.append(value if ok else fn(start, stop))
    return results


def _even(size: int, parts: int, step: int = 1) -> list[int]:
    """Bounds of `parts` contiguous shares of range(size), cut at multiples of `step`."""
    cuts = [min(size, round(size * w / parts / step) * step) for w in range(parts + 1)]
    cuts[-1] = size
    return cuts


# ------------------------------------------------------------------------------------------ blocking


def _block_pairs(keys: np.ndarray, idx: np.ndarray, max_block: int = MAX_BLOCK) -> np.ndarray:
    """Pairs (i < j, encoded i << 32 | j) of records sharing a key, for blocks of 2..max_block members."""
    keep = keys != 0
    keys, idx = keys[keep], idx[keep]
    if len(keys) < 2:
        return np.empty(0, dtype=np.int64)
    order = np.lexsort((idx, keys))  # by key, then record; then one row per (key, record)
    keys, idx = keys[order], idx[order]
    first = np.r_[True, (keys[1:] != keys[:-1]) | (idx[1:] != idx[:-1])]
    keys, idx = keys[first], idx[first]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    out = []
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= max_block)]):
        block_starts = starts[sizes == size]
        members = idx[block_starts[:, None] + np.arange(size)[None, :]]
        i, j = np.triu_indices(int(size), 1)
        a, b = members[:, i].ravel(), members[:, j].ravel()
        out.append((np.minimum(a, b) << 32) | np.maximum(a, b))
    return np.unique(np.concatenate(out)) if out else np.empty(0, dtype=np.int64)


def _combine(*parts: np.ndarray) -> np.ndarray:
    """A key from several code columns (0 when any is 0)."""
    out = np.zeros(len(parts[0]), dtype=np.int64)
    ok = np.ones(len(parts[0]), dtype=bool)
    for p in parts:
        ok &= p != 0
        out = out * 1_000_003 + p  # wraps around on overflow: a hash, collisions only add candidates
    return np.where(ok, out, 0)


def blocking_keys(rec: Records) -> dict[str, list[np.ndarray]]:
    """Rule name → key columns (one key per record per column; 0 = no key)."""
    c = rec.cols
    dob = c["dob"]
    year = np.where(dob > 0, dob // 10000, 0)
    md = dob % 10000
    month, day = md // 100, md % 100
    dob_unordered = np.where(dob > 0, year * 10000 + np.minimum(month, day) * 100 + np.maximum(month, day), 0)
    parts = [c["parts"][:, k] for k in range(c["parts"].shape[1])]
    return {
        "phone": [c["phones"][:, k] for k in range(c["phones"].shape[1])],
        "email": [c["emails"][:, k] for k in range(c["emails"].shape[1])],
        "id_number": [c["id"]],
        "tax_id": [c["tax"]],
        "name": [c["name"]],
        "pinyin": [np.where(c["pinyin_long"], c["pinyin"], 0)],
        "sorted_parts": [c["sorted_parts"]],
        "sorted_pinyin": [c["sorted_pinyin"]],
        "deletions": [c["deletions"][:, k] for k in range(c["deletions"].shape[1])],
        "part_dob": [_combine(p, dob_unordered) for p in parts],
        "char_dob": [_combine(c["chars"][:, k], dob_unordered) for k in range(c["chars"].shape[1])],
        "pinyin_year": [_combine(c["pinyin"], year)],
        "part_year_month": [_combine(p, dob // 100) for p in parts],
        "initials_dob": [_combine(c["initials"], dob)],
        "part_district": [_combine(p, c["district"]) for p in parts],
        "part_postcode": [_combine(p, c["postcode"]) for p in parts],
        "street": [_combine(c["street"], c["city"])],
        "dob_district": [_combine(dob, c["district"])],
        "core": [c["core"]],
        "core_pinyin": [c["core_pinyin"]],
    }


def _sorted_union(arrays: list[np.ndarray]) -> np.ndarray:
    """The sorted distinct values of sorted arrays: a stable sort (timsort) merges the sorted runs instead of
    sorting from scratch."""
    if not arrays:
        return np.empty(0, dtype=np.int64)
    merged = np.sort(np.concatenate(arrays), kind="stable")
    if len(merged) < 2:
        return merged
    return merged[np.r_[True, merged[1:] != merged[:-1]]]


def candidate_pairs(
    rec: Records, max_block: int = MAX_BLOCK, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """(left index, right index, candidates per rule) of the union of all blocking rules. On a large book the
    rules are shared between processes, each returning the sorted union of its rules' pairs."""
    idx = np.arange(len(rec), dtype=np.int64)
    rules = list(blocking_keys(rec).items())

    def run(start: int, stop: int) -> tuple[np.ndarray, dict[str, int]]:
        found, per_rule = [], {}
        for rule, columns in rules[start:stop]:
            keys = np.concatenate(columns)
            owners = np.tile(idx, len(columns))
            pairs = _block_pairs(keys, owners, block_cap(rule, len(rec), max_block))  # sorted, distinct
            per_rule[rule] = len(pairs)
            found.append(pairs)
        return _sorted_union(found), per_rule

    # the rules by their number of key columns, dealt out so each process gets about as many keys
    shares = workers_for(len(rec) * 8, workers)
    if shares > 1:
        order = sorted(range(len(rules)), key=lambda r: -len(rules[r][1]))
        dealt = [order[w::shares] for w in range(shares)]
        rules = [rules[r] for share in dealt for r in share]
        bounds = np.cumsum([0] + [len(share) for share in dealt]).tolist()
    else:
        bounds = [0, len(rules)]
    results = in_parallel(run, bounds)
    per_rule: dict[str, int] = {}
    for _pairs, counts in results:
        per_rule.update(counts)
    pairs = _sorted_union([p for p, _counts in results])
    return pairs >> 32, pairs & 0xFFFFFFFF, per_rule


# ------------------------------------------------------------------------------------------ comparisons


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[str, ...]  # level 0 = "null" (no evidence) is implicit
    m: tuple[float, ...]  # prior P(level | match), levels 1..
    u: tuple[float, ...]  # prior P(level | two random records), levels 1..
    # levels whose u is taken from the frequency of the shared value (term frequency): level → (column, ε)
    tf: tuple[tuple[int, str, float], ...] = ()


def _rest(*u: float) -> tuple[float, ...]:
    return (*u, 1 - sum(u))


COMPARISONS = (
    Comparison("kind", ("same", "differs"), (0.999, 0.001), (0.75, 0.25)),
    Comparison(
        "person_name",
        (
            "exact",
            "swapped",
            "transliterated",
            "sounds_same",
            "jw_high",
            "part_missing",
            "initials",
            "jw_mid",
            "one_part_same",
            "one_part_far",
            "differs",
        ),
        (0.66, 0.05, 0.03, 0.03, 0.1, 0.05, 0.02, 0.03, 0.02, 0.01, 0.01),
        _rest(1e-4, 1e-6, 1e-6, 1e-4, 1e-3, 1e-3, 5e-3, 0.05, 0.01, 0.01),
        tf=((1, "name", 0.5),),
    ),
    Comparison(
        "org_name",
        ("exact", "core_same", "core_same_other_region", "core_similar", "differs"),
        (0.55, 0.33, 0.01, 0.08, 0.03),
        _rest(1e-5, 1e-5, 1e-5, 1e-3),
        tf=((1, "name", 0.05), (2, "core", 0.05), (3, "core", 0.05)),
    ),
    Comparison(
        "birth_date",
        ("exact", "day_month_swapped", "one_digit", "same_year", "differs"),
        (0.88, 0.03, 0.06, 0.01, 0.02),
        _rest(4e-5, 4e-6, 5e-4, 0.015),
    ),
    Comparison("id_number", ("same", "differs"), (0.98, 0.02), _rest(1e-7), tf=((1, "id", 0.01),)),
    Comparison("tax_id", ("same", "differs"), (0.97, 0.03), _rest(1e-7), tf=((1, "tax", 0.01),)),
    Comparison("phone", ("same", "differs"), (0.85, 0.15), _rest(1e-6), tf=((1, "phones", 0.05),)),
    Comparison(
        "email",
        ("same", "same_local_part", "differs"),
        (0.85, 0.03, 0.12),
        _rest(1e-6, 1e-5),
        tf=((1, "emails", 0.05),),
    ),
    # the postcode is a level of the address, not a comparison of its own: a moved address changes both, and
    # two comparisons would count the one move twice (they are not independent given a match)
    Comparison(
        "address",
        ("street_same", "street_similar", "postcode_same", "district_same", "city_same", "differs"),
        (0.70, 0.12, 0.03, 0.04, 0.04, 0.07),
        _rest(1e-5, 1e-4, 1e-3, 0.01, 0.05),
    ),
    Comparison("gender", ("same", "differs"), (0.98, 0.02), (0.5, 0.5)),
    Comparison("account", ("same", "differs"), (0.9, 0.1), _rest(0.01)),
)
BY_NAME = {c.name: i for i, c in enumerate(COMPARISONS)}


def _any_shared(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise: do the padded code rows a[k] and b[k] share a non-zero code?"""
    eq = (a[:, :, None] == b[:, None, :]) & (a[:, :, None] != 0)
    return eq.any(axis=(1, 2))


def _contact_level(a: np.ndarray, b: np.ndarray, extra=None) -> np.ndarray:
    both = (a[:, 0] != 0) & (b[:, 0] != 0)
    level = np.where(both, 2, 0)
    if extra is not None:
        level = np.where(both & extra, 2, level)
    return np.where(both & _any_shared(a, b), 1, level)


def _one_digit(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    diff = np.zeros(len(a), dtype=np.int64)
    x, y = a.copy(), b.copy()
    for _ in range(8):
        diff += (x % 10) != (y % 10)
        x //= 10
        y //= 10
    return diff == 1


def compare(
    rec: Records, left: np.ndarray, right: np.ndarray, chunk: int = 500_000, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Agreement levels (pairs × comparisons, uint8) and the name similarity (0..1) of each pair. Each pair's
    levels depend on that pair alone, so a large set is compared in contiguous shares by forked processes
    writing into shared memory — the same arrays as in one process."""
    size = len(left)
    if not size:
        return np.zeros((0, len(COMPARISONS)), dtype=np.uint8), np.zeros(0)
    shares = workers_for(size, workers)
    if shares > 1:
        gamma, sim = _shared((size, len(COMPARISONS)), np.uint8), _shared((size,), np.float64)
    else:
        gamma, sim = np.zeros((size, len(COMPARISONS)), dtype=np.uint8), np.zeros(size)

    def run(start: int, stop: int) -> None:
        for s in range(start, stop, chunk):
            e = min(s + chunk, stop)
            gamma[s:e], sim[s:e] = _compare_chunk(rec, left[s:e], right[s:e])

    in_parallel(run, _even(size, shares))
    return gamma, sim


def _texts(values, index: np.ndarray) -> list[str]:
    return np.asarray(values, dtype=object)[index].tolist()


def _compare_chunk(rec: Records, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = rec.cols
    p = len(a)
    g = np.zeros((p, len(COMPARISONS)), dtype=np.uint8)
    orgs = rec.org[a] & rec.org[b]
    g[:, BY_NAME["kind"]] = np.where(rec.org[a] == rec.org[b], 1, 2)

    # names: similarity on the name key and on the pinyin (CJK typos of one character barely move the key's
    # Jaro-Winkler on three characters; the pinyin of a wrong character usually shares most letters)
    ka = _texts(rec.name_key, a)
    kb = _texts(rec.name_key, b)
    sim = process.cpdist(ka, kb, scorer=JaroWinkler.normalized_similarity, workers=1)
    ya = _texts(rec.pinyin, a)
    yb = _texts(rec.pinyin, b)
    sim = np.maximum(sim, process.cpdist(ya, yb, scorer=JaroWinkler.normalized_similarity, workers=1))
    has_name = (c["name"][a] != 0) & (c["name"][b] != 0)
    exact = has_name & (c["name"][a] == c["name"][b])
    sounds = ((c["pinyin"][a] == c["pinyin"][b]) & (c["pinyin"][a] != 0)) | (
        (c["sorted_pinyin"][a] == c["sorted_pinyin"][b]) & (c["sorted_pinyin"][a] != 0)
    )
    swapped = (c["sorted_parts"][a] == c["sorted_parts"][b]) & (c["sorted_parts"][a] != 0)
    pa, pb = c["parts"][a], c["parts"][b]
    na, nb = c["nparts"][a], c["nparts"][b]
    in_b = ((pa[:, :, None] == pb[:, None, :]) & (pa[:, :, None] != 0)).any(axis=2).sum(axis=1)
    in_a = ((pb[:, :, None] == pa[:, None, :]) & (pb[:, :, None] != 0)).any(axis=2).sum(axis=1)
    missing = ((in_b == na) & (na >= 1) & (na < nb)) | ((in_a == nb) & (nb >= 1) & (nb < na))
    # the same initials only count where one name is written with an initial (J. Smith / John Smith): the pinyin
    # initials of two names in characters (帅龙 / 史玲, both "sl") are a coincidence of a small alphabet
    initials = (
        (c["initials"][a] == c["initials"][b])
        & (c["initials"][a] != 0)
        & (c["abbreviated"][a] | c["abbreviated"][b])
    )
    # a Chinese name and its pinyin spelling (王凤兰 / Fenglan Wang): the same characters written another way, not
    # two names that sound alike (刘艳 / 刘岩, common among strangers)
    translit = sounds & (c["cjk"][a] != c["cjk"][b])
    # two names in characters are "similar" only one character apart (a typo, a look-alike, a character added
    # or dropped): Jaro-Winkler on their pinyin rises with a shared surname alone (罗峰梅 / 罗英兰, 0.8+)
    # — and two such names that share one part with two or more characters apart (罗峰梅 / 罗英兰: the whole
    # given name) are a level of their own (one_part_far), not one name with a typo
    both_cjk = c["cjk"][a] & c["cjk"][b]
    close = ~both_cjk
    if both_cjk.any():
        close[both_cjk] = (
            process.cpdist(
                _texts(rec.name_key, a[both_cjk]),
                _texts(rec.name_key, b[both_cjk]),
                scorer=Levenshtein.distance,
                workers=1,
            )
            <= 1
        )
    similar = (sim >= 0.8) & close
    misread = both_cjk & (c["folded"][a] == c["folded"][b]) & (c["folded"][a] != 0)
    person = np.select(
        [
            ~has_name,
            exact,
            swapped,
            translit,
            sounds,
            (similar & (sim >= 0.92)) | misread,
            missing,
            initials,
            similar,
            (in_b >= 1) & close,
            in_b >= 1,
        ],
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        11,
    )
    g[:, BY_NAME["person_name"]] = np.where(orgs, 0, person)
    core_same = (c["core"][a] == c["core"][b]) & (c["core"][a] != 0)
    ra, rb = c["region"][a], c["region"][b]
    other_region = (ra != 0) & (rb != 0) & (ra != rb)
    core_sim = np.zeros(p)  # company cores: organisations only
    if orgs.any():
        core_sim[orgs] = process.cpdist(
            _texts(rec.core, a[orgs]), _texts(rec.core, b[orgs]), scorer=fuzz.ratio, workers=1
        )
    org = np.select(
        [
            ~has_name,
            exact & ~other_region,
            core_same & ~other_region,
            core_same,
            (core_sim >= 85) & ~other_region,
        ],
        [0, 1, 2, 3, 4],
        5,
    )
    g[:, BY_NAME["org_name"]] = np.where(orgs, org, 0)

    da, db = c["dob"][a], c["dob"][b]
    both = (da != 0) & (db != 0)
    swapped_md = (
        (da // 10000 == db // 10000) & ((da // 100) % 100 == db % 100) & (da % 100 == (db // 100) % 100)
    )
    g[:, BY_NAME["birth_date"]] = np.select(
        [~both, da == db, swapped_md, _one_digit(da, db), da // 10000 == db // 10000], [0, 1, 2, 3, 4], 5
    )
    for col, comp in (("id", "id_number"), ("tax", "tax_id"), ("gender", "gender")):
        xa, xb = c[col][a], c[col][b]
        g[:, BY_NAME[comp]] = np.where((xa != 0) & (xb != 0), np.where(xa == xb, 1, 2), 0)
    acc_a, acc_b = c["account"][a], c["account"][b]
    g[:, BY_NAME["account"]] = np.where(
        ~rec.org[a] & ~rec.org[b] & (acc_a != 0) & (acc_b != 0), np.where(acc_a == acc_b, 1, 2), 0
    )
    g[:, BY_NAME["phone"]] = _contact_level(c["phones"][a], c["phones"][b])
    email = _contact_level(c["emails"][a], c["emails"][b])
    local = _any_shared(c["email_local"][a], c["email_local"][b])
    g[:, BY_NAME["email"]] = np.where(email == 2, np.where(local, 2, 3), email)

    has_street = c["has_street"][a] & c["has_street"][b]
    street = np.zeros(p)  # compared only where both records have a street
    if has_street.any():
        street[has_street] = process.cpdist(
            _texts(rec.street, a[has_street]),
            _texts(rec.street, b[has_street]),
            scorer=fuzz.token_set_ratio,
            workers=1,
        )
    dist_a, dist_b = c["district"][a], c["district"][b]
    city_a, city_b = c["city"][a], c["city"][b]
    pc_a, pc_b = c["postcode"][a], c["postcode"][b]
    has_addr = (
        has_street
        | ((dist_a != 0) & (dist_b != 0))
        | ((city_a != 0) & (city_b != 0))
        | ((pc_a != 0) & (pc_b != 0))
    )
    other_district = (dist_a != 0) & (dist_b != 0) & (dist_a != dist_b)
    g[:, BY_NAME["address"]] = np.select(
        [
            ~has_addr,
            has_street & (street >= 90) & ~other_district,
            has_street & (street >= 70) & ~other_district,
            (pc_a != 0) & (pc_a == pc_b),
            (dist_a != 0) & (dist_a == dist_b),
            (city_a != 0) & (city_a == city_b),
        ],
        [0, 1, 2, 3, 4, 5],
        6,
    )
    return g, np.where(orgs, core_sim / 100, sim)


# ------------------------------------------------------------------------------------------ model


@dataclass
class Model:
    """m per level (EM on the candidates), u per level (random record pairs), the match rate per record.

    The probability is Fellegi–Sunter over *all* pairs: prior odds λ/(1-λ) with λ = rate/(n-1) (the chance that
    a given other record is a duplicate of this one), times m/u per comparison. For exact agreement on a
    value (name, company core, phone, email, ID number) u is that value's frequency: the share of the other
    records that carry it besides the pair itself, (count - 2 + ε)/n — a rare name says more than 王伟."""

    m: list[np.ndarray]  # per comparison, index = level (0 = null, weight 0)
    u: list[np.ndarray]
    rate: float  # expected duplicates per record
    n: int
    iterations: int = 0

    def weights(self) -> list[np.ndarray]:
        out = []
        for m, u in zip(self.m, self.u, strict=True):
            w = np.log2(np.maximum(m, 1e-12) / np.maximum(u, 1e-12))
            w[0] = 0.0
            out.append(w)
        return out

    def prior_log2_odds(self) -> float:
        lam = min(self.rate / max(self.n - 1, 1), 0.5)
        return math.log2(lam / (1 - lam))

    def pair_weights(self, gamma: np.ndarray, tf_u: dict[tuple[int, int], np.ndarray]) -> np.ndarray:
        """(pairs × comparisons) match weights in bits."""
        out = np.zeros(gamma.shape, dtype=np.float64)
        for k, w in enumerate(self.weights()):
            out[:, k] = w[gamma[:, k]]
        for (k, level), u in tf_u.items():
            hit = gamma[:, k] == level
            out[hit, k] = np.log2(self.m[k][level] / u[hit])
        return out

    def pair_total(
        self,
        gamma: np.ndarray,
        tf_u: dict[tuple[int, int], np.ndarray],
        start: int = 0,
        stop: int | None = None,
    ) -> np.ndarray:
        """The summed match weight (bits) of pairs start..stop, without the (pairs × comparisons) table of
        pair_weights: what EM and scoring need for millions of pairs. Added comparison by comparison, so a
        pair's sum does not depend on which pairs are computed with it."""
        stop = len(gamma) if stop is None else stop
        g = gamma[start:stop]
        tf_by_k: dict[int, list] = {}
        for (k, level), u in tf_u.items():
            tf_by_k.setdefault(k, []).append((level, u[start:stop]))
        total = np.zeros(len(g))
        for k, w in enumerate(self.weights()):
            column = w[g[:, k]]
            for level, u in tf_by_k.get(k, ()):
                hit = g[:, k] == level
                column[hit] = np.log2(self.m[k][level] / u[hit])
            total += column
        return total

    def probability(self, weights: np.ndarray) -> np.ndarray:
        """From a (pairs × comparisons) table of weights, or from pair_total's sums."""
        total = self.prior_log2_odds() + (weights.sum(axis=1) if weights.ndim == 2 else weights)
        return 1 / (1 + np.exp2(-np.clip(total, -60, 60)))


def prior_model(n: int, rate: float = RATE) -> Model:
    return Model(
        m=[np.array([1.0, *c.m]) for c in COMPARISONS],
        u=[np.array([1.0, *c.u]) for c in COMPARISONS],
        rate=rate,
        n=n,
    )


def estimate_u(
    rec: Records,
    *,
    sample: int = 200_000,
    strength: float = 5000.0,
    seed: int = 0,
    workers: int | None = None,
) -> list[np.ndarray]:
    """u per level from random record pairs, with the priors as `strength` pseudo-pairs."""
    n = len(rec)
    base = prior_model(n)
    if n < 2:
        return base.u
    rng = np.random.default_rng(seed)
    size = min(sample, n * (n - 1) // 2)
    a = rng.integers(0, n, size)
    b = rng.integers(0, n - 1, size)
    b = np.where(b >= a, b + 1, b)
    gamma, _sim = compare(rec, a, b, workers=workers)
    out = []
    for k, comp in enumerate(COMPARISONS):
        levels = len(comp.levels) + 1
        counts = np.bincount(gamma[:, k].astype(np.int64), minlength=levels).astype(np.float64)
        counts[0] = 0.0
        u = counts + strength * base.u[k] * np.r_[0.0, np.ones(levels - 1)]
        u = u / u[1:].sum()
        u[0] = 1.0
        out.append(u)
    rec.cols["part_level_u"] = part_level_u(rec, gamma, a, b, out, rng, workers=workers)
    return out


def _shared_part(pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """Row-wise (pairs × parts) mask: is part k of the left name also a part of the right name?"""
    return ((pa[:, :, None] == pb[:, None, :]) & (pa[:, :, None] != 0)).any(axis=2)


def part_level_u(
    rec: Records,
    gamma: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    u: list[np.ndarray],
    rng: np.random.Generator,
    workers: int | None = None,
) -> np.ndarray:
    """Per person-name level (index = level): columns 0 and 1 = P(level | two people who share a name
    part) when the first has a Chinese name and when not, from PART_SAMPLE sampled pairs of people carrying the
    same part; column 2 = P(level and no shared part) for a random pair (`gamma` of the random pairs a, b). RARE_PART_LEVELS take u = P(part) × column 0 or 1 for a
    pair sharing a part, column 2 otherwise (term_frequency_u)."""
    for stale in ("part_sample_a", "part_sample_b", "part_sample_g", "part_sample_stats", "part_level_u0"):
        rec.cols.pop(stale, None)
    k = BY_NAME["person_name"]
    comp = COMPARISONS[k]
    levels = len(comp.levels) + 1
    out = np.zeros((levels, 3))
    out[:, 0] = out[:, 1] = out[:, 2] = u[k]
    parts = rec.cols["parts"]
    people = np.flatnonzero(~rec.org)
    if len(a):
        share = _shared_part(parts[a], parts[b]).any(axis=1) & ~rec.org[a] & ~rec.org[b]
        lone = np.bincount(gamma[~share, k].astype(np.int64), minlength=levels) / len(a)
        out[:, 2] = lone
    owners = np.repeat(people, parts.shape[1])
    codes = parts[people].ravel()
    owners, codes = owners[codes != 0], codes[codes != 0]
    if len(codes) < 2:
        return out
    # (record, part) entries in record order; each picked entry meets another carrier of its part. Picks and
    # carriers are positions in record order, so the sample does not depend on the code values (a book built
    # in one process or in several samples the same pairs)
    order = np.argsort(codes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    ordered = codes[order]
    start = np.searchsorted(ordered, codes, side="left")
    size = np.searchsorted(ordered, codes, side="right") - start
    pick = rng.integers(0, len(codes), min(PART_SAMPLE, 4 * len(codes)))
    pick = pick[size[pick] > 1]
    if not len(pick):
        return out
    other = start[pick] + rng.integers(0, size[pick] - 1)
    other = np.where(other >= rank[pick], other + 1, other)  # another carrier of the same part
    pa, pb = owners[pick], owners[order[other]]
    keep = pa != pb
    pa, pb = pa[keep], pb[keep]
    g, _sim = compare(rec, pa, pb, workers=workers)
    # kept for the EM (estimate): carriers of a rare part are often the records of one person, so the sample
    # holds duplicates, and P(level | two *different* people share a part) weighs each pair by 1 − P(match)
    rec.cols["part_sample_a"], rec.cols["part_sample_b"], rec.cols["part_sample_g"] = pa, pb, g
    rec.cols["part_prior_u"] = u[k]
    return part_table(rec, out)


def part_table(rec: Records, out: np.ndarray, nonmatch: np.ndarray | None = None) -> np.ndarray:
    """Columns 0 and 1 of part_level_u from the stored sample of people sharing a name part, each pair
    counted with its weight in `nonmatch` (P(not the same person); 1 for every pair when None)."""
    k = BY_NAME["person_name"]
    levels = len(COMPARISONS[k].levels) + 1
    out = out.copy()
    pa, g = rec.cols["part_sample_a"], rec.cols["part_sample_g"]
    weight = np.ones(len(pa)) if nonmatch is None else nonmatch
    # prior: ten times the level's share among all random pairs, worth PART_STRENGTH pairs
    prior = np.minimum(rec.cols["part_prior_u"] * 10, 1.0)
    cjk = rec.cols["cjk"][pa]
    for col, sel in ((0, cjk), (1, ~cjk)):  # Chinese names and the others: pinyin initials and Jaro-Winkler
        counts = np.bincount(g[sel, k].astype(np.int64), weights=weight[sel], minlength=levels)
        counts[0] = 0.0
        out[:, col] = (counts + PART_STRENGTH * prior) / (counts[1:].sum() + PART_STRENGTH)
    out[0] = 1.0
    return out


def tf_stats(rec: Records, left: np.ndarray, right: np.ndarray, gamma: np.ndarray) -> dict:
    """What term_frequency_u needs that does not change between EM iterations: per exact-value level the
    count of records carrying the shared value, per name level the count of the shared name, and the
    name-part frequencies. Computed once per set of pairs."""
    counts_of: dict[str, np.ndarray] = {}
    stats: dict = {"tf": {}, "names": {}}
    for k, comp in enumerate(COMPARISONS):
        for level, column, eps in comp.tf:
            values = rec.cols[column]
            if column not in counts_of:
                counts_of[column] = np.bincount(values.ravel())
            counts = counts_of[column]
            hit = gamma[:, k] == level
            cnt = np.zeros(len(left))
            if values.ndim == 1:
                cnt[hit] = counts[values[left[hit]]]
            else:  # padded sets: the rarest shared value
                va, vb = values[left[hit]], values[right[hit]]
                eq = (va[:, :, None] == vb[:, None, :]) & (va[:, :, None] != 0)
                c = np.where(eq.any(axis=2), counts[va], np.iinfo(np.int64).max)
                cnt[hit] = c.min(axis=1)
            stats["tf"][(k, level)] = (np.maximum(cnt - 2, 0) + eps, hit)
    k = BY_NAME["person_name"]
    name_u = name_frequency(rec)
    stats["parts_u"] = np.maximum(name_u[left], name_u[right])
    for level, column in ((1, "name"), (2, "sorted_parts"), (3, "sorted_pinyin"), (4, "pinyin")):
        values = rec.cols[column]
        if column not in counts_of:
            counts_of[column] = np.bincount(values.ravel())
        shared = np.where(values[left] == values[right], values[left], 0)
        stats["names"][level] = counts_of[column][shared]
    names = COMPARISONS[k].levels
    level = names.index("one_part_same") + 1
    rare = [names.index(x) + 1 for x in RARE_PART_LEVELS]
    hit = np.isin(gamma[:, k], [level, *rare])
    part = np.zeros(len(left), dtype=np.int64)  # people carrying the rarest shared part, 0 = none shared
    if hit.any():
        pa, pb = rec.cols["parts"][left[hit]], rec.cols["parts"][right[hit]]
        counts = part_counts(rec)
        eq = _shared_part(pa, pb)
        rarest = np.where(eq, counts[pa], np.iinfo(np.int64).max).min(axis=1)
        part[hit] = np.where(eq.any(axis=1), rarest, 0)
    stats["one_part"] = (level, gamma[:, k] == level, part)
    stats["rare_part"] = [(r, gamma[:, k] == r) for r in rare]
    stats["dob"] = dob_stats(rec, left, gamma)
    return stats


def swap_day_month(dob: np.ndarray) -> np.ndarray:
    """YYYYMMDD with day and month exchanged (not a date when the day is above 12)."""
    return dob // 10000 * 10000 + dob % 100 * 100 + dob // 100 % 100


def dob_stats(rec: Records, left: np.ndarray, gamma: np.ndarray) -> tuple:
    """For the pairs at the date-of-birth levels exact / day-month swapped: (mask, other records carrying the
    date the right record carries besides the pair itself, P(birth year)/365.25, records with a date)."""
    k = BY_NAME["birth_date"]
    g = gamma[:, k]
    hit = (g == 1) | (g == 2)
    dob = rec.cols["dob"]
    if "dob_table" not in rec.cols:
        have = dob[dob > 0]
        values, counts = np.unique(have, return_counts=True)
        years = np.bincount(have // 10000) if len(have) else np.zeros(1, dtype=np.int64)
        rec.cols["dob_table"] = values
        rec.cols["dob_counts"] = counts
        rec.cols["dob_years"] = years
    values, counts, years = rec.cols["dob_table"], rec.cols["dob_counts"], rec.cols["dob_years"]
    have = int(counts.sum())
    if not hit.any() or not have:
        return hit, np.zeros(0), np.zeros(0), have
    d = dob[left[hit]]
    exact = g[hit] == 1
    target = np.where(exact, d, swap_day_month(d))
    at = np.minimum(np.searchsorted(values, target), len(values) - 1)
    count = np.where(values[at] == target, counts[at], 0)
    others = np.maximum(count - np.where(exact, 2, 1), 0).astype(np.float64)
    year = np.minimum(target // 10000, len(years) - 1)
    smooth = np.maximum(years[year], 1) / have / DAYS_PER_YEAR
    return hit, others, smooth, have


def term_frequency_u(
    rec: Records,
    left: np.ndarray,
    right: np.ndarray,
    gamma: np.ndarray,
    model: Model,
    stats: dict | None = None,
):
    """u of each exact-value level from how many records carry the shared value (fewest when several);
    `stats` (tf_stats of the same pairs) saves recounting in every EM iteration."""
    if stats is None:
        stats = tf_stats(rec, left, right, gamma)
    n = max(len(rec), 1)
    out: dict[tuple[int, int], np.ndarray] = {}
    for (k, level), (raw, _hit) in stats["tf"].items():
        # shrink towards the prior u on small data: `TF_STRENGTH` pseudo-records at the prior rate
        prior_u = COMPARISONS[k].u[level - 1]
        out[(k, level)] = (raw + TF_STRENGTH * prior_u) / (n + TF_STRENGTH)
    k = BY_NAME["person_name"]
    parts_u = stats["parts_u"]
    for level, shared_count in stats["names"].items():
        # the name's own frequency among the other people — records counted as people by dividing by
        # 1 + duplicates per record, so the third record of the same person does not make the name common —
        # or, when that says "never", the chance of its parts coming together: P(surname) × P(given name)
        own = np.maximum(shared_count / (1 + model.rate) - 2, 0) / n
        if NAME_MIX is None:
            estimate = np.where(parts_u > 0, np.maximum(own, parts_u), out.get((k, level), own))
        else:
            mixed = (own + NAME_MIX * parts_u) / (1 + NAME_MIX)
            estimate = np.where(parts_u > 0, mixed, out.get((k, level), own))
        # shrunk towards the prior u with NAME_STRENGTH pseudo-records: part frequencies of a tiny book mean little
        prior_u = COMPARISONS[k].u[level - 1]
        out[(k, level)] = (n * np.maximum(estimate, 0.01 / n) + NAME_STRENGTH * prior_u) / (n + NAME_STRENGTH)
    # a name written another way (parts swapped, spelled in pinyin): two strangers with the same name show it
    # only through the same writing variant a duplicate's record shows, so u is the name's frequency × the
    # variant's share among duplicates' names, m_variant / (m_exact + m_variant) (× VARIANT_FACTOR)
    m = model.m[k]
    for level in (2, 3):
        share = m[level] / max(m[1] + m[level], 1e-12)
        out[(k, level)] = out[(k, level)] * min(1.0, VARIANT_FACTOR * share)
    # one part the same, the other not: u = the share of people carrying the rarest shared part (王 says
    # little, 琳坤 a lot)
    level, hit, part = stats["one_part"]
    u = np.full(len(left), COMPARISONS[k].u[level - 1])
    if hit.any():
        people = max(int((~rec.org).sum()), 1)
        u[hit] = (people * _carriers(part[hit], model.rate, people) + PART_PRIOR * u[hit]) / (
            people + PART_PRIOR
        )
    out[(k, level)] = u
    # similar names (a typo, a part missing, initials): P(carrying the rarest shared part) × P(level | a shared
    # part); without a shared part, the level's own u among random pairs
    table = rec.cols.get("part_level_u")
    if table is not None:
        people = max(int((~rec.org).sum()), 1)
        for r, hit in stats["rare_part"]:
            if not hit.any():
                continue
            count = part[hit]
            q = np.where(rec.cols["cjk"][left[hit]], table[r, 0], table[r, 1])
            est = np.where(count > 0, _carriers(count, model.rate, people) * q, table[r, 2])
            prior_u = COMPARISONS[k].u[r - 1]
            # the levels are disjoint and only u[gamma == level] is ever read: one array holds them all
            u[hit] = (people * np.maximum(est, 0.01 / people) + PART_PRIOR * prior_u) / (people + PART_PRIOR)
            out[(k, r)] = u
    hit, others, smooth, have = stats["dob"]
    if hit.any():
        u = np.ones(len(left))  # one array for both levels: only u[gamma == level] is read
        u[hit] = (others / (1 + model.rate) + DOB_PRIOR) / (have + DOB_PRIOR / smooth)
        k = BY_NAME["birth_date"]
        out[(k, 1)] = out[(k, 2)] = u
    return out


def _carriers(count: np.ndarray, rate: float, people: int) -> np.ndarray:
    """The share of the other people who carry a name part that `count` records carry, the pair's own two
    records left out (they are the question, not evidence that the part is common) — like the exact-value
    levels, (count - 2 + ε) — and records counted as people by dividing by 1 + duplicates per record."""
    return (np.maximum(count - 2, 0) + PART_EPS) / (1 + rate) / people


def part_counts(rec: Records) -> np.ndarray:
    """How many people carry each name-part code (at any position)."""
    if "part_counts" not in rec.cols:
        parts = rec.cols["parts"][~rec.org]
        rec.cols["part_counts"] = np.bincount(parts.ravel(), minlength=len(rec.texts) + 1)
    return rec.cols["part_counts"]


def name_frequency(rec: Records) -> np.ndarray:
    """Per record, the chance that a random other person carries the same name parts: the product of the
    frequencies (among people) of its parts — surname × given name for a Chinese name, first × middle × family
    name for a Western one (ALL_PARTS; first × last only when false). 0 for a name of one part."""
    if "name_u" in rec.cols:
        return rec.cols["name_u"]
    parts, nparts = rec.cols["parts"], rec.cols["nparts"]
    person = ~rec.org & (nparts >= 2)
    people = max(int((~rec.org).sum()), 1)
    if ALL_PARTS:
        counts = np.bincount(parts[person].ravel(), minlength=len(rec.texts) + 1)
        counts[0] = people  # padding: factor 1
        out = np.where(person, np.prod(counts[parts] / people, axis=1), 0.0)
        rec.cols["name_u"] = out
        return out
    first = parts[:, 0]
    last = parts[np.arange(len(parts)), np.maximum(nparts - 1, 0)]
    counts = np.bincount(np.concatenate([first[person], last[person]]), minlength=len(rec.texts) + 1)
    out = np.where(person, counts[first] / people * (counts[last] / people), 0.0)
    rec.cols["name_u"] = out
    return out


def estimate(
    rec: Records,
    left: np.ndarray,
    right: np.ndarray,
    gamma: np.ndarray,
    *,
    strength: float = 300.0,
    rate: float = RATE,
    rate_strength: float = 200.0,
    iterations: int = 20,
    tol: float = 1e-4,
    u: list[np.ndarray] | None = None,
    workers: int | None = None,
) -> tuple[Model, dict]:
    """EM for m and the duplicate rate over the candidate pairs (u fixed from random pairs and frequencies),
    each comparison's m prior counting as `strength` pseudo-matches and the rate prior as `rate_strength`
    pseudo-records."""
    n = len(rec)
    model = prior_model(n, rate)
    if u is not None:
        model.u = u
    stats = tf_stats(rec, left, right, gamma)
    tf_u = term_frequency_u(rec, left, right, gamma, model, stats)
    if not len(gamma):
        return model, tf_u
    base = prior_model(n, rate)
    size = len(gamma)
    widest = max(len(c.levels) for c in COMPARISONS) + 1
    blocks = list(range(0, size, EM_BLOCK)) + [size]
    shares = workers_for(size, workers)
    for it in range(iterations):

        def expected(first: int, last: int, model=model, tf_u=tf_u) -> list[tuple[np.ndarray, float]]:
            """Per EM block: the expected matches per comparison level, and their sum."""
            out = []
            for start, stop in zip(blocks[first:last], blocks[first + 1 : last + 1], strict=True):
                p = model.probability(model.pair_total(gamma, tf_u, start, stop))
                g = gamma[start:stop]  # uint8: bincount reads it without a copy of the block as int64
                counts = np.zeros((len(COMPARISONS), widest))
                for k in range(len(COMPARISONS)):
                    counts[k] = np.bincount(g[:, k], weights=p, minlength=widest)
                out.append((counts, float(p.sum())))
            return out

        parts = [b for share in in_parallel(expected, _even(len(blocks) - 1, shares)) for b in share]
        counts, p_sum = np.zeros((len(COMPARISONS), widest)), 0.0
        for block_counts, block_sum in parts:  # added in block order whatever the processes
            counts += block_counts
            p_sum += block_sum
        new_m = []
        for k, comp in enumerate(COMPARISONS):
            levels = len(comp.levels) + 1
            cm = counts[k, :levels].copy()
            cm[0] = 0.0
            m = cm + strength * base.m[k] * np.r_[0.0, np.ones(levels - 1)]
            m = m / m[1:].sum()
            m[0] = 1.0
            new_m.append(m)
        new_rate = (2 * p_sum + rate_strength * rate) / (n + rate_strength)
        change = abs(new_rate - model.rate) / max(model.rate, 1e-9)
        model = Model(new_m, model.u, float(new_rate), n, it + 1)
        if PART_NONMATCH and "part_sample_g" in rec.cols:
            _reweigh_part_sample(rec, model)
        tf_u = term_frequency_u(rec, left, right, gamma, model, stats)
        if change < tol:
            break
    return model, tf_u


def _reweigh_part_sample(rec: Records, model: Model) -> None:
    """P(level | two different people share a name part) again, each sampled pair of part carriers counted
    with its current P(not the same person)."""
    pa, pb, g = rec.cols["part_sample_a"], rec.cols["part_sample_b"], rec.cols["part_sample_g"]
    if not len(pa):
        return
    if "part_sample_stats" not in rec.cols:
        rec.cols["part_sample_stats"] = tf_stats(rec, pa, pb, g)
        rec.cols["part_level_u0"] = rec.cols["part_level_u"]
    tf_u = term_frequency_u(rec, pa, pb, g, model, rec.cols["part_sample_stats"])
    p = model.probability(model.pair_total(g, tf_u))
    rec.cols["part_level_u"] = part_table(rec, rec.cols["part_level_u0"], 1.0 - p)


# ------------------------------------------------------------------------------------------ reasons

# (comparison, level) → reason code (models.DUPLICATE_REASONS); absent = not worth saying
REASON_CODES = {
    ("kind", "differs"): "kind_differs",
    ("person_name", "exact"): "same_name",
    ("person_name", "swapped"): "name_swapped",
    ("person_name", "transliterated"): "same_sound",
    ("person_name", "sounds_same"): "same_sound",
    ("person_name", "jw_high"): "similar_name",
    ("person_name", "part_missing"): "name_part_missing",
    ("person_name", "initials"): "same_initials",
    ("person_name", "jw_mid"): "similar_name",
    ("person_name", "one_part_same"): "same_name_part",
    ("person_name", "one_part_far"): "same_name_part",
    ("person_name", "differs"): "name_differs",
    ("org_name", "exact"): "same_name",
    ("org_name", "core_same"): "same_core",
    ("org_name", "core_same_other_region"): "same_core_other_region",
    ("org_name", "core_similar"): "similar_name",
    ("org_name", "differs"): "name_differs",
    ("birth_date", "exact"): "same_birth_date",
    ("birth_date", "day_month_swapped"): "birth_day_month_swapped",
    ("birth_date", "one_digit"): "birth_date_one_digit",
    ("birth_date", "same_year"): "same_birth_year",
    ("birth_date", "differs"): "birth_date_differs",
    ("id_number", "same"): "same_id_number",
    ("id_number", "differs"): "id_number_differs",
    ("tax_id", "same"): "same_tax_id",
    ("tax_id", "differs"): "tax_id_differs",
    ("phone", "same"): "same_phone",
    ("email", "same"): "same_email",
    ("email", "same_local_part"): "same_email_name",
    ("address", "street_same"): "same_address",
    ("address", "street_similar"): "similar_address",
    ("address", "postcode_same"): "same_postcode",
    ("address", "district_same"): "same_district",
    ("address", "city_same"): "same_city",
    ("address", "differs"): "address_differs",
    ("gender", "differs"): "gender_differs",
    ("account", "differs"): "other_accounts",
}


def explain(
    rec: Records, i: int, j: int, gamma_row: np.ndarray, similarity: float, weights: np.ndarray
) -> list[list]:
    """Reasons [code, params] of one pair, strongest evidence first; params["w"] is the match weight (bits)."""
    out = []
    c = rec.cols
    for k, comp in enumerate(COMPARISONS):
        level = int(gamma_row[k])
        if not level:
            continue
        code = REASON_CODES.get((comp.name, comp.levels[level - 1]))
        if not code:
            continue
        params: dict = {}
        if code == "same_phone":
            shared = sorted(set(c["phones"][i]) & set(c["phones"][j]) - {0})
            params["p"] = rec.texts.get(shared[0], "") if shared else ""
        elif code == "same_email":
            shared = sorted(set(c["emails"][i]) & set(c["emails"][j]) - {0})
            params["e"] = rec.texts.get(shared[0], "") if shared else ""
        elif code in ("same_core", "same_core_other_region"):
            params["c"] = rec.core[i]
        elif code == "same_sound":
            params["p"] = rec.pinyin[i]
        elif code == "similar_name":
            params["n"] = round(similarity * 100)
        out.append((float(weights[k]), code, params))
    out.sort(key=lambda r: -r[0])
    return [[code, params, round(w, 1)] for w, code, params in out]


CLUSTER_MAX = 12  # components of flagged pairs larger than this are not closed (chains of weak links)


def transitive_pairs(
    n: int, left: np.ndarray, right: np.ndarray, prob: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs implied by the flagged ones: being the same customer is transitive, so when A matches B and B
    matches C, A matches C with probability at least P(A~B)·P(B~C) (the two links taken as independent). Per
    connected component of flagged pairs (3..CLUSTER_MAX records), the max-product path closure; returns the
    pairs not flagged themselves whose best path reaches `threshold`: (left, right, probability, via), via =
    the record next to `left` on that path."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    empty = np.empty(0, dtype=np.int64)
    flagged = prob >= threshold - 1e-9
    fl, fr, fp = left[flagged], right[flagged], prob[flagged]
    if len(fl) < 2:
        return empty, empty, np.empty(0), empty
    graph = coo_matrix((np.ones(len(fl)), (fl, fr)), shape=(n, n))
    _count, label = connected_components(graph, directed=False)
    size = np.bincount(label)
    out_l, out_r, out_p, out_v = [], [], [], []
    for k in np.unique(size[(size >= 3) & (size <= CLUSTER_MAX)]):
        comps = np.flatnonzero(size == k)
        # members of each component of size k, in a (components, k) table; local index of every record
        order = np.argsort(label, kind="stable")
        in_k = np.isin(label[order], comps)
        members = order[in_k].reshape(len(comps), k)
        slot = np.full(n, -1)
        slot[members.ravel()] = np.tile(np.arange(k), len(comps))
        which = np.full(n, -1)
        which[members.ravel()] = np.repeat(np.arange(len(comps)), k)
        sel = which[fl] >= 0
        pm = np.zeros((len(comps), k, k))
        c, i, j = which[fl[sel]], slot[fl[sel]], slot[fr[sel]]
        pm[c, i, j] = fp[sel]
        pm[c, j, i] = fp[sel]
        direct = pm.copy()
        via = np.tile(np.arange(k), (len(comps), k, 1))  # via[c, i, j] = next record from i towards j
        for _ in range(k - 2):  # max-product closure: paths of up to k-1 links
            two = pm[:, :, :, None] * pm[:, None, :, :]  # (c, i, m, j): i→m→j
            best = two.argmax(axis=2)
            value = np.take_along_axis(two, best[:, :, None, :], axis=2)[:, :, 0, :]
            better = value > pm + 1e-12
            if not better.any():
                break
            pm = np.where(better, value, pm)
            via = np.where(better, np.take_along_axis(via, best, axis=2), via)
        iu, ju = np.triu_indices(k, 1)
        add = (pm[:, iu, ju] >= threshold - 1e-9) & (direct[:, iu, ju] == 0)
        cc, pp = np.nonzero(add)
        a, b = members[cc, iu[pp]], members[cc, ju[pp]]
        out_l.append(a)
        out_r.append(b)
        out_p.append(pm[cc, iu[pp], ju[pp]])
        out_v.append(members[cc, via[cc, iu[pp], ju[pp]]])
    if not out_l:
        return empty, empty, np.empty(0), empty
    return np.concatenate(out_l), np.concatenate(out_r), np.concatenate(out_p), np.concatenate(out_v)


CONTRADICTING = {
    "kind": ("differs",),
    "person_name": ("differs",),
    "org_name": ("core_same_other_region", "differs"),
    "birth_date": ("differs",),
    "id_number": ("differs",),
    "tax_id": ("differs",),
    "gender": ("differs",),
}


def _contradicts(gamma: np.ndarray) -> np.ndarray:
    """Per pair: does one of its comparisons say the two are different (CONTRADICTING levels)?"""
    out = np.zeros(len(gamma), dtype=bool)
    for name, levels in CONTRADICTING.items():
        comp = COMPARISONS[BY_NAME[name]]
        for level in levels:
            out |= gamma[:, BY_NAME[name]] == comp.levels.index(level) + 1
    return out


@dataclass
class Result:
    left: np.ndarray  # record indices
    right: np.ndarray
    probability: np.ndarray
    gamma: np.ndarray
    similarity: np.ndarray
    weights: np.ndarray
    model: Model
    candidates: int
    per_rule: dict[str, int]
    # per pair: -1, or the record through which the pair is implied (transitive_pairs)
    via: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


def link(
    rows_or_records,
    *,
    threshold: float = THRESHOLD,
    max_block: int = MAX_BLOCK,
    fit: bool = True,
    transitive: bool = True,
    workers: int | None = None,
) -> Result:
    """Candidate pairs, levels, the fitted model and the pairs whose match probability reaches `threshold`,
    with the pairs implied through a third record (transitive_pairs) unless `transitive` is false. `workers`
    processes share blocking, comparisons and EM (default: workers_for; the result is the same)."""
    rec = rows_or_records if isinstance(rows_or_records, Records) else build(rows_or_records)
    left, right, per_rule = candidate_pairs(rec, max_block, workers)
    gamma, sim = compare(rec, left, right, workers=workers)
    if fit:
        model, tf_u = estimate(rec, left, right, gamma, u=estimate_u(rec, workers=workers), workers=workers)
    else:
        model = prior_model(len(rec))
        tf_u = term_frequency_u(rec, left, right, gamma, model)
    prob = model.probability(model.pair_total(gamma, tf_u))
    keep = prob >= threshold - 1e-9
    via = np.full(int(keep.sum()), -1, dtype=np.int64)
    left_k, right_k, prob_k = left[keep], right[keep], prob[keep]
    gamma_k, sim_k = gamma[keep], sim[keep]
    weights_k = model.pair_weights(gamma_k, {key: u[keep] for key, u in tf_u.items()})
    if transitive:
        tl, tr, tp, tv = transitive_pairs(len(rec), left, right, prob, threshold)
        if len(tl):
            tg, ts = compare(rec, tl, tr, workers=workers)
            # the path fills in missing evidence, it does not overrule contrary evidence: a pair whose own
            # comparison says "different" (another region, date of birth, ID number, kind…) is not implied
            ok = ~_contradicts(tg)
            tl, tr, tp, tv, tg, ts = tl[ok], tr[ok], tp[ok], tv[ok], tg[ok], ts[ok]
            tw = model.pair_weights(tg, term_frequency_u(rec, tl, tr, tg, model))
            left_k, right_k = np.r_[left_k, tl], np.r_[right_k, tr]
            prob_k, via = np.r_[prob_k, tp], np.r_[via, tv]
            gamma_k, sim_k, weights_k = np.r_[gamma_k, tg], np.r_[sim_k, ts], np.r_[weights_k, tw]
    return Result(left_k, right_k, prob_k, gamma_k, sim_k, weights_k, model, len(left), per_rule, via)
