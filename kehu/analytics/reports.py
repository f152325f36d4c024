"""The report builder's engine: a report specification, checked against what the reader may see, compiled to
one aggregate query over the reader's records.

    spec = parse_spec({"model": "sales.orderline",
                       "group_by": [{"field": "order_date", "bucket": "month"},
                                    {"field": "customer__analytics_score__segment"}],
                       "measures": [{"agg": "sum", "field": "amount"}, {"agg": "count"}],
                       "filters": [{"field": "counted", "op": "eq", "value": true}],
                       "chart": "bar"}, user=user)
    result = run(spec, user=user)        # {"groups": [...], "measures": [...], "rows": [...], "pivot": ...}
    drill_queryset(spec, ["2026-03-01", "champions"], user=user)   # the records behind one cell

Rules (ADR 0009, ADR 0011):
- **Scope**: every query starts from `kehu.core.selectors.scoped`, so a report covers what its *reader* may
  see; a shared or e-mailed report is run for each reader with their own scope.
- **Field rights**: the field catalogue of a model, for a reader, leaves out every field hidden from them on
  any model the path crosses, and relations into models they may not view; a specification naming anything
  outside the catalogue (unknown, hidden, another model's field) is refused with a message, so a hidden field
  can be neither shown, grouped, measured nor filtered on (a filter is an oracle for its value).
- **One query**: group-bys and measures compile to one `GROUP BY` statement (`values().annotate()`); nothing is
  computed per record in Python. The pivot table is laid out from the grouped rows.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from dataclasses import dataclass, field
from functools import reduce

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import Avg, Case, Count, F, Q, Sum, Value, When
from django.db.models.functions import Cast, NullIf, Trunc
from django.db.models.sql.constants import INNER
from django.db.models.sql.datastructures import Join
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import registry
from kehu.core.access import Access
from kehu.core.selectors import scoped

from .models_reports import ChartType
from .reports_summary import SummaryWithLines, compile_summary

BUCKETS = {
    "day": gettext_lazy("Day"),
    "week": gettext_lazy("Week"),
    "month": gettext_lazy("Month"),
    "quarter": gettext_lazy("Quarter"),
    "year": gettext_lazy("Year"),
}
AGGREGATES = {
    "count": gettext_lazy("Count"),
    "sum": gettext_lazy("Sum"),
    "avg": gettext_lazy("Average"),
    "distinct": gettext_lazy("Distinct count"),
}
OPERATORS = {
    "eq": "exact",
    "ne": "exact",
    "gt": "gt",
    "gte": "gte",
    "lt": "lt",
    "lte": "lte",
    "in": "in",
    "contains": "icontains",
    "isnull": "isnull",
}
OPERATOR_LABELS = {
    "eq": "=",
    "ne": "≠",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "in": gettext_lazy("one of"),
    "contains": gettext_lazy("contains"),
    "isnull": gettext_lazy("is empty"),
}
MAX_GROUPS = 3  # the pivot table: the first group down, the others (combined) across
MAX_MEASURES = 4
MAX_FILTERS = 10
MAX_ROWS = 1000  # grouped rows returned; more are cut off and the result says so
NULL = "__null__"  # a drill-down key for "no value"

#: models whose records everybody signed in may name (a colleague, a department): shown as a relation's title
DIRECTORY = {"core.user", "core.department", "core.team"}
#: fields never offered (internal or derived search data)
SKIP_FIELDS = {"custom", "password", "version", "last_login"}
TITLE_FIELDS = ("name", "display_name", "title", "number", "username", "code")
NUMBER_FIELDS = (models.IntegerField, models.DecimalField, models.FloatField)


class ReportError(ValueError):
    """A specification that cannot run; `messages` say why, one sentence each (400 in the API)."""

    def __init__(self, messages: list[str]):
        self.messages = [str(m) for m in messages]
        super().__init__("; ".join(self.messages))


@dataclass(frozen=True)
class FieldInfo:
    path: str
    label: str
    kind: str  # number, date, datetime, text, choice, bool, relation, hierarchy, region
    field: models.Field
    choices: tuple = ()
    title: str | None = None  # relation: the path of the related record's title
    custom: str | None = None  # a custom field (an11): its type; `path` is `…custom__<key>`

    def expression(self):
        """The value as an SQL expression: the column, or a custom field's JSON value cast to its type."""
        if self.custom is None:
            return F(self.path)
        return _custom_expression(self.path, self.custom)


@dataclass
class Group:
    info: FieldInfo
    bucket: str | None = None
    level: int | None = None

    @property
    def label(self) -> str:
        if self.bucket:
            return f"{self.info.label} ({BUCKETS[self.bucket]})"
        if self.level:
            return f"{self.info.label} ({_('level %(n)s') % {'n': self.level}})"
        return self.info.label

    def as_dict(self) -> dict:
        d: dict = {"field": self.info.path}
        if self.bucket:
            d["bucket"] = self.bucket
        if self.level:
            d["level"] = self.level
        return d


