"""Generated customers with every kind of data a segment rule reads, a plain-Python evaluation of the rules
over the same data (the oracle the compiled SQL is compared with), and a generator of random rule trees."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from kehu.analytics.models import CustomerScore, CustomerValue
from kehu.core.models import CustomField, Tag
from kehu.customers.models import Customer, CustomerAddress
from kehu.interactions.models import Interaction
from kehu.products.models import Product
from kehu.sales.models import Order, OrderLine

CHOICES = {
    "kind": ["organization", "person"],
    "customer_type": ["consumer", "retailer", "business"],
    "lifecycle_stage": ["prospect", "customer", "loyal", "churned"],
    "source": ["", "web", "referral", "campaign"],
    "gender": ["", "female", "male"],
    "income_band": ["", "low", "middle", "high"],
}
CITIES = ["", "北京", "上海", "Shenzhen", "shenzhen"]
PROVINCES = ["广东", "浙江", "江苏"]
INDUSTRIES = ["", "Retail", "retail goods", "制造", "IT Services"]
CHANNELS = ["email", "sms", "wechat"]
STATUSES = [None, "granted", "withdrawn"]
TIERS = ["gold", "silver", "bronze"]
RFM = ["champions", "loyal", "lost", "at_risk"]
VALUE = ["top", "core", "standard"]
INTERACTION_CHANNELS = ["call", "email", "visit", "note"]


@dataclass
class World:
    today: dt.date
    now: dt.datetime
    customers: dict[int, dict] = field(default_factory=dict)
    tags: list[int] = field(default_factory=list)
    products: list[int] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)


def build(rng: random.Random, owners, n: int = 60) -> World:
    today, now = timezone.localdate(), timezone.now()
    world = World(today=today, now=now, owners=[o.pk for o in owners])
    world.tags = [Tag.objects.create(name=f"tag{i}").pk for i in range(4)]
    world.products = [
        Product.objects.create(sku=f"SKU-{i}", name=f"产品 {i}", list_price=Decimal("10")).pk
        for i in range(3)
    ]
    for key, kind, extra in (
        ("tier", "choice", {"choices": TIERS}),
        ("score", "number", {}),
        ("renewal", "date", {}),
        ("vip", "boolean", {}),
        ("note", "text", {}),
    ):
        CustomField.objects.create(
            model="customers.customer", key=key, label=key.title(), field_type=kind, **extra
        )
    numbers = iter(range(1, 10_000))
    for i in range(n):
        rec: dict = {k: rng.choice(v) for k, v in CHOICES.items()}
        rec["name"] = f"{rng.choice(['Alpha', 'beta', '北京'])} 客户 {i}"
        rec["city"] = rng.choice(CITIES)
        rec["industry"] = rng.choice(INDUSTRIES)
        rec["birthday"] = rng.choice([None, today - dt.timedelta(days=rng.randint(7000, 20000))])
        rec["created_at"] = now - dt.timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 1400))
        owner = rng.choice([*world.owners, None])
        rec["owner"] = owner
        consent = {}
        for ch in CHANNELS:
            status = rng.choice(STATUSES)
            if status:
                consent[ch] = {"status": status, "method": "web_form", "at": now.isoformat()}
        rec["consent"] = consent
        custom: dict = {}
        if rng.random() < 0.7:
            custom["tier"] = rng.choice(TIERS)
        if rng.random() < 0.7:
            custom["score"] = rng.choice([0, 5, 10, 12.5, -3, 100])
        if rng.random() < 0.6:
            custom["renewal"] = (today + dt.timedelta(days=rng.randint(-400, 400))).isoformat()
        if rng.random() < 0.6:
            custom["vip"] = rng.random() < 0.5
        if rng.random() < 0.6:
            custom["note"] = rng.choice(["call back", "VIP client", "", "喜欢折扣"])
        rec["custom"] = custom
        c = Customer.objects.create(
            name=rec["name"],
            kind=rec["kind"],
            customer_type=rec["customer_type"],
            lifecycle_stage=rec["lifecycle_stage"],
            source=rec["source"],
            gender=rec["gender"],
            income_band=rec["income_band"],
            city=rec["city"],
            industry=rec["industry"],
            birthday=rec["birthday"],
            owner_id=owner,
            consent=consent,
            custom=custom,
        )
        Customer.objects.filter(pk=c.pk).update(created_at=rec["created_at"])
        rec["tags"] = set(rng.sample(world.tags, rng.randint(0, 3)))
        c.tags.set(rec["tags"])
        rec["addresses"] = []
        for _j in range(rng.randint(0, 2)):
            a = {"province": rng.choice(PROVINCES), "city": rng.choice(CITIES[1:])}
            CustomerAddress.objects.create(customer=c, street="路 1 号", **a)
            rec["addresses"].append(a)
        rec["lines"] = []
        for _j in range(rng.randint(0, 4)):
            day = today - dt.timedelta(days=rng.randint(0, 400))
            currency = "USD" if rng.random() < 0.1 else "CNY"
            counted = rng.random() > 0.15
            quantity = Decimal(-1 if rng.random() < 0.15 else rng.randint(1, 3))
            amount = Decimal(rng.choice([50, 120, 300, 1000])) * quantity
            product = rng.choice([*world.products, None])
            order = Order.objects.create(
                number=f"W{next(numbers):05d}", customer=c, order_date=day, currency=currency, owner_id=owner
            )
            OrderLine.objects.create(
                order=order,
                product_id=product,
                description="x",
                quantity=quantity,
                unit_price=Decimal(10),
                amount=amount,
                customer=c,
                order_date=day,
                currency=currency,
                counted=counted,
            )
            rec["lines"].append(
                {
                    "order": order.pk,
                    "day": day,
                    "currency": currency,
                    "counted": counted,
                    "quantity": quantity,
                    "amount": amount,
                    "product": product,
                }
            )
        rec["interactions"] = []
        for _j in range(rng.randint(0, 3)):
            at = now - dt.timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 23))
            direction = rng.choice(["in", "out", "internal"])
            channel = rng.choice(INTERACTION_CHANNELS)
            Interaction.objects.create(
                customer=c, account=c, channel=channel, direction=direction, subject="s", occurred_at=at
            )
            rec["interactions"].append({"at": at, "direction": direction, "channel": channel})
        rec["rfm"] = rec["value"] = rec["churn"] = None
        if rng.random() < 0.5:
            rec["rfm"] = rng.choice(RFM)
            CustomerScore.objects.create(
                customer=c, currency="CNY", first_purchase=today, last_purchase=today, recency_days=1,
                frequency=1, monetary=Decimal(1), r_score=1, f_score=1, m_score=1, segment=rec["rfm"],
                p_alive=0.5, expected_purchases=1, expected_spend=Decimal(1), clv=Decimal(1), computed_at=now,
            )  # fmt: skip
        if rng.random() < 0.5:
            rec["value"], rec["churn"] = rng.choice(VALUE), rng.choice([0.1, 0.5, 0.9])
            CustomerValue.objects.create(
                customer=c, segment=rec["value"], clv_rank=1, margin=Decimal(1), churn_risk=rec["churn"],
                churn_model="p_alive", computed_at=now,
            )  # fmt: skip
        world.customers[c.pk] = rec
    return world


# ------------------------------------------------------------------------------------------------ the oracle
def _num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _cmp(op, actual, value) -> bool:
    if op == "between":
        return value[0] <= actual <= value[1]
    return {
        "eq": actual == value,
        "ne": actual != value,
        "gt": actual > value,
        "gte": actual >= value,
        "lt": actual < value,
        "lte": actual <= value,
    }[op]


def _date_match(op, d, value, today) -> bool:
    if op == "is_empty":
        return d is None
    if op == "is_not_empty":
        return d is not None
    if d is None:
        return False
    if op == "on":
        return d == value
    if op == "before":
        return d < value
    if op == "after":
        return d > value
    if op == "between":
        return value[0] <= d <= value[1]
    if op == "within_last_days":
        return today - dt.timedelta(days=value) <= d <= today
    return d < today - dt.timedelta(days=value)  # more_than_days_ago


def _in_period(day, cond, today) -> bool:
    p = cond.get("period")
    if not p:
        return True
    if "last_days" in p:
        return today - dt.timedelta(days=p["last_days"]) <= day <= today
    start = dt.date.fromisoformat(p["from"]) if "from" in p else None
    end = dt.date.fromisoformat(p["to"]) if "to" in p else None
    return (start is None or day >= start) and (end is None or day <= end)


def _d(v):
    return dt.date.fromisoformat(v) if isinstance(v, str) else v


def condition(cond: dict, rec: dict, w: World) -> bool:
    f, op, value = cond["field"], cond["op"], cond.get("value")
    if f in CHOICES:
        v = rec[f]
        return {
            "eq": lambda: v == value,
            "ne": lambda: v != value,
            "in": lambda: v in value,
            "not_in": lambda: v not in value,
            "is_empty": lambda: v == "",
            "is_not_empty": lambda: v != "",
        }[op]()
    if f in {"city", "industry", "name"}:
        v = rec[f].lower()
        t = (value or "").lower()
        return {
            "eq": lambda: v == t,
            "ne": lambda: v != t,
            "contains": lambda: t in v,
            "not_contains": lambda: t not in v,
            "starts_with": lambda: v.startswith(t),
            "is_empty": lambda: v == "",
            "is_not_empty": lambda: v != "",
        }[op]()
    if f == "birthday":
        return _date_match(op, rec["birthday"], _dates(value), w.today)
    if f == "created_at":
        return _date_match(op, timezone.localtime(rec["created_at"]).date(), _dates(value), w.today)
    if f == "owner":
        o = rec["owner"]
        return {
            "in": lambda: o in value,
            "not_in": lambda: o not in value,
            "is_empty": lambda: o is None,
            "is_not_empty": lambda: o is not None,
        }[op]()
    if f == "tags":
        tags = rec["tags"]
        return {
            "has_any": lambda: bool(tags & set(value)),
            "has_all": lambda: set(value) <= tags,
            "has_none": lambda: not tags & set(value),
        }[op]()
    if f.startswith("consent."):
        status = (rec["consent"].get(f.split(".")[1]) or {}).get("status", "")
        return {
            "granted": status == "granted",
            "withdrawn": status == "withdrawn",
            "not_granted": status != "granted",
            "no_record": status == "",
        }[op]
    if f.startswith("region."):
        kind = f.split(".")[1]
        places = {a[kind] for a in rec["addresses"]}
        if kind == "city":
            places.add(rec["city"])
        hit = bool(places & set(value))
        return hit if op == "in" else not hit
    if f.startswith("custom."):
        return _custom(f.split(".", 1)[1], op, value, rec["custom"], w)
    purchases = [x for x in rec["lines"] if x["counted"] and x["quantity"] > 0]
    if f == "purchase.product":
        hit = any(x["product"] in value and _in_period(x["day"], cond, w.today) for x in purchases)
        return hit if op == "bought" else not hit
    if f == "purchase.spent":
        cur = cond.get("currency", "CNY")
        total = sum(
            (
                x["amount"]
                for x in rec["lines"]
                if x["counted"] and x["currency"] == cur and _in_period(x["day"], cond, w.today)
            ),
            Decimal(0),
        )
        return _cmp(op, total, _dec(value))
    if f == "purchase.orders":
        n = len({x["order"] for x in purchases if _in_period(x["day"], cond, w.today)})
        return _cmp(op, n, _dec(value))
    if f == "purchase.last":
        last = max((x["day"] for x in purchases), default=None)
        if op == "never":
            return last is None
        return _date_match(op, last, _dates(value), w.today)
    if f == "interaction.contact":
        start = w.now - dt.timedelta(days=value)
        hit = any(
            x["direction"] != "internal"
            and start <= x["at"] <= w.now
            and (not cond.get("channels") or x["channel"] in cond["channels"])
            for x in rec["interactions"]
        )
        return hit if op == "any_within_days" else not hit
    if f in {"analytics.rfm_segment", "analytics.value_segment"}:
        v = rec["rfm" if f.endswith("rfm_segment") else "value"]
        return {
            "in": lambda: v in value,
            "not_in": lambda: v not in value,
            "is_empty": lambda: v is None,
            "is_not_empty": lambda: v is not None,
        }[op]()
    if f == "analytics.churn_risk":
        v = rec["churn"]
        return v is not None and _cmp(op, Decimal(str(v)), _dec(value))
    raise AssertionError(f)


def _dec(value):
    if isinstance(value, list):
        return [Decimal(str(v)) for v in value]
    return Decimal(str(value))


def _dates(value):
    if isinstance(value, list):
        return [_d(v) for v in value]
    return _d(value)


def _custom(key, op, value, custom, w: World) -> bool:
    v = custom.get(key)
    present = key in custom and v is not None
    if key in {"tier", "note"}:
        text = v if isinstance(v, str) else ""
        t = value.lower() if isinstance(value, str) else value
        return {
            "eq": lambda: text == value,
            "ne": lambda: text != value,
            "in": lambda: present and v in value,
            "not_in": lambda: not (present and v in value),
            "contains": lambda: present and t in text.lower(),
            "not_contains": lambda: not (present and t in text.lower()),
            "starts_with": lambda: present and text.lower().startswith(t),
            "is_empty": lambda: text == "",
            "is_not_empty": lambda: text != "",
        }[op]()
    if key == "vip":
        return v is (op == "is_true")
    if op == "is_empty":
        return not present
    if op == "is_not_empty":
        return present
    if key == "score":
        if not _num(v):
            return op == "ne"
        return _cmp(op, Decimal(str(v)), _dec(value))
    if not isinstance(v, str):
        return False
    return _date_match(op, dt.date.fromisoformat(v), _dates(value), w.today)


def evaluate(definition: dict, w: World) -> set[int]:
    def node(n, rec) -> bool:
        if "field" in n:
            return condition(n, rec, w)
        results = [node(c, rec) for c in n.get("conditions", [])]
        return all(results) if n.get("match", "all") == "all" else any(results)

    result = set()
    for pk, rec in w.customers.items():
        if node(definition, rec) and not any(node(x, rec) for x in definition.get("exclude", [])):
            result.add(pk)
    return result


# ------------------------------------------------------------------------------------------------ generator
def random_condition(rng: random.Random, w: World) -> dict:
    today = w.today

    def day(lo=-400, hi=30):
        return (today + dt.timedelta(days=rng.randint(lo, hi))).isoformat()

    def dates_op():
        op = rng.choice(["on", "before", "after", "between", "within_last_days", "more_than_days_ago",
                         "is_empty", "is_not_empty"])  # fmt: skip
        if op in {"on", "before", "after"}:
            return op, day()
        if op == "between":
            a, b = sorted([day(), day()])
            return op, [a, b]
        if op in {"within_last_days", "more_than_days_ago"}:
            return op, rng.choice([0, 7, 30, 90, 365])
        return op, None

    def number_op(choices):
        op = rng.choice(["gt", "gte", "lt", "lte", "between"])
        if op == "between":
            return op, sorted(rng.sample(choices, 2))
        return op, rng.choice(choices)

    def period():
        r = rng.random()
        if r < 0.4:
            return None
        if r < 0.7:
            return {"last_days": rng.choice([30, 90, 365])}
        a, b = sorted([day(), day()])
        return rng.choice([{"from": a, "to": b}, {"from": a}, {"to": b}])

    kind = rng.choice(["choice", "text", "date", "owner", "tags", "consent", "region", "custom", "product",
                       "spent", "orders", "last", "contact", "analytics"])  # fmt: skip
    if kind == "choice":
        f = rng.choice(list(CHOICES))
        op = rng.choice(["eq", "ne", "in", "not_in", "is_empty", "is_not_empty"])
        values = [v for v in CHOICES[f] if v] or ["x"]
        value = rng.choice(values) if op in {"eq", "ne"} else rng.sample(values, rng.randint(1, len(values)))
        cond = {"field": f, "op": op, "value": value}
    elif kind == "text":
        f = rng.choice(["city", "industry", "name"])
        op = rng.choice(["eq", "ne", "contains", "not_contains", "starts_with", "is_empty", "is_not_empty"])
        cond = {
            "field": f,
            "op": op,
            "value": rng.choice(["shenzhen", "Retail", "北京", "ALPHA", "客户 1", "ser"]),
        }
    elif kind == "date":
        op, value = dates_op()
        f = rng.choice(["birthday", "created_at"])
        if f == "created_at" and op in {"is_empty", "is_not_empty"}:
            op, value = "before", day()
        if f == "birthday" and op not in {"is_empty", "is_not_empty"} and rng.random() < 0.7:
            value = (today - dt.timedelta(days=rng.randint(7000, 20000))).isoformat() if op != "between" else [
                (today - dt.timedelta(days=15000)).isoformat(), (today - dt.timedelta(days=9000)).isoformat()]  # fmt: skip
            if op in {"within_last_days", "more_than_days_ago"}:
                value = rng.choice([9000, 15000])
        cond = {"field": f, "op": op, "value": value}
    elif kind == "owner":
        op = rng.choice(["in", "not_in", "is_empty", "is_not_empty"])
        cond = {"field": "owner", "op": op, "value": rng.sample(w.owners, rng.randint(1, len(w.owners)))}
    elif kind == "tags":
        cond = {"field": "tags", "op": rng.choice(["has_any", "has_all", "has_none"]),
                "value": rng.sample(w.tags, rng.randint(1, 3))}  # fmt: skip
    elif kind == "consent":
        cond = {"field": f"consent.{rng.choice(CHANNELS)}",
                "op": rng.choice(["granted", "withdrawn", "not_granted", "no_record"])}  # fmt: skip
    elif kind == "region":
        f = rng.choice(["region.province", "region.city"])
        pool = PROVINCES if f.endswith("province") else CITIES[1:]
        cond = {"field": f, "op": rng.choice(["in", "not_in"]), "value": rng.sample(pool, rng.randint(1, 2))}
    elif kind == "custom":
        key = rng.choice(["tier", "score", "renewal", "vip", "note"])
        if key == "tier":
            op = rng.choice(["eq", "ne", "in", "not_in", "is_empty", "is_not_empty"])
            value = rng.choice(TIERS) if op in {"eq", "ne"} else rng.sample(TIERS, 2)
        elif key == "note":
            op = rng.choice(
                ["eq", "ne", "contains", "not_contains", "starts_with", "is_empty", "is_not_empty"]
            )
            value = rng.choice(["call back", "vip", "折扣", "CALL"])
        elif key == "score":
            op = rng.choice(["eq", "ne", "gt", "gte", "lt", "lte", "between", "is_empty", "is_not_empty"])
            value = (
                sorted(rng.sample([0, 5, 10, 12.5, -3], 2))
                if op == "between"
                else rng.choice([0, 5, 10, 12.5])
            )
        elif key == "renewal":
            op, value = dates_op()
        else:
            op, value = rng.choice(["is_true", "is_false"]), None
        cond = {"field": f"custom.{key}", "op": op, "value": value}
    elif kind == "product":
        cond = {"field": "purchase.product", "op": rng.choice(["bought", "not_bought"]),
                "value": rng.sample(w.products, rng.randint(1, 2))}  # fmt: skip
        if p := period():
            cond["period"] = p
    elif kind in {"spent", "orders"}:
        op, value = number_op([0, 100, 300, 1000, 2500] if kind == "spent" else [0, 1, 2, 3])
        cond = {"field": f"purchase.{kind}", "op": op, "value": value}
        if p := period():
            cond["period"] = p
        if kind == "spent" and rng.random() < 0.2:
            cond["currency"] = "USD"
    elif kind == "last":
        op, value = dates_op()
        if op in {"is_empty", "is_not_empty"}:
            op, value = "never", None
        cond = {"field": "purchase.last", "op": op, "value": value}
    elif kind == "contact":
        cond = {"field": "interaction.contact", "op": rng.choice(["none_within_days", "any_within_days"]),
                "value": rng.choice([1, 30, 90, 180])}  # fmt: skip
        if rng.random() < 0.4:
            cond["channels"] = rng.sample(INTERACTION_CHANNELS, 2)
    else:
        f = rng.choice(["analytics.rfm_segment", "analytics.value_segment", "analytics.churn_risk"])
        if f == "analytics.churn_risk":
            op, value = number_op([0.1, 0.5, 0.9])
        else:
            op = rng.choice(["in", "not_in", "is_empty", "is_not_empty"])
            pool = RFM if "rfm" in f else VALUE
            value = rng.sample(pool, rng.randint(1, 2))
        cond = {"field": f, "op": op, "value": value}
    if cond.get("value") is None:
        cond.pop("value", None)
    return cond


def random_tree(rng: random.Random, w: World, depth: int = 0) -> dict:
    items = []
    for _i in range(rng.randint(1, 3)):
        if depth < 2 and rng.random() < 0.3:
            items.append(random_tree(rng, w, depth + 1))
        else:
            items.append(random_condition(rng, w))
    node: dict = {"match": rng.choice(["all", "any"]), "conditions": items}
    if depth == 0 and rng.random() < 0.3:
        node["exclude"] = [random_condition(rng, w) for _i in range(rng.randint(1, 2))]
    return node
