"""Demo customers: bilingual accounts with contacts and individual consumers, fast (bulk inserts).

Deterministic for a given random.Random; ~100k customers in well under a minute on SQLite.
"""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from kehu.core import bulk
from kehu.core.models import Tag

from . import keys, normalize
from .models import (
    ConsentEvent,
    Customer,
    CustomerEmail,
    CustomerPhone,
    CustomerType,
    Kind,
    LifecycleChange,
    Source,
    Stage,
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉建国红文斌宇浩凯欣怡梓涵雨轩子墨晨阳思远嘉琪"
)
REGIONS = ["北京", "上海", "广州", "深圳", "杭州", "南京", "苏州", "成都", "武汉", "西安", "天津", "重庆"]
CORES = [
    "华信",
    "恒达",
    "金科",
    "宏远",
    "新锐",
    "博雅",
    "天成",
    "鼎盛",
    "中联",
    "东方",
    "海纳",
    "瑞丰",
    "长城",
    "远景",
    "星辰",
    "正泰",
    "安捷",
    "联创",
    "智远",
    "盛世",
    "和信",
    "永安",
    "德邦",
    "晨光",
]
INDUSTRY = [
    ("科技", "Technology"),
    ("电子", "Electronics"),
    ("机械", "Machinery"),
    ("贸易", "Trading"),
    ("医疗器械", "Medical devices"),
    ("食品", "Food"),
    ("物流", "Logistics"),
    ("建材", "Building materials"),
    ("软件", "Software"),
    ("家电", "Home appliances"),
]
SUFFIXES = ["有限公司", "股份有限公司", "有限责任公司", "集团有限公司"]
FIRST_EN = [
    "James",
    "Mary",
    "John",
    "Linda",
    "Robert",
    "Emma",
    "David",
    "Olivia",
    "Michael",
    "Sophia",
    "Daniel",
    "Grace",
    "Thomas",
    "Chloe",
    "Peter",
    "Anna",
]
LAST_EN = [
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Miller",
    "Wilson",
    "Moore",
    "Clark",
    "Walker",
    "Young",
    "King",
    "Wright",
    "Green",
    "Baker",
]
COMPANY_EN = [
    "Northwind",
    "Contoso",
    "Bluebird",
    "Summit",
    "Pioneer",
    "Harbor",
    "Evergreen",
    "Atlas",
    "Keystone",
    "Lighthouse",
    "Redwood",
    "Silverline",
]
COMPANY_EN_SUFFIX = ["Co., Ltd.", "Inc.", "Ltd.", "Trading Co.", "Group"]
MOBILE_PREFIXES = [
    "138",
    "139",
    "137",
    "136",
    "135",
    "150",
    "151",
    "152",
    "158",
    "159",
    "186",
    "187",
    "188",
    "189",
    "130",
    "131",
    "132",
    "155",
    "156",
    "133",
    "153",
    "180",
    "181",
    "177",
    "199",
]
TAGS = [
    ("VIP", "#c2410c"),
    ("重点客户", "#b91c1c"),
    ("经销商", "#2563eb"),
    ("新客户", "#15803d"),
    ("展会", "#7c3aed"),
    ("海外", "#0891b2"),
]


def chinese_person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def english_person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_EN)} {rng.choice(LAST_EN)}"


def chinese_company(rng: random.Random) -> tuple[str, str]:
    region = rng.choice(REGIONS)
    core = rng.choice(CORES) + rng.choice(CORES)[0]
    zh_ind, en_ind = rng.choice(INDUSTRY)
    return f"{region}{core}{zh_ind}{rng.choice(SUFFIXES)}", en_ind


def english_company(rng: random.Random) -> tuple[str, str]:
    zh_ind, en_ind = rng.choice(INDUSTRY)
    return f"{rng.choice(COMPANY_EN)} {en_ind} {rng.choice(COMPANY_EN_SUFFIX)}", en_ind