@dataclass
class Measure:
    agg: str
    info: FieldInfo | None = None

    @property
    def key(self) -> str:
        return "count" if self.info is None else f"{self.agg}__{self.info.path}"

    @property
    def label(self) -> str:
        if self.info is None:
            return str(_("Number of records"))
        return f"{AGGREGATES[self.agg]}: {self.info.label}"

    def as_dict(self) -> dict:
        return {"agg": self.agg} if self.info is None else {"agg": self.agg, "field": self.info.path}


@dataclass
class Filter:
    info: FieldInfo
    op: str
    value: object
    raw: object = None

    def q(self) -> Q:
        lookup = f"{self.info.path}__{OPERATORS[self.op]}"
        cond = Q(**{lookup: self.value})
        return ~cond if self.op == "ne" else cond

    def as_dict(self) -> dict:
        return {"field": self.info.path, "op": self.op, "value": self.raw}


@dataclass
class Spec:
    model: type[models.Model]
    groups: list[Group] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    chart: str = ChartType.BAR

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    def as_dict(self) -> dict:
        return {
            "model": self.label,
            "group_by": [g.as_dict() for g in self.groups],
            "measures": [m.as_dict() for m in self.measures],
            "filters": [f.as_dict() for f in self.filters],
            "chart": self.chart,
        }


# ------------------------------------------------------------------------------------------------ catalogue
def report_models(*, user) -> list[registry.SecuredModel]:
    """The record types a user may report on: registered models they may view (administration models aside)."""
    access = Access.of(user)
    entries = [
        e for e in registry.all_models() if not e.label.startswith("core.") and access.can("view", e.label)
    ]
    return sorted(entries, key=lambda e: str(e.verbose_name))


def _kind(f: models.Field) -> str | None:
    if f.many_to_many or f.one_to_many or isinstance(f, models.JSONField | models.FileField):
        return None
    if f.is_relation:
        return "relation" if f.many_to_one or f.one_to_one else None
    if f.choices:
        return "choice"
    if isinstance(f, models.BooleanField):
        return "bool"
    if isinstance(f, models.DateTimeField):
        return "datetime"
    if isinstance(f, models.DateField):
        return "date"
    if isinstance(f, NUMBER_FIELDS) and not isinstance(f, models.AutoField):
        return "number"
    if isinstance(f, models.CharField | models.TextField):
        return "text"
    return None


def _title(model, access: Access) -> str | None:
    hidden = access.hidden_fields(model)
    for name in TITLE_FIELDS:
        try:
            model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if name not in hidden:
            return name
    return None


def _reachable(model, access: Access) -> bool:
    label = model._meta.label_lower
    return label in DIRECTORY or (registry.get(label) is not None and access.can("view", label))


def _fields_of(model, access: Access) -> list[tuple[models.Field, str]]:
    hidden = access.hidden_fields(model)
    result = []
    for f in model._meta.get_fields():
        if not getattr(f, "concrete", False) or f.primary_key or f.name in SKIP_FIELDS:
            continue
        if f.name.startswith("search") or f.name in hidden:
            continue
        kind = _kind(f)
        if kind is None:
            continue
        result.append((f, kind))
    return result


def _add(cat: dict, path: str, label: str, f: models.Field, kind: str, access: Access) -> None:
    if kind == "relation":
        related = f.related_model
        if not _reachable(related, access):
            return
        title = _title(related, access)
        cat[path] = FieldInfo(path, label, kind, f, title=f"{path}__{title}" if title else None)
    elif kind == "choice":
        cat[path] = FieldInfo(path, label, kind, f, choices=tuple((k, str(v)) for k, v in f.flatchoices))
    else:
        cat[path] = FieldInfo(path, label, kind, f)


def _cap(text) -> str:
    text = str(text)
    return text[:1].upper() + text[1:]


def _segment(cat: dict, prefix: str, label_prefix: str, access: Access) -> None:
    """The RFM segment of a customer (analytics.customerscore) as a dimension of customers and what has one."""
    from .models import CustomerScore

    if "segment" in access.hidden_fields(CustomerScore) or not access.can("view", CustomerScore):
        return
    f = CustomerScore._meta.get_field("segment")
    _add(
        cat, f"{prefix}analytics_score__segment", f"{label_prefix}{_cap(f.verbose_name)}", f, "choice", access
    )


#: custom field type → report kind (an11)
CUSTOM_KINDS = {"text": "text", "choice": "choice", "number": "number", "date": "date", "boolean": "bool"}


def _custom_expression(path: str, field_type: str):
    """A custom field's value (the record's `custom` JSON, key `path`) as text, a number, a date or a boolean, on
    SQLite and PostgreSQL alike."""
    from django.db.models.fields.json import KeyTextTransform

    column, key = path.rsplit("__", 1)  # `KT("customer__custom__k")` would read "customer" as the JSON column
    if field_type == "boolean":
        return Case(
            When(**{path: True}, then=Value(True)),
            When(**{path: False}, then=Value(False)),
            default=Value(None),
            output_field=models.BooleanField(),
        )
    text = KeyTextTransform(key, column)
    if field_type == "number":
        return Cast(text, models.FloatField())
    if field_type == "date":
        return Cast(NullIf(text, Value("")), models.DateField())
    return text


