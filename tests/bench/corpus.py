"""Synthetic customers with known duplicates, for the record-linkage benchmark and its fast unit test.

    corpus = generate(Config(entities=10_000, seed=7))
    corpus.rows      # customer rows as linkage.build() reads them (id, kind, name, birthday, phones, …)
    corpus.truth     # set of (id, id) pairs, smaller id first, that are the same person or organisation

Entities are Chinese people (names drawn by surname frequency), Western people and organisations
(region + core + trade + legal form). A share of them get one or more duplicate records, each corrupted
by a configurable model: typos and OCR-like confusions, swapped or missing name parts, traditional
characters, day/month transposed or one digit wrong in the date of birth, changed phones and emails, moved or
abbreviated addresses, missing fields. Nothing is written to disk: the corpus is generated, never committed.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from dataclasses import dataclass, field

import zhconv
from faker.providers.address.zh_CN import Provider as ZhAddress
from faker.providers.person.en_US import Provider as EnPerson
from faker.providers.person.zh_CN import Provider as ZhPerson

from kehu.customers import identity

SURNAMES = list(ZhPerson.last_names)
SURNAME_WEIGHTS = list(ZhPerson.last_names.values()) if isinstance(ZhPerson.last_names, dict) else None
GIVEN_NAMES = list(ZhPerson.first_names)
GIVEN_CHARS = sorted({ch for name in GIVEN_NAMES for ch in name})
WEST_FIRST = list(EnPerson.first_names)
WEST_LAST = list(EnPerson.last_names)
PROVINCES = ["浙江", "江苏", "广东", "山东", "四川", "湖北", "河南", "福建", "北京", "上海"]
CITIES = {
    "浙江": ["杭州", "宁波", "温州"],
    "江苏": ["南京", "苏州", "无锡"],
    "广东": ["广州", "深圳", "东莞"],
    "山东": ["济南", "青岛", "烟台"],
    "四川": ["成都", "绵阳"],
    "湖北": ["武汉", "宜昌"],
    "河南": ["郑州", "洛阳"],
    "福建": ["福州", "厦门"],
    "北京": ["北京"],
    "上海": ["上海"],
}
DISTRICTS = list(ZhAddress.districts)
STREET_WORDS = list("文三解放人民中山建设和平新华胜利光明长江黄河东风朝阳滨江湖滨学院工业")
STREET_KINDS = ["路", "街", "大道", "巷"]
CORES = list("华信恒达瑞丰鼎盛安捷晨光星辰宏远金桥天诚博雅中科东方百盛万通永泰新世纪汇通")
TRADES = ["科技", "贸易", "电子", "机械", "食品", "物流", "建材", "医药", "教育", "保险代理", "咨询"]
FORMS = ["有限公司", "股份有限公司", "有限责任公司", "集团有限公司"]
# characters OCR and hurried typing confuse (pairs of look-alikes)
LOOKALIKE = dict(
    zip(
        "王玉日曰未末己已土士人入天夭大太子孑刀力干千午牛辛幸",
        "玉王曰日末未已己士土入人夭天太大孑子力刀千干牛午幸辛",
        strict=True,
    )
)
OCR_LATIN = {"o": "0", "l": "1", "i": "l", "e": "c", "m": "rn", "n": "h", "u": "v", "a": "o"}


@dataclass
class Config:
    entities: int = 2000
    seed: int = 1
    organisations: float = 0.15  # share of entities that are organisations
    western: float = 0.25  # share of people with a Western name
    duplicated: float = 0.35  # share of entities with at least one duplicate
    extra_duplicate: float = 0.15  # chance of each further duplicate
    contacts: bool = True  # phones and emails exist at all
    shared_contact: float = 0.0  # chance a duplicate keeps a phone or email of the original (0..1)
    household_phone: float = 0.02  # chance an unrelated person shares a phone with another (family)
    with_id_number: float = 0.3
    with_birthday: float = 0.9
    with_address: float = 0.8
    # corruption of a duplicate record, each independent
    name_typo: float = 0.25
    name_swap: float = 0.08
    name_part_missing: float = 0.08
    traditional: float = 0.1
    pinyin_name: float = 0.04  # a Chinese name written in pinyin
    dob_transposed: float = 0.08
    dob_digit: float = 0.08
    dob_missing: float = 0.15
    id_missing: float = 0.5
    phone_changed: float = 0.3
    email_changed: float = 0.3
    address_moved: float = 0.15
    address_typo: float = 0.2
    address_missing: float = 0.2
    gender_missing: float = 0.3


@dataclass
class Corpus:
    rows: list[dict] = field(default_factory=list)
    truth: set[tuple[int, int]] = field(default_factory=set)
    entity_of: dict[int, int] = field(default_factory=dict)


def id_number(rng: random.Random, birthday: dt.date, female: bool) -> str:
    region = rng.choice(["110101", "310104", "330106", "440305", "510107", "420106"])
    seq = rng.randint(0, 99) * 10 + (rng.choice([0, 2, 4, 6, 8]) if female else rng.choice([1, 3, 5, 7, 9]))
    first17 = f"{region}{birthday:%Y%m%d}{seq:03d}"
    return first17 + identity.check_digit(first17)


def _phone(rng: random.Random) -> str:
    return "+861" + rng.choice("3578") + "".join(rng.choices(string.digits, k=9))


def _address(rng: random.Random) -> dict:
    province = rng.choice(PROVINCES)
    return {
        "province": province,
        "city_part": rng.choice(CITIES[province]),
        "district": rng.choice(DISTRICTS) + "区",
        "street": f"{''.join(rng.sample(STREET_WORDS, 2))}{rng.choice(STREET_KINDS)}{rng.randint(1, 999)}号"
        + (f"{rng.randint(1, 30)}幢{rng.randint(101, 2999)}室" if rng.random() < 0.6 else ""),
        "postcode": f"{rng.randint(100000, 859999)}",
    }


def _entity(rng: random.Random, cfg: Config, eid: int) -> dict:
    if rng.random() < cfg.organisations:
        region = rng.choice(PROVINCES + [""] * 4)
        core = "".join(rng.sample(CORES, 2)) + rng.choice(TRADES)
        e = {"kind": "organization", "region": region, "core": core, "form": rng.choice(FORMS)}
        e["name"] = f"{region}{core}{e['form']}"
        e["tax_id"] = "91" + "".join(rng.choices(string.digits + "ABCDEFGHJKLMNPQRTUWXY", k=16))
        e["tax_id"] = e["tax_id"] if rng.random() < 0.5 else ""
    else:
        female = rng.random() < 0.5
        birthday = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 65))
        e = {"kind": "person", "gender": "female" if female else "male", "birthday": birthday}
        if rng.random() < cfg.western:
            e["western"] = True
            e["given"] = rng.choice(WEST_FIRST)
            e["middle"] = rng.choice(WEST_FIRST) if rng.random() < 0.2 else ""
            e["family"] = rng.choice(WEST_LAST)
        else:
            e["western"] = False
            e["family"] = (
                rng.choices(SURNAMES, weights=SURNAME_WEIGHTS)[0] if SURNAME_WEIGHTS else rng.choice(SURNAMES)
            )
            e["given"] = (
                rng.choice(GIVEN_NAMES) if rng.random() < 0.6 else "".join(rng.choices(GIVEN_CHARS, k=2))
            )
            e["middle"] = ""
        e["id_number"] = (
            id_number(rng, birthday, female) if not e["western"] and rng.random() < cfg.with_id_number else ""
        )
    if rng.random() < cfg.with_address:
        e["address"] = _address(rng)
    if cfg.contacts:
        e["phones"] = [_phone(rng)] if rng.random() < 0.85 else []
        e["emails"] = [f"{_ascii_name(e)}{rng.randint(1, 9999)}@example.com"] if rng.random() < 0.6 else []
    else:
        e["phones"], e["emails"] = [], []
    e["id"] = eid
    return e


def _ascii_name(e: dict) -> str:
    from kehu.customers.normalize import pinyin_full

    if e["kind"] == "organization":
        return pinyin_full(e["core"])[:10]
    return pinyin_full(e["given"] + e["family"])[:12].lower()


def _person_name(e: dict) -> str:
    if e["western"]:
        return " ".join(x for x in (e["given"], e["middle"], e["family"]) if x)
    return e["family"] + e["given"]


def _typo(rng: random.Random, text: str) -> str:
    if not text:
        return text
    chars = list(text)
    i = rng.randrange(len(chars))
    if "\u4e00" <= chars[i] <= "\u9fff":
        if chars[i] in LOOKALIKE and rng.random() < 0.5:
            chars[i] = LOOKALIKE[chars[i]]
        else:
            chars[i] = rng.choice(GIVEN_CHARS)
        return "".join(chars)
    op = rng.random()
    if op < 0.25 and chars[i].lower() in OCR_LATIN:
        chars[i] = OCR_LATIN[chars[i].lower()]
    elif op < 0.5:
        chars[i] = rng.choice(string.ascii_lowercase)
    elif op < 0.7 and len(chars) > 3:
        del chars[i]
    elif op < 0.85:
        chars.insert(i, rng.choice(string.ascii_lowercase))
    elif i + 1 < len(chars):
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def _record(rng: random.Random, cfg: Config, e: dict, duplicate: bool) -> dict:
    r = {"kind": e["kind"]}
    if e["kind"] == "organization":
        name = e["name"]
        if duplicate:
            choice = rng.random()
            if choice < 0.3:
                name = e["core"] + (f"（{e['region']}）" if e["region"] else "") + e["form"]
            elif choice < 0.5:
                name = e["core"]
            elif choice < 0.6:
                name = e["region"] + e["core"] + rng.choice(FORMS)
            if rng.random() < cfg.name_typo:
                core = _typo(rng, e["core"])
                name = name.replace(e["core"], core)
            if rng.random() < cfg.traditional:
                name = zhconv.convert(name, "zh-hant")
        r["name"] = name
        r["tax_id"] = e["tax_id"] if not duplicate or rng.random() < 0.6 else ""
    else:
        given, middle, family = e["given"], e["middle"], e["family"]
        swap = missing = False
        if duplicate:
            if rng.random() < cfg.name_typo:
                if rng.random() < 0.5 or e["western"]:
                    given = _typo(rng, given)
                else:
                    family = _typo(rng, family)
            swap = rng.random() < cfg.name_swap
            missing = rng.random() < cfg.name_part_missing
        if e["western"]:
            if missing:
                if middle:
                    middle = ""
                elif rng.random() < 0.5:
                    given = given[0] + "."
                else:
                    given = ""
            parts = [given, middle, family] if not swap else [family, given, middle]
            name = " ".join(p for p in parts if p)
        else:
            if missing and len(given) == 2:
                given = given[rng.randrange(2)]
            name = (given + family) if swap else (family + given)
            if duplicate and rng.random() < cfg.pinyin_name:
                from kehu.customers.normalize import pinyin_full

                name = f"{pinyin_full(given).title()} {pinyin_full(family).title()}"
            elif duplicate and rng.random() < cfg.traditional:
                name = zhconv.convert(name, "zh-hant")
        r["name"] = name
        birthday = e["birthday"] if rng.random() < cfg.with_birthday else None
        if duplicate and birthday:
            if rng.random() < cfg.dob_missing:
                birthday = None
            elif rng.random() < cfg.dob_transposed and birthday.day <= 12 and birthday.day != birthday.month:
                birthday = birthday.replace(month=birthday.day, day=birthday.month)
            elif rng.random() < cfg.dob_digit:
                text = f"{birthday:%Y%m%d}"
                for _ in range(10):
                    k = rng.choice([3, 5, 7])
                    candidate = text[:k] + rng.choice(string.digits) + text[k + 1 :]
                    try:
                        birthday = dt.date(int(candidate[:4]), int(candidate[4:6]), int(candidate[6:]))
                        break
                    except ValueError:
                        continue
        r["birthday"] = birthday
        r["gender"] = e["gender"] if not (duplicate and rng.random() < cfg.gender_missing) else ""
        number = e["id_number"] if not (duplicate and rng.random() < cfg.id_missing) else ""
        r["id_hash"] = identity.digest(number) if number else ""
    address = e.get("address")
    if address and duplicate:
        if rng.random() < cfg.address_missing:
            address = None
        elif rng.random() < cfg.address_moved:
            address = _address(rng)
        elif rng.random() < cfg.address_typo:
            address = {**address, "street": _typo(rng, address["street"])}
            if rng.random() < 0.5:
                address["district"] = ""
    if address:
        r.update(address)
    phones, emails = list(e["phones"]), list(e["emails"])
    if duplicate:
        keep_contact = rng.random() < cfg.shared_contact
        if phones and rng.random() < cfg.phone_changed and not keep_contact:
            phones = [_phone(rng)] if rng.random() < 0.5 else []
        if emails and rng.random() < cfg.email_changed and not keep_contact:
            emails = []
    r["phones"], r["emails"] = phones, emails
    return r


def generate(cfg: Config) -> Corpus:
    rng = random.Random(cfg.seed)
    corpus = Corpus()
    entities = [_entity(rng, cfg, i) for i in range(cfg.entities)]
    people = [e for e in entities if e["kind"] == "person"]
    if cfg.contacts and cfg.household_phone and people:
        for e in people:
            if rng.random() < cfg.household_phone:
                other = rng.choice(people)
                if other is not e and other["phones"]:
                    e["phones"] = [other["phones"][0]]
    next_id = 1
    for e in entities:
        count = 1
        if rng.random() < cfg.duplicated:
            count += 1
            while rng.random() < cfg.extra_duplicate and count < 5:
                count += 1
        ids = []
        for k in range(count):
            row = _record(rng, cfg, e, duplicate=k > 0)
            row["id"] = next_id
            corpus.entity_of[next_id] = e["id"]
            corpus.rows.append(row)
            ids.append(next_id)
            next_id += 1
        corpus.truth.update((a, b) for i, a in enumerate(ids) for b in ids[i + 1 :])
    rng.shuffle(corpus.rows)
    return corpus


def evaluate(found: set[tuple[int, int]], truth: set[tuple[int, int]]) -> dict[str, float]:
    tp = len(found & truth)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "found": len(found), "true": len(truth)}
