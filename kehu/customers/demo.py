"""Demo customers: bilingual accounts with contacts and individual consumers, fast (bulk inserts).

Deterministic for a given random.Random; ~100k customers in well under a minute on SQLite.
"""

from __future__ import annotations

import datetime as dt
import importlib
import random
from contextlib import contextmanager

import zhconv
from django.db import connection, transaction
from django.utils import timezone

from kehu.core import bulk
from kehu.core.models import Tag

from . import keys, normalize
from .models import (
    AgeBand,
    ConsentEvent,
    Customer,
    CustomerAddress,
    CustomerEmail,
    CustomerPhone,
    CustomerType,
    DecisionDriver,
    FeedbackStrictness,
    IncomeBand,
    Kind,
    LifecycleChange,
    SocialIdentity,
    Source,
    Stage,
)

AGE_BANDS = AgeBand.values
INCOME_BANDS = IncomeBand.values
DRIVERS = DecisionDriver.values
STRICTNESS = FeedbackStrictness.values

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
PROVINCES = {
    "北京": ("北京市", ["朝阳区", "海淀区", "东城区"]),
    "上海": ("上海市", ["浦东新区", "徐汇区", "静安区"]),
    "广州": ("广东省", ["天河区", "越秀区", "番禺区"]),
    "深圳": ("广东省", ["南山区", "福田区", "宝安区"]),
    "杭州": ("浙江省", ["西湖区", "滨江区", "余杭区"]),
    "南京": ("江苏省", ["鼓楼区", "玄武区", "江宁区"]),
    "苏州": ("江苏省", ["姑苏区", "工业园区", "吴中区"]),
    "成都": ("四川省", ["武侯区", "锦江区", "高新区"]),
    "武汉": ("湖北省", ["江汉区", "武昌区", "洪山区"]),
    "西安": ("陕西省", ["雁塔区", "碑林区", "未央区"]),
    "天津": ("天津市", ["和平区", "南开区", "滨海新区"]),
    "重庆": ("重庆市", ["渝中区", "江北区", "南岸区"]),
}
ROADS = [
    "人民路",
    "中山路",
    "建设路",
    "解放路",
    "科技园路",
    "创业大道",
    "滨江路",
    "长安街",
    "新华路",
    "文化路",
]
OCCUPATIONS = [
    "教师",
    "工程师",
    "医生",
    "公务员",
    "个体经营",
    "学生",
    "退休",
    "设计师",
    "销售",
    "会计",
    "程序员",
]
CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # the alphabet of unified social credit codes
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


def chinese_company(rng: random.Random) -> tuple[str, str, tuple[str, str, str, str]]:
    """(name, English industry, (region, core, Chinese industry, legal form))."""
    region = rng.choice(REGIONS)
    core = rng.choice(CORES) + rng.choice(CORES)[0]
    zh_ind, en_ind = rng.choice(INDUSTRY)
    suffix = rng.choice(SUFFIXES)
    return f"{region}{core}{zh_ind}{suffix}", en_ind, (region, core, zh_ind, suffix)


def credit_code(rng: random.Random) -> str:
    """A unified social credit code shaped like a real one (18 characters, 91 = enterprise)."""
    return "91" + f"{rng.randrange(110000, 659999):06d}" + "".join(rng.choices(CREDIT_CODE_CHARS, k=10))


def pinyin_words(name: str) -> str:
    """张伟 → Zhang Wei (how a Chinese customer's name is often typed a second time)."""
    from pypinyin import lazy_pinyin

    syllables = lazy_pinyin(name)
    if not syllables:
        return name
    return " ".join([syllables[0].capitalize(), "".join(syllables[1:]).capitalize()]).strip()


def english_company(rng: random.Random) -> tuple[str, str]:
    zh_ind, en_ind = rng.choice(INDUSTRY)
    return f"{rng.choice(COMPANY_EN)} {en_ind} {rng.choice(COMPANY_EN_SUFFIX)}", en_ind


def mobile(rng: random.Random) -> str:
    return "+86" + rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


@contextmanager
def _search_index_rebuilt_once():
    """SQLite: index the search text of a bulk insert in one pass at the end instead of row by row through
    the FTS trigger (100k customers: 50 s → 36 s). The trigger is the one migration 0002 installed; inside the
    caller's transaction, so a failure leaves it in place."""
    if connection.vendor != "sqlite":
        yield
        return
    fts = importlib.import_module("kehu.customers.migrations.0013_search_restricted")
    trigger = next(sql for sql in fts.SQLITE if "CREATE TRIGGER customers_customer_fts_ai" in sql)
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS customers_customer_fts_ai")
    yield
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO customers_customer_fts(customers_customer_fts) VALUES ('rebuild')")
        cursor.execute(trigger)