def _custom_definitions() -> dict[str, list]:
    """Every active custom field definition by model label (one query per catalogue)."""
    from kehu.core.models import CustomField

    found: dict[str, list] = {}
    for d in CustomField.objects.filter(active=True).order_by("model", "position", "id"):
        found.setdefault(d.model, []).append(d)
    return found


def _custom(cat: dict, model, prefix: str, label_prefix: str, definitions: dict[str, list]) -> None:
    """The model's active custom fields (values in its `custom` JSON) as report fields."""
    try:
        model._meta.get_field("custom")
    except FieldDoesNotExist:
        return
    for d in definitions.get(model._meta.label_lower, []):
        kind = CUSTOM_KINDS.get(d.field_type)
        if kind is None:
            continue
        path = f"{prefix}custom__{d.key}"
        choices = tuple((c, c) for c in d.choices) if kind == "choice" else ()
        # a typed field for parsing filter values (`_clean_one`: "many" is no number); never a column
        typed = {"number": models.FloatField, "date": models.DateField, "boolean": models.BooleanField}
        field = typed.get(d.field_type, models.CharField)(verbose_name=d.label)
        cat[path] = FieldInfo(
            path, f"{label_prefix}{d.label}", kind, field, choices=choices, custom=d.field_type
        )


#: the region hierarchy of a customer's primary address (an11): level 1 province, 2 city, 3 district
REGION_PARTS = ("province", "city", "district")
REGION_SEP = " / "


def _region(cat: dict, prefix: str, label_prefix: str, access: Access) -> None:
    """The customer's region (province → city → district of the primary address) as a hierarchy of customers
    and of what has one; absent when addresses or one of those fields are hidden from the reader."""
    from kehu.customers.models import CustomerAddress

    if not access.can("view", CustomerAddress) or set(REGION_PARTS) & access.hidden_fields(CustomerAddress):
        return
    path = f"{prefix}region"
    cat[path] = FieldInfo(
        path, f"{label_prefix}{_('Region')}", "region", CustomerAddress._meta.get_field("province")
    )


def _region_customer(info: FieldInfo) -> str:
    """The path from the report's record to its customer's key (`customer__region` → `customer`)."""
    head = info.path[: -len("region")]
    return f"{head}pk" if head else "pk"


def _primary_address(info: FieldInfo):
    from django.db.models import OuterRef

    from kehu.customers.models import CustomerAddress

    return CustomerAddress.objects.filter(customer=OuterRef(_region_customer(info)), is_primary=True)


def _region_expression(info: FieldInfo, level: int):
    """The region key at `level` of each record's customer: "广东省", "广东省 / 深圳市", … (None without a
    primary address or a province); one correlated subquery on the customer's addresses."""
    from django.db.models import CharField, Subquery
    from django.db.models.functions import Concat, NullIf

    parts: list = []
    for name in REGION_PARTS[:level]:
        if parts:
            parts.append(Value(REGION_SEP))
        parts.append(F(name))
    key = Concat(*parts, output_field=CharField()) if len(parts) > 1 else parts[0]
    first = _primary_address(info).filter(~Q(province="")).order_by("pk").annotate(k=key).values("k")[:1]
    return NullIf(Subquery(first, output_field=CharField()), Value(""))


def _region_q(info: FieldInfo, value: str | None) -> Q:
    """Records whose customer's primary address lies in the region `value` ("广东省 / 深圳市"); None: no region."""
    from django.db.models import Exists

    if value is None:
        return ~Exists(_primary_address(info).filter(~Q(province="")))
    names = [v.strip() for v in str(value).split(REGION_SEP.strip())][: len(REGION_PARTS)]
    return Q(Exists(_primary_address(info).filter(**dict(zip(REGION_PARTS, names, strict=False)))))


def field_catalogue(model_label: str, *, user) -> dict[str, FieldInfo]:
    """Every field path a user may use in a report on `model_label`: its own fields, the fields of the records
    it points to (one step, only those the user may view), the customer's RFM segment, and the owner's
    department as a hierarchy. Hidden fields (on any model along the path) are absent."""
    access = Access.of(user)
    entry = registry.get(model_label)
    if entry is None or not access.can("view", entry.label):
        return {}
    model = entry.model
    cat: dict[str, FieldInfo] = {}
    custom_defs = _custom_definitions()
    for f, kind in _fields_of(model, access):
        _add(cat, f.name, _cap(f.verbose_name), f, kind, access)
        if kind != "relation" or f.name not in cat:
            continue
        related = f.related_model
        rlabel = related._meta.label_lower
        if rlabel in DIRECTORY:
            continue
        prefix = f"{_cap(f.verbose_name)} · "
        for rf, rkind in _fields_of(related, access):
            if rkind == "relation" and rf.related_model is model:
                continue
            _add(cat, f"{f.name}__{rf.name}", prefix + str(rf.verbose_name), rf, rkind, access)
        _custom(cat, related, f"{f.name}__", prefix, custom_defs)
        if rlabel == "customers.customer":
            _segment(cat, f"{f.name}__", prefix, access)
            _region(cat, f"{f.name}__", prefix, access)
    _custom(cat, model, "", "", custom_defs)
    if entry.label == "customers.customer":
        _segment(cat, "", "", access)
        _region(cat, "", "", access)
    # the owner's department, rolled up to a level of the department tree
    scope_prefix, owner_field = entry.scope_path()
    if owner_field:
        owner_path = f"{scope_prefix}{owner_field}"
        parts = owner_path.split("__")
        hops_visible = _path_visible(model, parts, access)
        if hops_visible:
            from kehu.core.models import Department

            dept = Department._meta.get_field("parent")
            cat[f"{owner_path}__department"] = FieldInfo(
                f"{owner_path}__department", _("Owner's department"), "hierarchy", dept
            )
    return cat


