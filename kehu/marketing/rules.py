"""Segment rules: a JSON tree of AND/OR groups with exclusions, validated and compiled to one query.

A definition (``Segment.definition``)::

    {"match": "all" | "any",                 # AND / OR of the conditions
     "conditions": [<condition or group>, ...],
     "exclude": [<condition or group>, ...]} # customers matching any of these are left out

    group     = {"match": "all" | "any", "conditions": [...]}        (nested up to MAX_DEPTH)
    condition = {"field": "lifecycle_stage", "op": "in", "value": ["customer", "loyal"]}
                 + "period": {"last_days": 90} | {"from": "2026-01-01", "to": "2026-03-31"}  (purchase fields)
                 + "currency": "CNY"                                                          (spent)
                 + "channels": ["call", "visit"]                                              (contact)

``compile_rules(definition, access=...)`` validates the whole tree (every error with its path, e.g.
``conditions[2].value: …``) and returns one ``Q`` over ``Customer``: related data (tags, addresses, order
lines, interactions, scores) enters through ``Exists`` / ``IN (SELECT …)`` subqueries, so a count or a
snapshot is one SQL statement whatever the number of customers — no per-customer Python.

The fields are a registry (``FIELDS``; ``register_field`` for other apps, e.g. the campaign engine's
"opened campaign C"). Each field says which operators it takes, how a value is validated and compiled, and
whether the acting user may use it: a field hidden for the user's role — or data the role may not see at all
(orders, interactions) — is refused, since a rule over it would reveal its values through the count (ADR 0012).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q, Sum, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.access import Access
from kehu.core.models import CustomFieldType, Tag, User
from kehu.customers import models as cm

MAX_DEPTH = 5
MAX_CONDITIONS = 100
MAX_LIST = 500
MAX_TEXT = 200
MAX_DAYS = 36_500
MAX_JSON = 50_000  # characters of the serialised definition

MATCHES = ("all", "any")

OP_LABELS = {
    "eq": gettext_lazy("is"),
    "ne": gettext_lazy("is not"),
    "in": gettext_lazy("is any of"),
    "not_in": gettext_lazy("is none of"),
    "contains": gettext_lazy("contains"),
    "not_contains": gettext_lazy("does not contain"),
    "starts_with": gettext_lazy("starts with"),
    "is_empty": gettext_lazy("is empty"),
    "is_not_empty": gettext_lazy("is not empty"),
    "gt": gettext_lazy("more than"),
    "gte": gettext_lazy("at least"),
    "lt": gettext_lazy("less than"),
    "lte": gettext_lazy("at most"),
    "between": gettext_lazy("between"),
    "on": gettext_lazy("on"),
    "before": gettext_lazy("before"),
    "after": gettext_lazy("after"),
    "within_last_days": gettext_lazy("in the last N days"),
    "more_than_days_ago": gettext_lazy("more than N days ago"),
    "is_true": gettext_lazy("is yes"),
    "is_false": gettext_lazy("is no"),
    "has_any": gettext_lazy("has any of"),
    "has_all": gettext_lazy("has all of"),
    "has_none": gettext_lazy("has none of"),
    "granted": gettext_lazy("granted"),
    "withdrawn": gettext_lazy("withdrawn"),
    "no_record": gettext_lazy("never asked"),
    "not_granted": gettext_lazy("not granted"),
    "bought": gettext_lazy("bought"),
    "not_bought": gettext_lazy("did not buy"),
    "never": gettext_lazy("never"),
    "none_within_days": gettext_lazy("no contact in the last N days"),
    "any_within_days": gettext_lazy("contacted in the last N days"),
}

# value kinds per operator family
CHOICE_OPS = ("eq", "ne", "in", "not_in", "is_empty", "is_not_empty")
TEXT_OPS = ("eq", "ne", "contains", "not_contains", "starts_with", "is_empty", "is_not_empty")
NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "between", "is_empty", "is_not_empty")
DATE_OPS = (
    "on",
    "before",
    "after",
    "between",
    "within_last_days",
    "more_than_days_ago",
    "is_empty",
    "is_not_empty",
)
AMOUNT_OPS = ("gt", "gte", "lt", "lte", "between")
NO_VALUE = {"is_empty", "is_not_empty", "is_true", "is_false", "granted", "withdrawn", "no_record",
            "not_granted", "never"}  # fmt: skip
DAY_OPS = {"within_last_days", "more_than_days_ago", "none_within_days", "any_within_days"}


class RuleError(ValidationError):
    """Invalid rules: ``messages`` lists every problem with its path in the definition."""


@dataclass
class Context:
    """What a compilation knows: the acting user's access (None = the system: every field allowed) and
    "today" (the local date when compiled: relative periods move with it)."""

    access: Access | None
    today: dt.date
    now: dt.datetime
    errors: list[str] = field(default_factory=list)
    conditions: int = 0

    def error(self, path: str, message) -> None:
        self.errors.append(f"{path}: {message}" if path else str(message))


@dataclass(frozen=True)
class RuleField:
    key: str
    label: Promise | str
    group: Promise | str
    kind: str  # choice | text | number | date | tags | consent | region | product | amount | purchase_date | contact | bool
    ops: tuple[str, ...]
    #: (cond, ctx, path) -> normalised value (errors reported on ctx); None for the kind's default
    build: Callable[[dict, Context], Q]
    choices: Callable[[], list[tuple[str, str]]] | None = None
    #: (access) -> reason the user may not use the field, or None
    refuse: Callable[[Access], str | None] | None = None
    #: extra keys the condition may carry
    extras: tuple[str, ...] = ()


FIELDS: dict[str, RuleField] = {}


def register_field(rule_field: RuleField) -> None:
    FIELDS[rule_field.key] = rule_field


# ------------------------------------------------------------------------------------------------ helpers
def _hidden(model, name: str) -> Callable[[Access], str | None]:
    def refuse(access: Access) -> str | None:
        if name in access.hidden_fields(model):
            return _("the field is hidden for your role")
        return None

    return refuse


def _needs_view(label: str, hidden: tuple[tuple[str, str], ...] = ()) -> Callable[[Access], str | None]:
    def refuse(access: Access) -> str | None:
        if not access.can("view", label):
            return _("your role may not see this data")
        for model, name in hidden:
            if name in access.hidden_fields(model):
                return _("the field is hidden for your role")
        return None

    return refuse


def _as_text(value, ctx: Context, path: str) -> str | None:
    if not isinstance(value, str):
        ctx.error(path, _("Enter a text."))
        return None
    value = value.strip()
    if len(value) > MAX_TEXT or "\x00" in value:
        ctx.error(path, _("At most %(n)d characters.") % {"n": MAX_TEXT})
        return None
    return value


def _as_list(value, ctx: Context, path: str, item: Callable) -> list | None:
    if not isinstance(value, list) or not value:
        ctx.error(path, _("Choose at least one value."))
        return None
    if len(value) > MAX_LIST:
        ctx.error(path, _("At most %(n)d values.") % {"n": MAX_LIST})
        return None
    result = []
    for i, v in enumerate(value):
        cleaned = item(v, ctx, f"{path}[{i}]")
        if cleaned is None:
            return None
        result.append(cleaned)
    return list(dict.fromkeys(result))


def _as_number(value, ctx: Context, path: str) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        ctx.error(path, _("Enter a number."))
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        ctx.error(path, _("Enter a number."))
        return None
    if not number.is_finite() or abs(number) >= Decimal("1e15"):
        ctx.error(path, _("Enter a number."))
        return None
    return number


def _as_int(value, ctx: Context, path: str, low: int = 0, high: int = MAX_DAYS) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        ctx.error(path, _("Enter a whole number."))
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        ctx.error(path, _("Enter a whole number."))
        return None
    if not low <= number <= high:
        ctx.error(path, _("Enter a number from %(low)d to %(high)d.") % {"low": low, "high": high})
        return None
    return number


def _as_date(value, ctx: Context, path: str) -> dt.date | None:
    if not isinstance(value, str):
        ctx.error(path, _("Enter a date as YYYY-MM-DD."))
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        ctx.error(path, _("Enter a date as YYYY-MM-DD."))
        return None


def _pair(value, ctx: Context, path: str, item: Callable):
    if not isinstance(value, list) or len(value) != 2:
        ctx.error(path, _("Enter two values: from and to."))
        return None
    low, high = item(value[0], ctx, f"{path}[0]"), item(value[1], ctx, f"{path}[1]")
    if low is None or high is None:
        return None
    if low > high:
        ctx.error(path, _("The first value must not be after the second."))
        return None
    return low, high


def _choice_item(choices: Callable[[], list[tuple[str, str]]]):
    def item(value, ctx: Context, path: str):
        allowed = {str(c) for c, _label in choices()}
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value) not in allowed:
            shown = ", ".join(sorted(allowed)[:20])
            ctx.error(path, _("Unknown value %(v)s; choose one of: %(c)s") % {"v": _short(value), "c": shown})
            return None
        return str(value)

    return item


def _short(value) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "…"


def _date_q(lookup: str, op: str, value, ctx: Context) -> Q:
    """Date comparisons on a (nullable) date lookup; NULL never matches except `is_empty`."""
    if op == "on":
        return Q(**{lookup: value})
    if op == "before":
        return Q(**{f"{lookup}__lt": value})
    if op == "after":
        return Q(**{f"{lookup}__gt": value})
    if op == "between":
        return Q(**{f"{lookup}__gte": value[0], f"{lookup}__lte": value[1]})
    if op == "within_last_days":
        return Q(**{f"{lookup}__gte": ctx.today - dt.timedelta(days=value), f"{lookup}__lte": ctx.today})
    if op == "more_than_days_ago":
        return Q(**{f"{lookup}__lt": ctx.today - dt.timedelta(days=value)})
    if op == "is_empty":
        return Q(**{f"{lookup}__isnull": True})
    return Q(**{f"{lookup}__isnull": False})


def _value_for(rf: RuleField, cond: dict, ctx: Context, path: str):
    """The condition's value, validated for its field and operator (None with an error recorded)."""
    op = cond["op"]
    raw = cond.get("value")
    vpath = f"{path}.value"
    if op in NO_VALUE:
        return True
    if op in DAY_OPS:
        return _as_int(raw, ctx, vpath, 0 if op != "none_within_days" else 1)
    kind = rf.kind
    if kind in {"choice", "region"}:
        item = _choice_item(rf.choices) if rf.choices else _as_text
        return _as_list(raw, ctx, vpath, item) if op in {"in", "not_in"} else item(raw, ctx, vpath)
    if kind == "text":
        return _as_text(raw, ctx, vpath)
    if kind in {"number", "amount"}:
        return _pair(raw, ctx, vpath, _as_number) if op == "between" else _as_number(raw, ctx, vpath)
    if kind in {"date", "purchase_date"}:
        return _pair(raw, ctx, vpath, _as_date) if op == "between" else _as_date(raw, ctx, vpath)
    if kind in {"tags", "product", "owner"}:
        return _as_list(raw, ctx, vpath, rf.choices_item) if hasattr(rf, "choices_item") else None
    ctx.error(vpath, _("Unsupported value."))
    return None


