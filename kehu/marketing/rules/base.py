"""Segment rules: the building blocks — limits, operators, the field registry and value validation."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.access import Access

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
    #: the fields rules may use, by key (None: the customer fields of segments, ``FIELDS`` and the customer
    #: custom fields). Workflow rules (kehu.automation) pass the fields of their record type here, so one tree
    #: format, one validator and one compiler serve every model.
    fields: dict[str, RuleField] | None = None

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