def _path_visible(model, parts: list[str], access: Access) -> bool:
    for name in parts:
        if name in access.hidden_fields(model):
            return False
        model = model._meta.get_field(name).related_model
        if model is None:
            return False
    return True


def catalogue_for_ui(model_label: str, *, user) -> list[dict]:
    return [
        {
            "path": i.path,
            "label": i.label,
            "kind": i.kind,
            "numeric": i.kind == "number",
            "choices": [list(c) for c in i.choices],
        }
        for i in field_catalogue(model_label, user=user).values()
    ]


# ------------------------------------------------------------------------------------------------ parsing
def _clean_value(info: FieldInfo, op: str, raw):
    if op == "isnull":
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in {"1", "true", "yes", ""}:
            return True
        if str(raw).lower() in {"0", "false", "no"}:
            return False
        raise ValidationError(_("Use true or false."))
    if op == "in":
        values = raw if isinstance(raw, list) else [v for v in str(raw).split(",") if v.strip()]
        if not values or len(values) > 100:
            raise ValidationError(_("Give between 1 and 100 values."))
        return [_clean_one(info, v) for v in values]
    if op == "contains":
        if info.kind not in {"text", "choice"}:
            raise ValidationError(_("“contains” applies to text fields only."))
        return str(raw)[:200]
    return _clean_one(info, raw)


def _clean_one(info: FieldInfo, raw):
    if isinstance(raw, dict | list):
        raise ValidationError(_("A single value is expected."))
    if info.kind == "region":
        text = str(raw).strip()[:200]
        if not text:
            raise ValidationError(_("A region is expected, e.g. 广东省 or 广东省 / 深圳市."))
        return text
    if info.kind == "relation" or info.kind == "hierarchy":
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ValidationError(_("A record id (a whole number) is expected.")) from None
    if info.kind == "text":
        return str(raw)[:200]
    if info.kind == "bool":
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "y", "t"}:
            return True
        if text in {"0", "false", "no", "n", "f"}:
            return False
        raise ValidationError(_("Use true or false."))
    value = info.field.to_python(raw)
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        raise ValidationError(_("A finite number is expected."))
    if isinstance(value, decimal.Decimal) and not value.is_finite():
        raise ValidationError(_("A finite number is expected."))
    if isinstance(value, dt.datetime) and timezone.is_naive(value):
        value = timezone.make_aware(value)
    if isinstance(value, dt.date) and not (dt.date(1, 1, 2) <= _as_date(value) <= dt.date(9999, 12, 30)):
        raise ValidationError(_("The date is out of range."))
    return value


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def parse_spec(data, *, user) -> Spec:
    """Check a specification against what `user` may see; raises ReportError with every problem found."""
    if not isinstance(data, dict):
        raise ReportError([_("The report definition must be an object.")])
    errors: list[str] = []
    label = str(data.get("model") or "").lower()
    cat = field_catalogue(label, user=user) if label else {}
    if not cat:
        raise ReportError([_("Unknown record type “%(m)s”.") % {"m": label[:100]}])
    entry = registry.require(label)
    noun = entry.verbose_name

    def lookup(path, where: str) -> FieldInfo | None:
        if not isinstance(path, str) or path not in cat:
            errors.append(
                _("%(where)s: unknown field “%(f)s” for %(model)s.")
                % {"where": where, "f": str(path)[:100], "model": noun}
            )
            return None
        return cat[path]

    def items(key: str, limit: int) -> list:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            errors.append(_("“%(k)s” must be a list of objects.") % {"k": key})
            return []
        if len(value) > limit:
            errors.append(_("At most %(n)s entries in “%(k)s”.") % {"n": limit, "k": key})
            return []
        return value

    spec = Spec(model=entry.model)
    for i, g in enumerate(items("group_by", MAX_GROUPS), 1):
        where = _("Group %(n)s") % {"n": i}
        info = lookup(g.get("field"), where)
        if info is None:
            continue
        bucket, level = g.get("bucket") or None, g.get("level") or None
        if info.kind in {"date", "datetime"}:
            bucket = bucket or ("day" if info.kind == "datetime" else None)
            if bucket is not None and bucket not in BUCKETS:
                errors.append(
                    _("%(where)s: unknown date bucket “%(b)s”.") % {"where": where, "b": str(bucket)[:20]}
                )
                continue
        elif bucket is not None:
            errors.append(_("%(where)s: a date bucket needs a date field.") % {"where": where})
            continue
        if info.kind == "hierarchy":
            try:
                level = int(level or 1)
            except (TypeError, ValueError):
                level = 0
            if not 1 <= level <= 10:
                errors.append(_("%(where)s: the level must be between 1 and 10.") % {"where": where})
                continue
        elif info.kind == "region":
            try:
                level = int(level or 1)
            except (TypeError, ValueError):
                level = 0
            if not 1 <= level <= len(REGION_PARTS):
                errors.append(
                    _("%(where)s: the region level is 1 (province), 2 (city) or 3 (district).")
                    % {"where": where}
                )
                continue
        elif level is not None:
            errors.append(_("%(where)s: a level applies to a hierarchy only.") % {"where": where})
            continue
        spec.groups.append(Group(info, bucket, level))
    for i, m in enumerate(items("measures", MAX_MEASURES), 1):
        where = _("Measure %(n)s") % {"n": i}
        agg = m.get("agg")
        if agg not in AGGREGATES:
            errors.append(_("%(where)s: unknown measure “%(a)s”.") % {"where": where, "a": str(agg)[:20]})
            continue
        if agg == "count" and not m.get("field"):
            spec.measures.append(Measure("count"))
            continue
        info = lookup(m.get("field"), where)
        if info is None:
            continue
        if agg in {"sum", "avg"} and info.kind != "number":
            errors.append(
                _("%(where)s: “%(agg)s” needs a numeric field; “%(f)s” is not numeric.")
                % {"where": where, "agg": AGGREGATES[agg], "f": info.label}
            )
            continue
        if info.kind in {"hierarchy", "region"}:
            errors.append(_("%(where)s: cannot measure a hierarchy.") % {"where": where})
            continue
        spec.measures.append(Measure("distinct" if agg == "count" else agg, info))
    if not spec.measures and not errors:
        spec.measures.append(Measure("count"))
    keys = [m.key for m in spec.measures]
    if len(set(keys)) != len(keys):
        errors.append(_("The same measure is given twice."))
    for i, flt in enumerate(items("filters", MAX_FILTERS), 1):
        where = _("Filter %(n)s") % {"n": i}
        info = lookup(flt.get("field"), where)
        op = flt.get("op", "eq")
        if info is None:
            continue
        if op not in OPERATORS:
            errors.append(_("%(where)s: unknown operator “%(o)s”.") % {"where": where, "o": str(op)[:20]})
            continue
        if info.kind in {"hierarchy", "region"} and op not in {"eq", "ne", "in", "isnull"}:
            errors.append(_("%(where)s: a hierarchy is filtered by =, ≠ or one of.") % {"where": where})
            continue
        try:
            value = _clean_value(info, op, flt.get("value"))
        except ValidationError as exc:
            errors.append(f"{where} ({info.label}): {' '.join(exc.messages)}")
            continue
        spec.filters.append(Filter(info, op, value, raw=_jsonable(flt.get("value"))))
    chart = data.get("chart") or ChartType.BAR
    if chart not in ChartType.values:
        errors.append(_("Unknown chart type “%(c)s”.") % {"c": str(chart)[:20]})
    else:
        spec.chart = chart
    if errors:
        raise ReportError(errors)
    return spec


