"""Conditions of workflow rules: the segment rule tree (ADR 0012) over any registered record type.

The tree format, its validation (every error with its path) and its compilation to one ``Q`` are marketing's
(`kehu.marketing.rules.compile_rules`); this module only supplies the *fields* of a record type: its own
columns (choice, text, number, date, yes/no, related records by id or by choice), its tags, its custom fields,
and — for records that belong to a customer — every segment field of that customer as ``customer.<key>``
(tags, purchases, contacts, consent, scores, the customer's custom fields) through a subquery.
"""

from __future__ import annotations

from django.apps import apps
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import registry
from kehu.core.access import Access
from kehu.core.models import Tag, User
from kehu.marketing import rules as segment_rules
from kehu.marketing.rules.base import (
    CHOICE_OPS,
    DATE_OPS,
    NUMBER_OPS,
    TEXT_OPS,
    Context,
    RuleField,
    _date_q,
    _hidden,
)
from kehu.marketing.rules.fields import IdListField, choice_build

RECORD = gettext_lazy("Record")
RELATED = gettext_lazy("Customer of the record")
SKIP = {"id", "version", "custom", "password", "search_text", "search_restricted", "position"}
MAX_CHOICES = 500


def model_of(label: str) -> type[models.Model]:
    return apps.get_model(label)


def _fk_choice_build(name: str):
    def build(cond: dict, ctx: Context) -> Q:
        op, value = cond["op"], cond.get("value")
        col = f"{name}_id"
        if op == "eq":
            return Q(**{col: int(value)})
        if op == "ne":
            return Q(**{f"{col}__isnull": True}) | ~Q(**{col: int(value)})
        if op == "in":
            return Q(**{f"{col}__in": [int(v) for v in value]})
        if op == "not_in":
            return Q(**{f"{col}__isnull": True}) | ~Q(**{f"{col}__in": [int(v) for v in value]})
        return Q(**{f"{col}__isnull": op == "is_empty"})

    return build


def _text_build(name: str):
    def build(cond: dict, ctx: Context) -> Q:
        op, value = cond["op"], cond.get("value")
        lookups = {"eq": "iexact", "contains": "icontains", "starts_with": "istartswith"}
        if op in lookups:
            return Q(**{f"{name}__{lookups[op]}": value})
        if op == "ne":
            return ~Q(**{f"{name}__iexact": value})
        if op == "not_contains":
            return ~Q(**{f"{name}__icontains": value})
        empty = Q(**{name: ""})
        return empty if op == "is_empty" else ~empty

    return build


def _number_build(name: str):
    def build(cond: dict, ctx: Context) -> Q:
        op, value = cond["op"], cond.get("value")
        if op == "is_empty":
            return Q(**{f"{name}__isnull": True})
        if op == "is_not_empty":
            return Q(**{f"{name}__isnull": False})
        if op == "between":
            return Q(**{f"{name}__gte": value[0], f"{name}__lte": value[1]})
        if op == "eq":
            return Q(**{name: value})
        if op == "ne":
            return Q(**{f"{name}__isnull": True}) | ~Q(**{name: value})
        return Q(**{f"{name}__{op}": value})

    return build


def _date_build(lookup: str):
    def build(cond: dict, ctx: Context) -> Q:
        return _date_q(lookup, cond["op"], cond.get("value"), ctx)

    return build


def _bool_build(name: str):
    def build(cond: dict, ctx: Context) -> Q:
        return Q(**{name: cond["op"] == "is_true"})

    return build


def _user_build(name: str):
    def build(cond: dict, ctx: Context) -> Q:
        op, ids = cond["op"], cond.get("value")
        col = f"{name}_id"
        if op == "in":
            return Q(**{f"{col}__in": ids})
        if op == "not_in":
            return Q(**{f"{col}__isnull": True}) | ~Q(**{f"{col}__in": ids})
        return Q(**{f"{col}__isnull": op == "is_empty"})

    return build


def _tags_build(model):
    through = model.tags.through
    source = next(f.name for f in through._meta.get_fields() if getattr(f, "related_model", None) is model)

    def build(cond: dict, ctx: Context) -> Q:
        op, ids = cond["op"], cond["value"]

        def has(tag_ids) -> Exists:
            return Exists(through.objects.filter(**{f"{source}_id": OuterRef("pk"), "tag_id__in": tag_ids}))

        if op == "has_any":
            return Q(has(ids))
        if op == "has_none":
            return ~Q(has(ids))
        q = Q()
        for tag_id in ids:
            q &= Q(has([tag_id]))
        return q

    return build


def _related_choices(related):
    def choices() -> list[tuple[str, str]]:
        return [(str(o.pk), str(o)) for o in related._default_manager.all()[:MAX_CHOICES]]

    return choices


