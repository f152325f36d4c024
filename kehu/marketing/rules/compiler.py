"""Segment rules: validation of the whole tree (every error with its path) and compilation to one Q."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.access import Access
from kehu.core.models import Tag, User

from .base import (
    DAY_OPS,
    FIELDS,
    MATCHES,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_JSON,
    NO_VALUE,
    OP_LABELS,
    Context,
    RuleError,
    RuleField,
    _as_list,
    _choice_item,
    _short,
    _value_for,
)
from .fields import (
    _exists_ids,
    _period,
    custom_fields,
)


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
    if ctx.fields is not None:
        found = ctx.fields.get(key)
    elif key.startswith("custom."):
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


def compile_rules(
    definition, *, user=None, access: Access | None = None, fields: dict[str, RuleField] | None = None
) -> tuple[dict, Q]:
    """Validate ``definition`` for ``user`` (None: the system, every field allowed) and compile it.
    Returns (the normalised definition, a Q over Customer). RuleError lists every problem found.
    ``fields`` replaces the customer fields by another record type's (workflow rules: the Q is then over
    that model)."""
    definition = parse_definition(definition)
    if access is None and user is not None:
        access = Access.of(user)
    ctx = Context(access=access, today=timezone.localdate(), now=timezone.now(), fields=fields)
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


def product_choices() -> list[dict]:
    """The active products a "bought" condition offers (first 500 by name)."""
    from kehu.products.models import Product

    return [
        {"value": str(pk), "label": f"{name} ({sku})"}
        for pk, name, sku in Product.objects.filter(active=True)
        .order_by("name")
        .values_list("pk", "name", "sku")[:500]
    ]


def builder_schema(access: Access | None) -> dict:
    """What the rule builder page needs: fields by group with operators, value kinds and choices."""
    return schema_for_fields(available_fields(access), products=product_choices())


def schema_for_fields(rule_fields, *, products: list[dict] | None = None) -> dict:
    """The builder's schema for any list of rule fields (segments' own; workflow rules' fields of a record
    type, kehu.automation.conditions)."""
    from kehu.interactions.models import InteractionChannel

    fields = []
    for rf in rule_fields:
        choices = None
        if rf.kind == "product":
            choices = products if products is not None else product_choices()
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


def describe(definition, access: Access | None = None) -> list[dict]:
    """The rules as readable lines for a page: [{"depth", "text"}], with field and operator labels and choice
    labels instead of codes. Unknown parts are shown as they are stored (the page also shows the JSON)."""
    try:
        definition = parse_definition(definition)
    except RuleError:
        return []
    fields = {rf.key: rf for rf in available_fields(None)}
    lines: list[dict] = []

    def value_text(rf: RuleField | None, value) -> str:
        labels: dict[str, str] = {}
        if rf is not None and rf.kind in {"tags", "owner", "product"}:
            from kehu.products.models import Product

            model = {"tags": Tag, "owner": User, "product": Product}[rf.kind]
            ids = value if isinstance(value, list) else [value]
            ints = [int(i) for i in ids if str(i).isdigit() and int(i) < 2**62]
            labels = {str(o.pk): str(o) for o in model._default_manager.filter(pk__in=ints)}
        elif rf is not None and rf.choices is not None:
            labels = {str(v): str(label) for v, label in rf.choices()}
        if isinstance(value, list):
            return ", ".join(labels.get(str(v), str(v)) for v in value)
        return labels.get(str(value), "" if value is None else str(value))

    def walk(node, depth: int, prefix: str = "") -> None:
        if not isinstance(node, dict):
            return
        if "field" in node:
            rf = fields.get(str(node.get("field")))
            label = str(rf.label) if rf else str(node.get("field"))
            op = str(OP_LABELS.get(node.get("op"), node.get("op")))
            parts = [prefix + label, op]
            if "value" in node:
                parts.append(value_text(rf, node["value"]))
            period = node.get("period")
            if isinstance(period, dict) and period.get("last_days"):
                parts.append(_("(in the last %(n)s days)") % {"n": period["last_days"]})
            elif isinstance(period, dict) and period:
                parts.append(
                    _("(from %(a)s to %(b)s)") % {"a": period.get("from", "…"), "b": period.get("to", "…")}
                )
            if node.get("channels"):
                parts.append("· " + ", ".join(map(str, node["channels"])))
            lines.append({"depth": depth, "text": " ".join(p for p in parts if p)})
            return
        match = _("all of") if node.get("match", "all") == "all" else _("any of")
        lines.append({"depth": depth, "text": prefix + _("Customers matching %(m)s:") % {"m": match}})
        for child in node.get("conditions", []) if isinstance(node.get("conditions"), list) else []:
            walk(child, depth + 1)
        if depth == 0 and isinstance(node.get("exclude"), list) and node["exclude"]:
            lines.append({"depth": 0, "text": _("Leave out customers matching any of")})
            for child in node["exclude"]:
                walk(child, 1)

    walk(definition, 0)
    return lines