# ------------------------------------------------------------------------------------------------ compiling
def _departments() -> tuple[dict[int, int | None], dict[int, str]]:
    from kehu.core.models import Department

    parents, names = {}, {}
    for pk, parent, name in Department.objects.values_list("id", "parent_id", "name"):
        parents[pk], names[pk] = parent, name
    return parents, names


def _ancestor_at(pk: int, level: int, parents: dict) -> int:
    chain = [pk]
    seen = {pk}
    while parents.get(chain[-1]) is not None and parents[chain[-1]] not in seen:
        chain.append(parents[chain[-1]])
        seen.add(chain[-1])
    chain.reverse()  # root first
    return chain[min(level, len(chain)) - 1]


def _subtree(pk: int, parents: dict) -> list[int]:
    children: dict = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    result, stack = [], [pk]
    while stack:
        node = stack.pop()
        if node in result:
            continue
        result.append(node)
        stack.extend(children.get(node, []))
    return result


def _hierarchy_filter_ids(value, parents) -> list[int]:
    values = value if isinstance(value, list) else [value]
    return sorted({d for v in values for d in _subtree(v, parents)})


def _custom_q(info: FieldInfo, op: str, value) -> Q:
    """A filter on a custom field: a lookup on its typed expression."""
    from django.db.models import lookups

    expr = info.expression()
    if op == "isnull":
        return Q(lookups.IsNull(expr, bool(value)))
    if op == "in":
        return Q(lookups.In(expr, list(value)))
    if op == "contains":
        return Q(lookups.IContains(expr, value))
    lookup = {"eq": lookups.Exact, "ne": lookups.Exact, "gt": lookups.GreaterThan, "gte": lookups.GreaterThanOrEqual,
              "lt": lookups.LessThan, "lte": lookups.LessThanOrEqual}[op]  # fmt: skip
    cond = Q(lookup(expr, value))
    return ~cond if op == "ne" else cond