# ------------------------------------------------------------------------------------------------ fields
CUSTOMER = gettext_lazy("Customer")
CONSENT = gettext_lazy("Consent")
PURCHASES = gettext_lazy("Purchases")
INTERACTIONS = gettext_lazy("Interactions")
ANALYTICS = gettext_lazy("Analytics")
CUSTOM = gettext_lazy("Custom fields")

CHOICE_FIELDS = ("kind", "customer_type", "lifecycle_stage", "source", "gender", "age_band", "income_band",
                 "decision_driver", "feedback_strictness", "preferred_language")  # fmt: skip
TEXT_FIELDS = ("name", "city", "industry", "occupation", "job_title", "email", "phone", "external_id")
DATE_FIELDS = ("birthday", "source_created_on")


def _model_choices(name: str) -> Callable[[], list[tuple[str, str]]]:
    def choices() -> list[tuple[str, str]]:
        return [(str(c), str(label)) for c, label in cm.Customer._meta.get_field(name).choices]

    return choices


def _choice_build(name: str):
    def build(cond: dict, ctx: Context) -> Q:
        op, value = cond["op"], cond.get("value")
        if op == "eq":
            return Q(**{name: value})
        if op == "ne":
            return ~Q(**{name: value})
        if op == "in":
            return Q(**{f"{name}__in": value})
        if op == "not_in":
            return ~Q(**{f"{name}__in": value})
        return Q(**{name: ""}) if op == "is_empty" else ~Q(**{name: ""})

    return build