def seed_customers(*, count: int, owners: list, rng: random.Random, batch: int = 5000) -> list[int]:
    """Create `count` customers (see _insert_customers) in one transaction."""
    with transaction.atomic(), _search_index_rebuilt_once():
        return _insert_customers(count=count, owners=owners, rng=rng, batch=batch)


def _insert_customers(*, count: int, owners: list, rng: random.Random, batch: int) -> list[int]:
    """Create `count` customers: ~35% organisations (a few of them branch offices of others), ~40% their
    contacts, ~25% individual consumers, and ~1% records entered a second time in another form
    (traditional characters, pinyin, reordered company names) for the duplicate review to find."""
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

    used_handles: set[str] = set()

    def unique_handle() -> str:
        while True:
            h = "wxid_" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=10))
            if h not in used_handles:
                used_handles.add(h)
                return h

    def rekey(c: Customer) -> None:
        c.name_key = normalize.name_key(c.name)
        c.name_pinyin = normalize.pinyin_full(c.name)[:400]
        c.name_initials = normalize.pinyin_initials(c.name)[:100]
        c.search_text, c.search_restricted = keys.build_bags(
            name=c.name,
            alias=c.alias,
            phones=[c.phone] if c.phone else [],
            emails=[c.email] if c.email else [],
            tax_id=c.tax_id,
            handles=[c.wechat],
        )

    def segment(c: Customer) -> None:
        """The segmentation attributes of SPEC §1 (mostly known for consumers, sometimes left blank)."""
        latin = c.name.isascii()
        c.preferred_language = "en" if latin else "zh-hans"
        if rng.random() < 0.85:
            c.age_band = rng.choice(AGE_BANDS)
            c.gender = rng.choice(["female", "male"])
        if c.customer_type == CustomerType.CONSUMER:
            if rng.random() < 0.8:
                c.occupation = rng.choice(OCCUPATIONS)
                c.income_band = rng.choice(INCOME_BANDS)
            if rng.random() < 0.75:
                c.decision_driver = rng.choice(DRIVERS)
                c.feedback_strictness = rng.choice(STRICTNESS)
            if rng.random() < 0.3:
                c.birthday = dt.date(rng.randrange(1955, 2005), rng.randrange(1, 13), rng.randrange(1, 29))
        if rng.random() < 0.3:
            c.wechat = unique_handle()

    def build(kind, name, *, account_id=None, ctype, industry="", job="", keyed=True) -> Customer:
        """A customer ready to insert; keyed=False when the caller changes more and calls rekey() itself."""
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
        c.wechat = ""
        c.address = None
        if kind == Kind.PERSON:
            segment(c)
            if ctype == CustomerType.CONSUMER and rng.random() < 0.25:
                c.address = ("home", c.city)
        elif rng.random() < 0.6:
            c.address = ("office", c.city)
        if rng.random() < 0.5:  # half of the customers opted in on their main channel
            c.consent = {
                ("email" if email else "sms"): {
                    "status": "granted",
                    "at": now.isoformat(),
                    "method": "web_form",
                }
            }
        if keyed:
            rekey(c)
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
        "search_restricted",
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
                    c.alias,
                    c.account_id,
                    c.parent_id,
                    c.customer_type,
                    c.lifecycle_stage,
                    c.source,
                    c.job_title,
                    c.industry,
                    c.website,
                    c.tax_id,
                    c.gender,
                    c.birthday,
                    c.age_band,
                    c.occupation,
                    c.income_band,
                    c.decision_driver,
                    c.feedback_strictness,
                    c.preferred_language,
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
                    c.search_restricted,
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
            SocialIdentity,
            ["customer", "network", "handle"],
            ((c.pk, "wechat", c.wechat) for c in objs if c.wechat),
        )
        bulk.insert_rows(
            CustomerAddress,
            [
                "customer",
                "kind",
                "country",
                "province",
                "city",
                "district",
                "street",
                "postal_code",
                "is_primary",
            ],
            (
                (
                    c.pk,
                    c.address[0],
                    "CN",
                    PROVINCES[c.address[1]][0],
                    c.address[1],
                    district,
                    f"{rng.choice(ROADS)}{rng.randrange(1, 999)}号",
                    f"{rng.randrange(100000, 860000):06d}",
                    True,
                )
                for c in objs
                if c.address and (district := rng.choice(PROVINCES[c.address[1]][1]))
            ),
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
    zh_orgs: list[tuple[int, int, str, tuple]] = []  # (id, owner, name, parts): heads of branches, twins
    n_branch = n_org // 20
    n_twin = max(3, count // 100) if count >= 50 else 0
    pending: list[Customer] = []

    def company_type() -> str:
        return rng.choice(
            [CustomerType.BUSINESS] * 5
            + [CustomerType.DISTRIBUTOR, CustomerType.RETAILER, CustomerType.WHOLESALER, CustomerType.PARTNER]
        )

    def flush_orgs() -> None:
        nonlocal pending
        for c in flush(pending):
            org_ids.append((c.pk, c.owner_id))
            if c.parts and len(zh_orgs) < 5000:
                zh_orgs.append((c.pk, c.owner_id, c.name, c.parts))
        pending = []

    for i in range(n_org - n_branch):
        parts = None
        if rng.random() < 0.8:
            name, industry, parts = chinese_company(rng)
        else:
            name, industry = english_company(rng)
        c = build(Kind.ORGANIZATION, name, ctype=company_type(), industry=industry, keyed=False)
        c.parts = parts
        c.tax_id = credit_code(rng) if parts else ""
        if parts and rng.random() < 0.4:
            c.alias = f"{normalize.pinyin_full(parts[1]).capitalize()} {industry} Co., Ltd."
        if rng.random() < 0.5:
            slug = normalize.pinyin_full(parts[1] + parts[2]) if parts else name.split()[0].lower()
            c.website = f"https://www.{slug}.example.{'cn' if parts else 'com'}"
        rekey(c)
        pending.append(c)
        if len(pending) >= batch or i == n_org - n_branch - 1:
            flush_orgs()
    for i in range(n_branch if zh_orgs else 0):
        # a branch office: 北京华信科技有限公司上海分公司, under its head office, same account owner
        head_id, head_owner, head_name, parts = rng.choice(zh_orgs)
        city = rng.choice([r for r in REGIONS if r != parts[0]])
        c = build(Kind.ORGANIZATION, f"{head_name}{city}分公司", ctype=CustomerType.BUSINESS, industry="")
        c.parts, c.parent_id, c.owner_id, c.city = None, head_id, head_owner, city
        if c.address:
            c.address = ("office", city)
        pending.append(c)
        if len(pending) >= batch or i == n_branch - 1:
            flush_orgs()
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

    def twin(original: Customer | None) -> Customer:
        """The same customer entered again, the way it happens: a company under a reordered name, a person
        in traditional characters with the same mobile, or in pinyin with the same email."""
        if original is None:
            if not zh_orgs:
                return build(Kind.PERSON, chinese_person(rng), ctype=CustomerType.CONSUMER)
            _id, owner, _name, (region, core, zh_ind, suffix) = rng.choice(zh_orgs)
            c = build(
                Kind.ORGANIZATION,
                f"{core}{zh_ind}（{region}）{suffix}",
                ctype=CustomerType.BUSINESS,
                keyed=False,
            )
            c.owner_id = owner
        elif rng.random() < 0.5 and zhconv.convert(original.name, "zh-hant") != original.name:
            c = build(
                Kind.PERSON,
                zhconv.convert(original.name, "zh-hant"),
                ctype=CustomerType.CONSUMER,
                keyed=False,
            )
            c.phone = original.phone  # same mobile, typed in traditional characters by a Hong Kong agent
        else:
            c = build(Kind.PERSON, pinyin_words(original.name), ctype=CustomerType.CONSUMER, keyed=False)
            # the same email typed in capitals: stored normalised, as every write path does
            c.email = normalize.normalize_email(original.email.upper()) if original.email else c.email
        c.source = Source.WEB
        c.created_at = now - dt.timedelta(days=rng.randrange(30))
        rekey(c)
        return c

    consumers: list[Customer] = []  # a sample of Chinese consumers, the originals of the twins below
    for i in range(n_indiv - n_twin):
        name = chinese_person(rng) if rng.random() < 0.85 else english_person(rng)
        pending.append(build(Kind.PERSON, name, ctype=CustomerType.CONSUMER))
        if len(pending) >= batch or i == n_indiv - n_twin - 1:
            consumers.extend(c for c in flush(pending) if not c.name.isascii() and len(consumers) < 5000)
            pending = []
    for i in range(n_twin):
        pending.append(twin(rng.choice(consumers) if i % 3 and consumers else None))
        if len(pending) >= batch or i == n_twin - 1:
            flush(pending)
            pending = []
    bulk.reset_sequences(
        Customer,
        CustomerPhone,
        CustomerEmail,
        CustomerAddress,
        SocialIdentity,
        LifecycleChange,
        ConsentEvent,
        tag_through,
    )
    return created_ids