def _filter_q(flt: Filter, parents) -> Q:
    if flt.info.custom is not None:
        return _custom_q(flt.info, flt.op, flt.value)
    if flt.info.kind == "region":
        if flt.op == "isnull":
            cond = _region_q(flt.info, None)
            return cond if flt.value else ~cond
        values = flt.value if isinstance(flt.value, list) else [flt.value]
        cond = reduce(lambda a, b: a | b, (_region_q(flt.info, v) for v in values))
        return ~cond if flt.op == "ne" else cond
    if flt.info.kind == "hierarchy" and flt.op in {"eq", "ne", "in"}:
        cond = Q(**{f"{flt.info.path}__in": _hierarchy_filter_ids(flt.value, parents)})
        return ~cond if flt.op == "ne" else cond
    return flt.q()


def filtered_queryset(spec: Spec, *, user, parents=None):
    """The records of the report (the reader's scope, the report's filters), before grouping."""
    qs = scoped(spec.model, user=user)
    if spec.filters:
        if parents is None and any(f.info.kind == "hierarchy" for f in spec.filters):
            parents, _names = _departments()
        qs = qs.filter(reduce(lambda a, b: a & b, (_filter_q(f, parents) for f in spec.filters)))
    return qs


class DateBucket(Trunc):
    """`Trunc` of a date to a bucket, returning a date. On PostgreSQL a plain `date_trunc(kind, date)` resolves
    to the `timestamptz` variant: every row's date is converted to a timestamp in the session's time zone and
    back. Truncating the date as a `timestamp` (no time zone) gives the same day without that conversion."""

    def as_postgresql(self, compiler, connection):
        if not isinstance(self.lhs.output_field, models.DateField) or isinstance(
            self.lhs.output_field, models.DateTimeField
        ):
            return self.as_sql(compiler, connection)
        if self.kind not in BUCKETS:  # never interpolate anything but a known bucket
            raise ValueError(self.kind)
        sql, params = compiler.compile(self.lhs)
        return f"DATE_TRUNC('{self.kind}', ({sql})::timestamp)::date", params


class _DirectJoin:
    """A join condition `parent.<from column> = joined.<to column>` between two fields that both point to the
    same record (here: an order line's customer and a score's customer), for `_join_score_directly`."""

    def __init__(self, lhs: models.Field, rhs: models.Field):
        self.lhs, self.rhs = lhs, rhs

    def get_joining_fields(self):
        return ((self.lhs, self.rhs),)

    def get_extra_restriction(self, alias, related_alias):
        return None


def _join_score_directly(query) -> bool:
    """A group-by or filter on `customer__analytics_score__…` of a record that points to a customer joins
    `customers_customer` only to reach the score through it. The customer key is a NOT NULL foreign key on the
    record itself, so the score can be joined on it directly (`record.customer_id = score.customer_id`) and the
    customer table left out — a join of every customer (1M rows) fewer, the same rows. The customer join is
    kept whenever anything else in the statement still refers to it. Returns whether the statement changed."""
    from kehu.customers.models import Customer

    from .models import CustomerScore

    score_customer = CustomerScore._meta.get_field("customer")
    base = query.get_initial_alias()
    changed = False
    for alias, join in list(query.alias_map.items()):
        if not isinstance(join, Join) or join.table_name != CustomerScore._meta.db_table:
            continue
        parent = query.alias_map.get(join.parent_alias)
        if not isinstance(parent, Join) or parent.table_name != Customer._meta.db_table:
            continue
        if parent.parent_alias != base or parent.join_type != INNER or parent.filtered_relation:
            continue
        if join.filtered_relation or not parent.join_fields or len(parent.join_fields) != 1:
            continue
        (lhs, rhs), (own, _score) = parent.join_fields[0], join.join_fields[0]
        if not (
            lhs.many_to_one and lhs.model is query.model and not lhs.null and rhs.primary_key and own is rhs
        ):
            continue
        query.alias_map[alias] = Join(
            join.table_name, base, alias, join.join_type, _DirectJoin(lhs, score_customer), join.nullable
        )
        changed = True
        # leave the customer table out unless something else still names it
        refcount = query.alias_refcount[parent.table_alias]
        query.alias_refcount[parent.table_alias] = 0
        try:
            sql = query.sql_with_params()[0]
        except EmptyResultSet:  # nothing visible: the statement never runs
            sql = f'"{parent.table_alias}".'
        if f'"{parent.table_alias}".' in sql:
            query.alias_refcount[parent.table_alias] = refcount
    return changed


def _group_expression(i: int, g: Group, parents, plain: bool = False):
    if g.info.kind == "region":
        return _region_expression(g.info, g.level or 1)
    if g.bucket:
        source = g.info.expression() if g.info.custom else g.info.path
        return (Trunc if plain else DateBucket)(source, g.bucket, output_field=models.DateField())
    if g.info.kind == "hierarchy":
        by_ancestor: dict[int, list[int]] = {}
        for pk in parents:
            by_ancestor.setdefault(_ancestor_at(pk, g.level or 1, parents), []).append(pk)
        whens = [
            When(**{f"{g.info.path}__in": sorted(ids)}, then=Value(anc))
            for anc, ids in sorted(by_ancestor.items())
        ]
        if not whens:
            return Value(None, output_field=models.IntegerField())
        return Case(*whens, default=Value(None), output_field=models.IntegerField())
    return g.info.expression()