def mobile(rng: random.Random) -> str:
    return "+86" + rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def seed_customers(*, count: int, owners: list, rng: random.Random, batch: int = 5000) -> list[int]:
    """Create `count` customers: ~35% organisations, ~40% their contacts, ~25% individual consumers."""
    tags = [Tag.objects.get_or_create(name=n, defaults={"color": c})[0] for n, c in TAGS]
    now = timezone.now()
    stages = (
        [Stage.PROSPECT] * 3
        + [Stage.CUSTOMER] * 4
        + [Stage.LOYAL] * 2
        + [Stage.AT_RISK, Stage.CHURNED, Stage.WON_BACK]
    )
    created_ids: list[int] = []
    n_org = max(1, int(count * 0.35))
    n_contact = int(count * 0.40)
    n_indiv = count - n_org - n_contact
    used_phones: set[str] = set()

    def unique_mobile() -> str:
        while True:
            p = mobile(rng)
            if p not in used_phones:
                used_phones.add(p)
                return p

    def build(kind, name, *, account_id=None, ctype, industry="", job="") -> Customer:
        phone = unique_mobile()
        has_email = rng.random() < 0.7
        full_pinyin = normalize.pinyin_full(name)
        latin = full_pinyin[:20] or "user"
        email = (
            f"{latin}{rng.randrange(10000)}@{rng.choice(['example.com', 'example.cn', 'mail.example.net'])}"
            if has_email
            else ""
        )
        owner = rng.choice(owners)
        c = Customer(
            kind=kind,
            name=name,
            account_id=account_id,
            customer_type=ctype,
            lifecycle_stage=rng.choice(stages),
            source=rng.choice(Source.values),
            owner_id=owner.pk,
            phone=phone,
            email=email,
            city=rng.choice(REGIONS),
            industry=industry,
            job_title=job,
            created_at=now - dt.timedelta(days=rng.randrange(1100), minutes=rng.randrange(1440)),
            updated_at=now,
        )
        c.name_key = normalize.name_key(name)
        c.name_pinyin = full_pinyin[:400]
        c.name_initials = normalize.pinyin_initials(name)[:100]
        c.search_text = keys.build_search_text(name=name, phones=[phone], emails=[email] if email else [])
        if rng.random() < 0.5:  # half of the customers opted in on their main channel
            c.consent = {
                ("email" if email else "sms"): {
                    "status": "granted",
                    "at": now.isoformat(),
                    "method": "web_form",
                }
            }
        return c

    tag_through = Customer.tags.through
    customer_fields = [
        "id",
        "kind",
        "name",
        "alias",
        "account",
        "parent",
        "customer_type",
        "lifecycle_stage",
        "source",
        "job_title",
        "industry",
        "website",
        "tax_id",
        "gender",
        "birthday",
        "age_band",
        "occupation",
        "income_band",
        "decision_driver",
        "feedback_strictness",
        "preferred_language",
        "phone",
        "email",
        "city",
        "notes",
        "consent",
        "merged_into",
        "name_key",
        "name_pinyin",
        "name_initials",
        "search_text",
        "owner",
        "custom",
        "created_at",
        "updated_at",
        "version",
    ]

    def flush(objs: list[Customer]) -> list[Customer]:
        ids = bulk.next_ids(Customer, len(objs))
        for c, pk in zip(objs, ids, strict=True):
            c.pk = pk
        bulk.insert_rows(
            Customer,
            customer_fields,
            (
                (
                    c.pk,
                    c.kind,
                    c.name,
                    "",
                    c.account_id,
                    None,
                    c.customer_type,
                    c.lifecycle_stage,
                    c.source,
                    c.job_title,
                    c.industry,
                    "",
                    "",
                    "",
                    None,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    c.phone,
                    c.email,
                    c.city,
                    "",
                    c.consent,
                    None,
                    c.name_key,
                    c.name_pinyin,
                    c.name_initials,
                    c.search_text,
                    c.owner_id,
                    {},
                    c.created_at,
                    now,
                    1,
                )
                for c in objs
            ),
        )
        bulk.insert_rows(
            CustomerPhone,
            ["customer", "kind", "number", "is_primary"],
            ((c.pk, "mobile", c.phone, True) for c in objs),
        )
        bulk.insert_rows(
            CustomerEmail,
            ["customer", "email", "label", "is_primary"],
            ((c.pk, c.email, "", True) for c in objs if c.email),
        )
        bulk.insert_rows(
            LifecycleChange,
            ["customer", "from_stage", "to_stage", "at", "reason"],
            ((c.pk, "", c.lifecycle_stage, now, "") for c in objs),
        )
        bulk.insert_rows(
            ConsentEvent,
            ["customer", "channel", "status", "method", "evidence", "at"],
            ((c.pk, channel, "granted", "web_form", "", now) for c in objs for channel in c.consent),
        )
        bulk.insert_rows(
            tag_through,
            ["customer", "tag"],
            ((c.pk, rng.choice(tags).pk) for c in objs if rng.random() < 0.2),
        )
        created_ids.extend(c.pk for c in objs)
        return objs

    org_ids: list[tuple[int, int]] = []  # (id, owner)
    pending: list[Customer] = []
    for i in range(n_org):
        if rng.random() < 0.8:
            name, industry = chinese_company(rng)
        else:
            name, industry = english_company(rng)
        ctype = rng.choice(
            [CustomerType.BUSINESS] * 5
            + [CustomerType.DISTRIBUTOR, CustomerType.RETAILER, CustomerType.WHOLESALER, CustomerType.PARTNER]
        )
        pending.append(build(Kind.ORGANIZATION, name, ctype=ctype, industry=industry))
        if len(pending) >= batch or i == n_org - 1:
            for c in flush(pending):
                org_ids.append((c.pk, c.owner_id))
            pending = []
    jobs = [
        "采购经理",
        "总经理",
        "技术总监",
        "财务主管",
        "Purchasing manager",
        "IT director",
        "工程师",
        "行政主管",
    ]
    for i in range(n_contact):
        account_id, owner_id = rng.choice(org_ids)
        name = chinese_person(rng) if rng.random() < 0.8 else english_person(rng)
        c = build(Kind.PERSON, name, account_id=account_id, ctype=CustomerType.BUSINESS, job=rng.choice(jobs))
        c.owner_id = owner_id  # contacts follow their account's owner
        pending.append(c)
        if len(pending) >= batch or i == n_contact - 1:
            flush(pending)
            pending = []
    for i in range(n_indiv):
        name = chinese_person(rng) if rng.random() < 0.85 else english_person(rng)
        pending.append(build(Kind.PERSON, name, ctype=CustomerType.CONSUMER))
        if len(pending) >= batch or i == n_indiv - 1:
            flush(pending)
            pending = []
    bulk.reset_sequences(Customer, CustomerPhone, CustomerEmail, LifecycleChange, ConsentEvent, tag_through)
    return created_ids