def _text_build(name: str):
    def build(cond: dict, ctx: Context) -> Q:
        op, value = cond["op"], cond.get("value")
        if op == "eq":
            return Q(**{f"{name}__iexact": value})
        if op == "ne":
            return ~Q(**{f"{name}__iexact": value})
        if op == "contains":
            return Q(**{f"{name}__icontains": value})
        if op == "not_contains":
            return ~Q(**{f"{name}__icontains": value})
        if op == "starts_with":
            return Q(**{f"{name}__istartswith": value})
        return Q(**{name: ""}) if op == "is_empty" else ~Q(**{name: ""})

    return build


def _date_build(lookup: str):
    def build(cond: dict, ctx: Context) -> Q:
        return _date_q(lookup, cond["op"], cond.get("value"), ctx)

    return build


def _customer_fields() -> None:
    meta = cm.Customer._meta
    for name in CHOICE_FIELDS:
        register_field(
            RuleField(
                name,
                meta.get_field(name).verbose_name,
                CUSTOMER,
                "choice",
                CHOICE_OPS,
                _choice_build(name),
                choices=_model_choices(name),
                refuse=_hidden(cm.Customer, name),
            )
        )
    for name in TEXT_FIELDS:
        register_field(
            RuleField(
                name,
                meta.get_field(name).verbose_name,
                CUSTOMER,
                "text",
                TEXT_OPS,
                _text_build(name),
                refuse=_hidden(cm.Customer, name),
            )
        )
    for name in DATE_FIELDS:
        register_field(
            RuleField(
                name,
                meta.get_field(name).verbose_name,
                CUSTOMER,
                "date",
                DATE_OPS,
                _date_build(name),
                refuse=_hidden(cm.Customer, name),
            )
        )
    register_field(
        RuleField(
            "created_at",
            gettext_lazy("created on"),
            CUSTOMER,
            "date",
            tuple(o for o in DATE_OPS if o not in {"is_empty", "is_not_empty"}),
            _date_build("created_at__date"),
        )
    )


class IdListField(RuleField):
    """A field whose value is a list of record ids (tags, products, owners), checked to exist."""

    def choices_item(self, value, ctx: Context, path: str):
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
            ctx.error(path, _("Unknown value %(v)s") % {"v": _short(value)})
            return None
        number = int(value)
        if number > 2**62:
            ctx.error(path, _("Unknown value %(v)s") % {"v": _short(value)})
            return None
        return number