def _aggregate(m: Measure):
    if m.info is None:
        return Count("pk")
    source = m.info.expression() if m.info.custom else m.info.path
    if m.agg == "sum":
        return Sum(source)
    if m.agg == "avg":
        return Avg(source)
    return Count(source, distinct=True)


def _number(value):
    if value is None:
        return 0
    if isinstance(value, decimal.Decimal):
        value = float(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return 0
        return round(value, 4)
    return value


def _jsonable(value):
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _bucket_label(value: dt.date, bucket: str) -> str:
    if bucket == "year":
        return f"{value.year}"
    if bucket == "quarter":
        return f"{value.year}-Q{(value.month - 1) // 3 + 1}"
    if bucket == "month":
        return f"{value.year}-{value.month:02d}"
    if bucket == "week":
        iso = value.isocalendar()
        return f"{iso[0]}-W{iso[1]:02d}"
    return value.isoformat()


def _label(g: Group, value, title, names) -> str:
    if value is None:
        return str(_("(none)"))
    if g.bucket:
        return _bucket_label(_as_date(value), g.bucket)
    if g.info.kind == "hierarchy":
        return names.get(value, str(value))
    if g.info.kind == "relation":
        return str(title) if title not in (None, "") else f"#{value}"
    if g.info.kind == "choice":
        return dict(g.info.choices).get(value, str(value))
    if g.info.kind == "bool":
        return str(_("Yes") if value else _("No"))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | float):
        return f"{_number(value):g}"
    return str(value)


def compile_query(spec: Spec, *, user, parents=None, plain: bool = False, summary: bool = True):
    """The one aggregate queryset of a report (exposed for the benchmark and EXPLAIN). Unless `plain=True`: over
    the order-line summary when the report and the reader allow it (`reports_summary`), else with the segment
    joined on the record's own customer key and dates truncated as dates; `plain=True` leaves out what only
    makes it faster (the tests compare both on the same data); `summary=False` only the summary."""
    if parents is None and (
        any(g.info.kind == "hierarchy" for g in spec.groups)
        or any(f.info.kind == "hierarchy" for f in spec.filters)
    ):
        parents, _names = _departments()
    qs = filtered_queryset(spec, user=user, parents=parents).order_by()
    measures = {f"m{j}": _aggregate(m) for j, m in enumerate(spec.measures)}
    if not spec.groups:
        return qs, measures
    values = {}
    for i, g in enumerate(spec.groups):
        values[f"g{i}"] = _group_expression(i, g, parents or {}, plain)
        if g.info.kind == "relation" and g.info.title and not g.bucket:
            values[f"t{i}"] = F(g.info.title)

    def shared_lines(lines):
        """the report's grouping over some lines (for the summary path of a reader with shared records)"""
        lines = lines.order_by().values(**values).annotate(**measures, n_lines=Count("pk"))
        _join_score_directly(lines.query)
        return lines

    summed = (
        None
        if plain or not summary
        else compile_summary(spec, user=user, bucket_expression=_bucket_of, shared_lines=shared_lines)
    )
    if summed is not None:
        rows, summed_measures = summed
        return (rows if isinstance(rows, SummaryWithLines) else _ordered(rows, spec)), summed_measures
    qs = _ordered(qs.values(**values).annotate(**measures), spec)
    if not plain:
        _join_score_directly(qs.query)
    return qs, measures


def _bucket_of(path: str, bucket: str):
    return DateBucket(path, bucket, output_field=models.DateField())


def order_keys(spec: Spec) -> list[tuple[str, bool]]:
    """The order of a report's rows as (column, descending) pairs, nulls last — what `_ordered` gives a
    queryset (on PostgreSQL, where ascending puts nulls last anyway): a one-group bar or pie chart by its first
    measure, largest first, else by the groups."""
    first = spec.groups[0]
    if len(spec.groups) == 1 and not first.bucket and spec.chart in {ChartType.BAR, ChartType.PIE}:
        return [("m0", True), ("g0", False)]
    return [(f"g{i}", False) for i in range(len(spec.groups))]


def _ordered(qs, spec: Spec):
    first = spec.groups[0]
    if len(spec.groups) == 1 and not first.bucket and spec.chart in {ChartType.BAR, ChartType.PIE}:
        return qs.order_by(models.F("m0").desc(nulls_last=True), "g0")
    return qs.order_by(*[models.F(f"g{i}").asc(nulls_last=True) for i in range(len(spec.groups))])


