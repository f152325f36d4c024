"""Segment rule fields: customer columns, tags, owner, consent, region, custom fields, purchase history
(kehu.sales order lines), contacts (kehu.interactions) and scores (kehu.analytics); each compiles to a Q whose
related data enters through EXISTS / IN subqueries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, Sum, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.models import CustomFieldType, Tag, User
from kehu.customers import models as cm

from .base import (
    AMOUNT_OPS,
    CHOICE_OPS,
    DATE_OPS,
    NUMBER_OPS,
    TEXT_OPS,
    Context,
    RuleField,
    _as_date,
    _as_int,
    _date_q,
    _hidden,
    _needs_view,
    _short,
    register_field,
)

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


def choice_build(name: str, *, nullable: bool = False):
    """The condition builder of a choice column (also used by the workflow rules over any record type, where
    a choice column may be NULL: `nullable` counts NULL as empty)."""

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
        empty = Q(**{name: ""}) | Q(**{f"{name}__isnull": True}) if nullable else Q(**{name: ""})
        return empty if op == "is_empty" else ~empty

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
                choice_build(name),
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


def custom_fields(model=None) -> list[RuleField]:
    """The active custom fields of customers (or of ``model``) as rule fields ("custom.<key>")."""
    from kehu.core import customfields

    model = model or cm.Customer
    result = []
    for d in customfields.definitions(model):
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
                refuse=_hidden(model, "custom"),
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