def _exists_ids(ids: list[int], model, field_name: str, ctx: Context, path: str) -> bool:
    found = set(model._default_manager.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        ctx.error(path, _("Unknown %(what)s: %(ids)s") % {"what": field_name, "ids": _short(missing)})
        return False
    return True


def _tags_build(cond: dict, ctx: Context) -> Q:
    through = cm.Customer.tags.through
    op, ids = cond["op"], cond["value"]

    def has(tag_ids) -> Exists:
        return Exists(through.objects.filter(customer_id=OuterRef("pk"), tag_id__in=tag_ids))

    if op == "has_any":
        return Q(has(ids))
    if op == "has_none":
        return ~Q(has(ids))
    q = Q()
    for tag_id in ids:
        q &= Q(has([tag_id]))
    return q


def _owner_build(cond: dict, ctx: Context) -> Q:
    op, ids = cond["op"], cond.get("value")
    if op == "in":
        return Q(owner_id__in=ids)
    if op == "not_in":
        return Q(owner_id__isnull=True) | ~Q(owner_id__in=ids)
    return Q(owner_id__isnull=True) if op == "is_empty" else Q(owner_id__isnull=False)


def _consent_status(channel: str):
    return Coalesce(KT(f"consent__{channel}__status"), Value(""), output_field=TextField())


def _consent_build(channel: str):
    def build(cond: dict, ctx: Context) -> Q:
        op = cond["op"]
        status = _consent_status(channel)
        if op == "granted":
            return Q(Exact(status, cm.ConsentStatus.GRANTED))
        if op == "withdrawn":
            return Q(Exact(status, cm.ConsentStatus.WITHDRAWN))
        if op == "not_granted":
            return ~Q(Exact(status, cm.ConsentStatus.GRANTED))
        return Q(Exact(status, ""))  # no_record

    return build


def _region_build(kind: str):
    def build(cond: dict, ctx: Context) -> Q:
        op, values = cond["op"], cond["value"]
        addresses = cm.CustomerAddress.objects.filter(customer_id=OuterRef("pk"))
        if kind == "province":
            q = Q(Exists(addresses.filter(province__in=values)))
        else:
            q = Q(city__in=values) | Q(Exists(addresses.filter(city__in=values)))
        return q if op == "in" else ~q

    return build


def _custom_build(key: str, field_type: str):
    """Custom values live in the `custom` JSON column. A missing key makes a JSON comparison NULL, and NULL
    inside NOT (an exclusion, "is not") would drop the row; so every comparison is AND-ed with `present` (the
    key exists and is not JSON null), which is never NULL, and the result is always true or false."""
    path = f"custom__{key}"

    def build(cond: dict, ctx: Context) -> Q:
        op, value = cond["op"], cond.get("value")
        present = Q(**{f"{path}__isnull": False}) & ~Q(**{path: None})
        if field_type in {CustomFieldType.TEXT, CustomFieldType.CHOICE}:
            text = Coalesce(KT(path), Value(""), output_field=TextField())
            if op in {"eq", "ne"}:
                q = Q(Exact(text, value))
                return q if op == "eq" else ~q
            if op in {"in", "not_in"}:
                q = present & Q(**{f"{path}__in": value})
                return q if op == "in" else ~q
            if op in {"contains", "not_contains"}:
                q = present & Q(**{f"{path}__icontains": value})
                return q if op == "contains" else ~q
            if op == "starts_with":
                return present & Q(**{f"{path}__istartswith": value})
            empty = Q(Exact(text, ""))
            return empty if op == "is_empty" else ~empty
        if field_type == CustomFieldType.BOOLEAN:
            return present & Q(**{path: op == "is_true"})
        if op == "is_empty":
            return ~present
        if op == "is_not_empty":
            return present
        if field_type == CustomFieldType.NUMBER:
            # only numbers compare: jsonb orders null < strings < numbers < booleans, SQLite numbers < text
            typed = present & Q(**{f"{path}__gte": -1e18, f"{path}__lte": 1e18})
            conv = lambda v: int(v) if v == v.to_integral_value() else float(v)  # noqa: E731
            if op == "between":
                return typed & Q(**{f"{path}__gte": conv(value[0]), f"{path}__lte": conv(value[1])})
            if op == "eq":
                return typed & Q(**{path: conv(value)})
            if op == "ne":
                return ~(typed & Q(**{path: conv(value)}))
            return typed & Q(**{f"{path}__{op}": conv(value)})
        # dates are ISO strings: compare as text within the date range of strings
        typed = present & Q(**{f"{path}__gte": "0000-01-01", f"{path}__lte": "9999-12-31"})
        iso = lambda d: d.isoformat()  # noqa: E731
        if op == "on":
            return typed & Q(**{path: iso(value)})
        if op == "before":
            return typed & Q(**{f"{path}__lt": iso(value)})
        if op == "after":
            return typed & Q(**{f"{path}__gt": iso(value)})
        if op == "between":
            return typed & Q(**{f"{path}__gte": iso(value[0]), f"{path}__lte": iso(value[1])})
        start = iso(ctx.today - dt.timedelta(days=value))
        if op == "within_last_days":
            return typed & Q(**{f"{path}__gte": start, f"{path}__lte": iso(ctx.today)})
        return typed & Q(**{f"{path}__lt": start})

    return build


CUSTOM_OPS = {
    CustomFieldType.TEXT: TEXT_OPS,
    CustomFieldType.CHOICE: ("eq", "ne", "in", "not_in", "is_empty", "is_not_empty"),
    CustomFieldType.NUMBER: NUMBER_OPS,
    CustomFieldType.DATE: DATE_OPS,
    CustomFieldType.BOOLEAN: ("is_true", "is_false"),
}
CUSTOM_KINDS = {
    CustomFieldType.TEXT: "text",
    CustomFieldType.CHOICE: "choice",
    CustomFieldType.NUMBER: "number",
    CustomFieldType.DATE: "date",
    CustomFieldType.BOOLEAN: "bool",
}


def custom_fields() -> list[RuleField]:
    """The active custom fields of customers as rule fields ("custom.<key>")."""
    from kehu.core import customfields

    result = []
    for d in customfields.definitions(cm.Customer):
        result.append(
            RuleField(
                f"custom.{d.key}",
                d.label,
                CUSTOM,
                CUSTOM_KINDS.get(d.field_type, "text"),
                CUSTOM_OPS.get(d.field_type, TEXT_OPS),
                _custom_build(d.key, d.field_type),
                choices=(lambda d=d: [(c, c) for c in d.choices])
                if d.field_type == CustomFieldType.CHOICE
                else None,
                refuse=_hidden(cm.Customer, "custom"),
            )
        )
    return result


# purchase history (kehu.sales order lines: counted lines with a positive quantity are purchases)
def _period(cond: dict, ctx: Context, path: str):
    raw = cond.get("period")
    if raw in (None, {}):
        return None
    if not isinstance(raw, dict) or set(raw) - {"last_days", "from", "to"}:
        ctx.error(f"{path}.period", _('Use {"last_days": N} or {"from": date, "to": date}.'))
        return None
    if "last_days" in raw:
        if set(raw) != {"last_days"}:
            ctx.error(f"{path}.period", _('Use {"last_days": N} or {"from": date, "to": date}.'))
            return None
        days = _as_int(raw["last_days"], ctx, f"{path}.period.last_days", 1)
        return None if days is None else {"last_days": days}
    result = {}
    for key in ("from", "to"):
        if raw.get(key) not in (None, ""):
            d = _as_date(raw[key], ctx, f"{path}.period.{key}")
            if d is None:
                return None
            result[key] = d
    if "from" in result and "to" in result and result["from"] > result["to"]:
        ctx.error(f"{path}.period", _("The first value must not be after the second."))
        return None
    return result or None


def _period_filter(period, ctx: Context) -> Q:
    if not period:
        return Q()
    if "last_days" in period:
        return Q(
            order_date__gte=ctx.today - dt.timedelta(days=period["last_days"]), order_date__lte=ctx.today
        )
    q = Q()
    if "from" in period:
        q &= Q(order_date__gte=period["from"])
    if "to" in period:
        q &= Q(order_date__lte=period["to"])
    return q


def _purchases(ctx: Context, cond: dict | None = None):
    from kehu.sales.models import OrderLine

    lines = OrderLine.objects.filter(counted=True, quantity__gt=0)
    if cond is not None:
        lines = lines.filter(_period_filter(cond.get("period"), ctx))
    return lines


def _product_build(cond: dict, ctx: Context) -> Q:
    q = Q(Exists(_purchases(ctx, cond).filter(customer_id=OuterRef("pk"), product_id__in=cond["value"])))
    return q if cond["op"] == "bought" else ~q


def _compare(op: str, value):
    """(lookup suffix, value) pairs of a comparison, and whether zero satisfies it."""
    if op == "between":
        pairs = [("gte", value[0]), ("lte", value[1])]
    else:
        pairs = [(op, value)]
    zero = Decimal(0)
    checks = {"gt": zero.__gt__, "gte": zero.__ge__, "lt": zero.__lt__, "lte": zero.__le__, "eq": zero.__eq__}
    zero_ok = all(checks[suffix](v) for suffix, v in pairs)
    return pairs, zero_ok


def _aggregate_build(aggregate):
    """Spent / number of orders over a period: customers without purchases count as 0. Compiled as a
    semi-join on the per-customer aggregate (`pk IN (SELECT customer_id … GROUP BY … HAVING …)`), or its
    anti-join when 0 satisfies the comparison."""

    def build(cond: dict, ctx: Context) -> Q:
        lines = _purchases(ctx, cond) if aggregate == "orders" else _spend_lines(ctx, cond)
        pairs, zero_ok = _compare(cond["op"], cond["value"])
        grouped = lines.order_by().values("customer_id")
        grouped = grouped.annotate(
            total=Sum("amount") if aggregate == "spent" else Count("order_id", distinct=True)
        )
        if zero_ok:  # those whose total fails the comparison are out; the rest (incl. non-buyers) in
            failing = Q()
            for suffix, v in pairs:
                failing |= ~Q(**{f"total__{suffix}": v})
            return ~Q(pk__in=grouped.filter(failing).values("customer_id"))
        matching = grouped
        for suffix, v in pairs:
            matching = matching.filter(**{f"total__{suffix}": v})
        return Q(pk__in=matching.values("customer_id"))

    return build


def _spend_lines(ctx: Context, cond: dict):
    """Net spend: every counted line (returns are negative lines) in the period and currency."""
    from kehu.sales.models import OrderLine

    currency = cond.get("currency") or settings.KEHU_ANALYTICS["CURRENCY"]
    return OrderLine.objects.filter(counted=True, currency=currency).filter(
        _period_filter(cond.get("period"), ctx)
    )


def _last_purchase_build(cond: dict, ctx: Context) -> Q:
    op, value = cond["op"], cond.get("value")
    any_purchase = Q(Exists(_purchases(ctx).filter(customer_id=OuterRef("pk"))))

    def since(day: dt.date, strict: bool = False) -> Q:
        lookup = "order_date__gt" if strict else "order_date__gte"
        return Q(Exists(_purchases(ctx).filter(customer_id=OuterRef("pk"), **{lookup: day})))

    if op == "never":
        return ~any_purchase
    if op == "before":
        return any_purchase & ~since(value)
    if op == "after":
        return since(value, strict=True)
    if op == "on":
        return any_purchase & since(value) & ~since(value, strict=True)
    if op == "between":
        return since(value[0]) & ~since(value[1], strict=True)
    if op == "within_last_days":
        return since(ctx.today - dt.timedelta(days=value))
    return any_purchase & ~since(ctx.today - dt.timedelta(days=value))  # more_than_days_ago


def _contact_build(cond: dict, ctx: Context) -> Q:
    from kehu.interactions.models import Direction, Interaction

    start = ctx.now - dt.timedelta(days=cond["value"])
    contacts = Interaction.objects.filter(
        customer_id=OuterRef("pk"), occurred_at__gte=start, occurred_at__lte=ctx.now
    ).exclude(direction=Direction.INTERNAL)
    if cond.get("channels"):
        contacts = contacts.filter(channel__in=cond["channels"])
    q = Q(Exists(contacts))
    return q if cond["op"] == "any_within_days" else ~q


def _score_build(model_path: str, attr: str):
    def build(cond: dict, ctx: Context) -> Q:
        from django.apps import apps

        model = apps.get_model(model_path)
        op, value = cond["op"], cond.get("value")
        rows = model.objects.filter(customer_id=OuterRef("pk"))
        if op in {"is_empty", "is_not_empty"}:
            q = Q(Exists(rows))
            return ~q if op == "is_empty" else q
        if op in {"in", "not_in"}:
            q = Q(Exists(rows.filter(**{f"{attr}__in": value})))
            return q if op == "in" else ~q
        if op == "between":
            return Q(Exists(rows.filter(**{f"{attr}__gte": value[0], f"{attr}__lte": value[1]})))
        return Q(Exists(rows.filter(**{f"{attr}__{op}": value})))

    return build


def _other_fields() -> None:
    register_field(
        IdListField(
            "tags",
            gettext_lazy("tags"),
            CUSTOMER,
            "tags",
            ("has_any", "has_all", "has_none"),
            _tags_build,
            choices=lambda: [(str(pk), name) for pk, name in Tag.objects.values_list("pk", "name")],
            refuse=_hidden(cm.Customer, "tags"),
        )
    )
    register_field(
        IdListField(
            "owner",
            gettext_lazy("owner"),
            CUSTOMER,
            "owner",
            ("in", "not_in", "is_empty", "is_not_empty"),
            _owner_build,
            choices=lambda: [
                (str(u.pk), str(u)) for u in User.objects.filter(is_active=True).order_by("username")
            ],
            refuse=_hidden(cm.Customer, "owner"),
        )
    )
    for channel, label in cm.Channel.choices:
        register_field(
            RuleField(
                f"consent.{channel}",
                label,
                CONSENT,
                "consent",
                ("granted", "withdrawn", "not_granted", "no_record"),
                _consent_build(channel),
                refuse=_hidden(cm.Customer, "consent"),
            )
        )
    region_refuse = _hidden(cm.Customer, "city")
    register_field(
        RuleField(
            "region.province",
            gettext_lazy("province"),
            CUSTOMER,
            "region",
            ("in", "not_in"),
            _region_build("province"),
        )
    )
    register_field(
        RuleField(
            "region.city",
            gettext_lazy("city (customer or any address)"),
            CUSTOMER,
            "region",
            ("in", "not_in"),
            _region_build("city"),
            refuse=region_refuse,
        )
    )
    orders = "sales.order"
    register_field(
        IdListField(
            "purchase.product",
            gettext_lazy("product bought"),
            PURCHASES,
            "product",
            ("bought", "not_bought"),
            _product_build,
            refuse=_needs_view(orders, (("sales.orderline", "product"),)),
            extras=("period",),
        )
    )
    register_field(
        RuleField(
            "purchase.spent",
            gettext_lazy("amount spent"),
            PURCHASES,
            "amount",
            AMOUNT_OPS,
            _aggregate_build("spent"),
            refuse=_needs_view(orders, (("sales.orderline", "amount"), ("sales.order", "net_amount"))),
            extras=("period", "currency"),
        )
    )
    register_field(
        RuleField(
            "purchase.orders",
            gettext_lazy("number of orders"),
            PURCHASES,
            "amount",
            AMOUNT_OPS,
            _aggregate_build("orders"),
            refuse=_needs_view(orders),
            extras=("period",),
        )
    )
    register_field(
        RuleField(
            "purchase.last",
            gettext_lazy("last purchase"),
            PURCHASES,
            "purchase_date",
            ("before", "after", "on", "between", "within_last_days", "more_than_days_ago", "never"),
            _last_purchase_build,
            refuse=_needs_view(orders),
        )
    )
    register_field(
        RuleField(
            "interaction.contact",
            gettext_lazy("contact"),
            INTERACTIONS,
            "contact",
            ("none_within_days", "any_within_days"),
            _contact_build,
            refuse=_needs_view("interactions.interaction"),
            extras=("channels",),
        )
    )
    from kehu.analytics.models import CustomerScore, CustomerValue, ValueSegment
    from kehu.analytics.rfm import Segment as RfmSegment

    register_field(
        RuleField(
            "analytics.rfm_segment",
            gettext_lazy("RFM segment"),
            ANALYTICS,
            "choice",
            ("in", "not_in", "is_empty", "is_not_empty"),
            _score_build("analytics.CustomerScore", "segment"),
            choices=lambda: [(str(c), str(label)) for c, label in RfmSegment.choices],
            refuse=_hidden(CustomerScore, "segment"),
        )
    )
    register_field(
        RuleField(
            "analytics.value_segment",
            gettext_lazy("value segment"),
            ANALYTICS,
            "choice",
            ("in", "not_in", "is_empty", "is_not_empty"),
            _score_build("analytics.CustomerValue", "segment"),
            choices=lambda: [(str(c), str(label)) for c, label in ValueSegment.choices],
            refuse=_hidden(CustomerValue, "segment"),
        )
    )
    register_field(
        RuleField(
            "analytics.churn_risk",
            gettext_lazy("churn risk (0–1)"),
            ANALYTICS,
            "number",
            ("gt", "gte", "lt", "lte", "between"),
            _score_build("analytics.CustomerValue", "churn_risk"),
            refuse=_hidden(CustomerValue, "churn_risk"),
        )
    )


def register_builtin_fields() -> None:
    """Called once from the app's registration (models are loaded by then)."""
    _customer_fields()
    _other_fields()


# ------------------------------------------------------------------------------------------------ compile
def available_fields(access: Access | None) -> list[RuleField]:
    """The fields a user may use in rules (what the builder offers), custom fields included."""
    result = []
    for rf in [*FIELDS.values(), *custom_fields()]:
        if access is not None and rf.refuse is not None and rf.refuse(access):
            continue
        result.append(rf)
    return result


def _lookup_field(key, ctx: Context, path: str) -> RuleField | None:
    if not isinstance(key, str) or not key:
        ctx.error(f"{path}.field", _("Choose a field."))
        return None
    if key.startswith("custom."):
        found = next((rf for rf in custom_fields() if rf.key == key), None)
    else:
        found = FIELDS.get(key)
    if found is None:
        ctx.error(f"{path}.field", _("Unknown field %(f)s.") % {"f": _short(key)})
        return None
    if ctx.access is not None and found.refuse is not None:
        reason = found.refuse(ctx.access)
        if reason:
            ctx.error(
                f"{path}.field",
                _("You may not use %(f)s in rules: %(reason)s.") % {"f": found.label, "reason": reason},
            )
            return None
    return found


def _condition(node: dict, ctx: Context, path: str) -> tuple[dict, Q] | None:
    allowed = {"field", "op", "value", "period", "currency", "channels"}
    unknown = sorted(set(node) - allowed)
    if unknown:
        ctx.error(path, _("Unknown keys: %(k)s") % {"k": ", ".join(map(str, unknown))[:100]})
        return None
    rf = _lookup_field(node.get("field"), ctx, path)
    if rf is None:
        return None
    op = node.get("op")
    if not isinstance(op, str) or op not in rf.ops:
        ctx.error(
            f"{path}.op",
            _("Unknown operator %(op)s for %(f)s; use one of: %(ops)s")
            % {"op": _short(op), "f": rf.label, "ops": ", ".join(rf.ops)},
        )
        return None
    for extra in ("period", "currency", "channels"):
        if extra in node and extra not in rf.extras:
            ctx.error(f"{path}.{extra}", _("%(f)s takes no %(x)s.") % {"f": rf.label, "x": extra})
            return None
    value = _value_for(rf, {"op": op, "value": node.get("value")}, ctx, path)
    if value is None:
        return None
    clean: dict = {"field": rf.key, "op": op}
    if op not in NO_VALUE:
        clean["value"] = value
    if rf.kind in {"tags", "product", "owner"} and op not in NO_VALUE:
        from kehu.products.models import Product

        model = {"tags": Tag, "product": Product, "owner": User}[rf.kind]
        if not _exists_ids(value, model, str(rf.label), ctx, f"{path}.value"):
            return None
    if "period" in rf.extras:
        period = _period(node, ctx, path)
        if node.get("period") not in (None, {}) and period is None:
            return None
        if period:
            clean["period"] = period
    if "currency" in node and node["currency"] not in (None, ""):
        currency = node["currency"]
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
            ctx.error(f"{path}.currency", _("Use a three-letter currency code such as CNY or USD."))
            return None
        clean["currency"] = currency.upper()
    if "channels" in node and node["channels"] not in (None, []):
        from kehu.interactions.models import InteractionChannel

        item = _choice_item(lambda: InteractionChannel.choices)
        channels = _as_list(node["channels"], ctx, f"{path}.channels", item)
        if channels is None:
            return None
        clean["channels"] = channels
    return clean, rf.build(clean, ctx)


def _group(node, ctx: Context, path: str, depth: int, root: bool = False) -> tuple[dict, Q] | None:
    if not isinstance(node, dict):
        ctx.error(path, _("Expected an object."))
        return None
    if "field" in node:
        if root:
            ctx.error(path, _("The rules must be a group."))
            return None
        ctx.conditions += 1
        if ctx.conditions > MAX_CONDITIONS:
            if ctx.conditions == MAX_CONDITIONS + 1:
                ctx.error(path, _("At most %(n)d conditions.") % {"n": MAX_CONDITIONS})
            return None
        return _condition(node, ctx, path)
    if depth > MAX_DEPTH:
        ctx.error(path, _("Groups nest at most %(n)d deep.") % {"n": MAX_DEPTH})
        return None
    keys = {"match", "conditions", "exclude"} if root else {"match", "conditions"}
    unknown = sorted(set(node) - keys)
    if unknown:
        ctx.error(path, _("Unknown keys: %(k)s") % {"k": ", ".join(map(str, unknown))[:100]})
        return None
    match = node.get("match", "all")
    if match not in MATCHES:
        ctx.error(f"{path}.match" if path else "match", _('Use "all" or "any".'))
        return None
    clean: dict = {"match": match, "conditions": []}
    combined: Q | None = None
    for name in ("conditions", "exclude") if root else ("conditions",):
        items = node.get(name, [])
        if not isinstance(items, list):
            ctx.error(f"{path}.{name}" if path else name, _("Expected a list."))
            return None
        clean[name] = []
        part: Q | None = None
        for i, child in enumerate(items):
            child_path = f"{path}.{name}[{i}]" if path else f"{name}[{i}]"
            result = _group(child, ctx, child_path, depth + 1)
            if result is None:
                continue
            clean[name].append(result[0])
            if name == "exclude":
                part = result[1] if part is None else part | result[1]
            elif part is None:
                part = result[1]
            else:
                part = part & result[1] if match == "all" else part | result[1]
        if name == "conditions":
            combined = part if part is not None else (Q() if match == "all" else Q(pk__in=[]))
        elif part is not None:
            combined = (combined or Q()) & ~part
    if root and not clean.get("exclude"):
        clean.pop("exclude", None)
    return clean, combined if combined is not None else Q()


def parse_definition(raw) -> dict:
    """A definition from JSON text or an object (RuleError when it is not one)."""
    if isinstance(raw, str):
        if len(raw) > MAX_JSON:
            raise RuleError([_("The rules are too long.")])
        try:
            raw = json.loads(raw or "{}")
        except (ValueError, RecursionError):
            raise RuleError([_("The rules are not valid JSON.")]) from None
    if not isinstance(raw, dict):
        raise RuleError([_("The rules must be a group.")])
    return raw


def compile_rules(definition, *, user=None, access: Access | None = None) -> tuple[dict, Q]:
    """Validate ``definition`` for ``user`` (None: the system, every field allowed) and compile it.
    Returns (the normalised definition, a Q over Customer). RuleError lists every problem found."""
    definition = parse_definition(definition)
    if access is None and user is not None:
        access = Access.of(user)
    ctx = Context(access=access, today=timezone.localdate(), now=timezone.now())
    try:
        if len(json.dumps(definition, default=str)) > MAX_JSON:
            raise RuleError([_("The rules are too long.")])
    except (ValueError, RecursionError):
        raise RuleError([_("The rules are not valid JSON.")]) from None
    result = _group(definition, ctx, "", 0, root=True)
    if ctx.errors or result is None:
        raise RuleError(ctx.errors or [_("The rules are not valid.")])
    return result


def jsonable(definition: dict) -> dict:
    """The normalised definition as stored (dates and decimals as JSON)."""

    def convert(v):
        if isinstance(v, dict):
            return {k: convert(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [convert(x) for x in v]
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() else float(v)
        return v

    return convert(definition)


def builder_schema(access: Access | None) -> dict:
    """What the rule builder page needs: fields by group with operators, value kinds and choices."""
    from kehu.interactions.models import InteractionChannel
    from kehu.products.models import Product

    products = [
        {"value": str(pk), "label": f"{name} ({sku})"}
        for pk, name, sku in Product.objects.filter(active=True)
        .order_by("name")
        .values_list("pk", "name", "sku")[:500]
    ]
    fields = []
    for rf in available_fields(access):
        choices = None
        if rf.kind == "product":
            choices = products
        elif rf.choices:
            choices = [{"value": str(v), "label": str(label)} for v, label in rf.choices()]
        fields.append(
            {
                "key": rf.key,
                "label": str(rf.label),
                "group": str(rf.group),
                "kind": rf.kind,
                "ops": [{"key": o, "label": str(OP_LABELS.get(o, o))} for o in rf.ops],
                "choices": choices,
                "extras": list(rf.extras),
            }
        )
    return {
        "fields": fields,
        "no_value": sorted(NO_VALUE),
        "day_ops": sorted(DAY_OPS),
        "channels": [{"value": str(v), "label": str(label)} for v, label in InteractionChannel.choices],
    }