def run(spec: Spec, *, user, plain: bool = False, summary: bool = True) -> dict:
    """Run a report for `user`: one SQL statement over the user's records. JSON-ready (no NaN, no infinity).
    `plain=True`: without the rewrites that only make the statement faster (`compile_query`)."""
    needs_tree = any(g.info.kind == "hierarchy" for g in spec.groups) or any(
        f.info.kind == "hierarchy" for f in spec.filters
    )
    parents, names = _departments() if needs_tree else ({}, {})
    qs, measures = compile_query(spec, user=user, parents=parents, plain=plain, summary=summary)
    truncated = False
    if not spec.groups:
        totals = qs.aggregate(**measures)
        raw_rows = [{**totals}]
    else:
        raw_rows = list(qs[: MAX_ROWS + 1])
        truncated = len(raw_rows) > MAX_ROWS
        raw_rows = raw_rows[:MAX_ROWS]
    rows = []
    for r in raw_rows:
        keys = [r.get(f"g{i}") for i in range(len(spec.groups))]
        rows.append(
            {
                "keys": [_jsonable(k) for k in keys],
                "labels": [
                    _label(g, k, r.get(f"t{i}"), names)
                    for i, (g, k) in enumerate(zip(spec.groups, keys, strict=True))
                ],
                "values": [_number(r.get(f"m{j}")) for j in range(len(spec.measures))],
            }
        )
    result = {
        "model": spec.label,
        "title": str(registry.require(spec.label).verbose_name),
        "chart": spec.chart,
        "groups": [{"field": g.info.path, "label": g.label} for g in spec.groups],
        "measures": [{"key": m.key, "label": m.label} for m in spec.measures],
        "rows": rows,
        "truncated": truncated,
        "pivot": pivot(rows) if len(spec.groups) >= 2 else None,
    }
    return result


def pivot(rows: list[dict]) -> dict:
    """Lay grouped rows out as a table: the first group down, the other groups across (with three groups each
    column is a combination of the second and third, labelled "a · b"), the first measure in the cells. A
    column's `keys` are its groups' keys (the drill-down link of a cell is the row's key followed by them)."""
    row_keys: dict = {}
    col_keys: dict = {}
    cells: dict = {}
    for r in rows:
        rk, ck = json.dumps(r["keys"][0]), json.dumps(r["keys"][1:])
        row_keys.setdefault(rk, (r["keys"][0], r["labels"][0]))
        col_keys.setdefault(ck, (r["keys"][1:], " · ".join(str(x) for x in r["labels"][1:])))
        cells[(rk, ck)] = r["values"][0]
    rks, cks = list(row_keys), list(col_keys)
    return {
        "rows": [{"key": row_keys[k][0], "label": row_keys[k][1]} for k in rks],
        "columns": [{"key": col_keys[k][0][0], "keys": col_keys[k][0], "label": col_keys[k][1]} for k in cks],
        "cells": [[cells.get((rk, ck)) for ck in cks] for rk in rks],
        "row_totals": [sum(v for v in (cells.get((rk, ck)) for ck in cks) if v is not None) for rk in rks],
        "column_totals": [sum(v for v in (cells.get((rk, ck)) for rk in rks) if v is not None) for ck in cks],
    }


# ------------------------------------------------------------------------------------------------ drill-down
def _next_bucket(day: dt.date, bucket: str) -> dt.date:
    if bucket == "day":
        return day + dt.timedelta(days=1)
    if bucket == "week":
        return day + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[bucket]
    month = day.month - 1 + months
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


def drill_queryset(spec: Spec, keys: list, *, user):
    """The records behind one chart point or pivot cell: the report's records with each group fixed to the
    cell's key (a date bucket becomes a date range, a department its subtree). Raises ReportError on bad keys."""
    if len(keys) > len(spec.groups):
        raise ReportError([_("More keys than the report has groups.")])
    needs_tree = any(g.info.kind == "hierarchy" for g in spec.groups) or any(
        f.info.kind == "hierarchy" for f in spec.filters
    )
    parents = _departments()[0] if needs_tree else {}
    qs = filtered_queryset(spec, user=user, parents=parents)
    for g, raw in zip(spec.groups, keys, strict=False):
        path = g.info.path
        if raw is None or raw == NULL:
            if g.info.kind == "region":
                qs = qs.filter(_region_q(g.info, None))
            elif g.info.custom:
                qs = qs.filter(_custom_q(g.info, "isnull", True))
            else:
                qs = qs.filter(**{f"{path}__isnull": True})
            continue
        try:
            if g.bucket:
                start = _as_date(models.DateField().to_python(raw))
                if not dt.date(1, 1, 2) <= start <= dt.date(9998, 12, 1):
                    raise ValidationError("range")
                end = _next_bucket(start, g.bucket)
                if g.info.kind == "datetime":
                    tz = timezone.get_current_timezone()
                    start = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
                    end = dt.datetime.combine(end, dt.time.min, tzinfo=tz)
                if g.info.custom:
                    qs = qs.filter(_custom_q(g.info, "gte", start) & _custom_q(g.info, "lt", end))
                else:
                    qs = qs.filter(**{f"{path}__gte": start, f"{path}__lt": end})
            elif g.info.kind == "hierarchy":
                qs = qs.filter(**{f"{path}__in": _subtree(int(raw), parents)})
            elif g.info.kind == "region":
                qs = qs.filter(_region_q(g.info, str(raw)[:200]))
            elif g.info.custom:
                qs = qs.filter(_custom_q(g.info, "eq", _clean_one(g.info, raw)))
            else:
                qs = qs.filter(**{path: _clean_one(g.info, raw)})
        except (ValidationError, ValueError, TypeError, OverflowError):
            raise ReportError([_("Invalid drill-down key “%(k)s”.") % {"k": str(raw)[:50]}]) from None
    return qs


def encode_spec(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_spec(text: str) -> dict:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw.decode())
    except (ValueError, UnicodeDecodeError):
        raise ReportError([_("The report definition in the link is damaged.")]) from None
    return data