def _own_fields(model) -> list[RuleField]:
    result: list[RuleField] = []
    for f in model._meta.get_fields():
        if not getattr(f, "concrete", False) or f.name in SKIP or getattr(f, "auto_created", False):
            continue
        label = getattr(f, "verbose_name", f.name)
        refuse = _hidden(model, f.name)
        name = f.name
        if isinstance(f, models.ManyToManyField):
            if f.related_model is Tag:
                result.append(
                    IdListField(
                        name,
                        label,
                        RECORD,
                        "tags",
                        ("has_any", "has_all", "has_none"),
                        _tags_build(model),
                        refuse=refuse,
                    )  # fmt: skip
                )
            continue
        if isinstance(f, models.ForeignKey):
            related = f.related_model
            if related is User:
                result.append(
                    IdListField(
                        name,
                        label,
                        RECORD,
                        "owner",
                        ("in", "not_in", "is_empty", "is_not_empty"),
                        _user_build(name),
                        refuse=refuse,
                    )  # fmt: skip
                )
            elif registry.get(related) is not None and registry.require(related).owner_field:
                # a business record (a customer, a deal): compared by id
                result.append(RuleField(f"{name}_id", label, RECORD, "number", NUMBER_OPS,
                                        _number_build(f"{name}_id"), refuse=refuse))  # fmt: skip
            else:  # configuration (stages, queues, pipelines): chosen from a list
                result.append(RuleField(name, label, RECORD, "choice", CHOICE_OPS, _fk_choice_build(name),
                                        choices=_related_choices(related), refuse=refuse))  # fmt: skip
            continue
        if getattr(f, "choices", None):
            choices = [(str(c), str(lab)) for c, lab in f.choices]
            result.append(RuleField(name, label, RECORD, "choice", CHOICE_OPS, choice_build(name, nullable=True),
                                    choices=lambda c=choices: c, refuse=refuse))  # fmt: skip
        elif isinstance(f, models.BooleanField):
            result.append(RuleField(name, label, RECORD, "bool", ("is_true", "is_false"), _bool_build(name),
                                    refuse=refuse))  # fmt: skip
        elif isinstance(f, models.DateTimeField):
            result.append(RuleField(name, label, RECORD, "date", DATE_OPS, _date_build(f"{name}__date"),
                                    refuse=refuse))  # fmt: skip
        elif isinstance(f, models.DateField):
            result.append(RuleField(name, label, RECORD, "date", DATE_OPS, _date_build(name), refuse=refuse))
        elif isinstance(f, models.IntegerField | models.DecimalField | models.FloatField):
            result.append(RuleField(name, label, RECORD, "number", NUMBER_OPS, _number_build(name),
                                    refuse=refuse))  # fmt: skip
        elif isinstance(f, models.CharField | models.TextField):
            result.append(RuleField(name, label, RECORD, "text", TEXT_OPS, _text_build(name), refuse=refuse))
    return result


def _wrapped(rf: RuleField, fk: str) -> RuleField:
    """A customer segment field read through the record's `fk` to its customer (one subquery)."""
    from kehu.customers.models import Customer

    def build(cond: dict, ctx: Context) -> Q:
        inner = rf.build({**cond, "field": rf.key}, ctx)
        return Q(**{f"{fk}__in": Customer.objects.filter(inner).values("pk")})

    def refuse(access: Access) -> str | None:
        if not access.can("view", Customer):
            return _("your role may not see customers")
        return rf.refuse(access) if rf.refuse else None

    cls = IdListField if isinstance(rf, IdListField) else RuleField
    return cls(f"{fk}.{rf.key}", rf.label, RELATED, rf.kind, rf.ops, build, choices=rf.choices,
               refuse=refuse, extras=rf.extras)  # fmt: skip


_CACHE: dict[str, tuple[tuple, dict[str, RuleField]]] = {}


def fields_for(label: str) -> dict[str, RuleField]:
    """Every field a rule on `label` may use, by key. Built once per record type and state of its custom
    fields (one small query tells whether they changed): a task evaluating twenty rules over a batch builds
    the table once, and a new custom field is usable at once."""
    from kehu.core.models import CustomField

    state = tuple(
        CustomField.objects.filter(model__in=[label, "customers.customer"])
        .order_by("pk")
        .values_list("pk", "version", "active")
    )
    cached = _CACHE.get(label)
    if cached is not None and cached[0] == state:
        return cached[1]
    result = _fields_for(label)
    _CACHE[label] = (state, result)
    return result


def _fields_for(label: str) -> dict[str, RuleField]:
    from kehu.customers.models import Customer

    model = model_of(label)
    if model is Customer:
        found = [*segment_rules.FIELDS.values(), *segment_rules.custom_fields()]
        own = {rf.key: rf for rf in _own_fields(model)}
        result = {rf.key: rf for rf in found}
        for key in ("owner", "created_at", "updated_at", "last_activity_at"):
            if key in own and key not in result:
                result[key] = own[key]
        return result
    result = {rf.key: rf for rf in _own_fields(model)}
    if any(f.name == "custom" for f in model._meta.concrete_fields):
        result.update({rf.key: rf for rf in segment_rules.custom_fields(model)})
    customer_fk = next(
        (
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.ForeignKey) and f.related_model is Customer
        ),
        None,
    )
    if customer_fk:
        for rf in [*segment_rules.FIELDS.values(), *segment_rules.custom_fields()]:
            wrapped = _wrapped(rf, customer_fk)
            result[wrapped.key] = wrapped
    return result


def compile_conditions(
    label: str, conditions, *, user, fields: dict[str, RuleField] | None = None
) -> tuple[dict, Q]:
    """Validate and compile a rule's conditions for `user` (the rule owner: fields hidden for the owner's
    role are refused). An empty tree matches every record. Raises marketing's RuleError."""
    if not conditions:
        return {}, Q()
    return segment_rules.compile_rules(conditions, user=user, fields=fields or fields_for(label))


def available(label: str, access: Access | None) -> list[RuleField]:
    return [
        rf for rf in fields_for(label).values() if access is None or not (rf.refuse and rf.refuse(access))
    ]
