"""The KPI engine: built-in metrics computed from the records per period and unit, set-based in SQL.

A *unit* is what a scorecard covers: the records the viewer may see (record scope, kehu.core.access) and,
for a viewer who may see every order, optionally one department (owners in its subtree). A viewer whose order
scope is narrower (a manager: department; a rep: own) always gets their own department as the unit: targets
and entered values are looked up for it (falling back to the company's), and the computed actuals cover
exactly the records they may see — a manager's scorecard covers their department.

Each *family* is one aggregate query per period (no per-customer Python):
- orders: net revenue (returns are negative lines), refunds, sale orders, net units;
- customers: one GROUP BY customer over the order lines up to the period end, wrapped in one outer
  aggregate: new (first purchase in the period), active at the start / still active at the end (a purchase in
  the trailing activity window, default 365 days), retained, churned, won back (bought in the period after
  more than a window of silence), and revenue split into new / retained / won back;
- tickets: time to serve (mean hours from opening to resolution of the tickets resolved in the period),
  complaints (tickets of type complaint opened in the period), SLA met rate, tickets opened;
- interactions logged; costs entered (per category) and profit = revenue − entered costs.

A value that cannot be computed is None with a sentence saying why (no customers active at the start, no
costs entered, no ticket resolved) — never NaN or infinity."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
)
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import registry
from kehu.core.access import Access, department_subtree_ids
from kehu.core.models import Department, Scope, User
from kehu.core.selectors import scoped

from .periods import Period


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    family: str
    unit: str  # KpiUnit value
    higher_is_better: bool = True


def _m(key, label, family, unit, higher=True) -> tuple[str, Metric]:
    return key, Metric(key, label, family, unit, higher)


METRICS: dict[str, Metric] = dict(
    [
        _m("revenue", gettext_lazy("Net revenue"), "orders", "money"),
        _m("refunds", gettext_lazy("Refunds"), "orders", "money", False),
        _m("orders", gettext_lazy("Sales orders"), "orders", "count"),
        _m("units", gettext_lazy("Units sold (net)"), "orders", "number"),
        _m("profit", gettext_lazy("Profit (revenue − entered costs)"), "profit", "money"),
        _m("customers", gettext_lazy("Buying customers"), "customers", "count"),
        _m("new_customers", gettext_lazy("New customers"), "customers", "count"),
        _m("retention_rate", gettext_lazy("Customer retention rate"), "customers", "percent"),
        _m("churn_rate", gettext_lazy("Customer churn rate"), "customers", "percent", False),
        _m("won_back", gettext_lazy("Won-back customers"), "customers", "count"),
        _m("revenue_new", gettext_lazy("Revenue from new customers"), "customers", "money"),
        _m("revenue_retained", gettext_lazy("Revenue from retained customers"), "customers", "money"),
        _m("revenue_won_back", gettext_lazy("Revenue from won-back customers"), "customers", "money"),
        _m("cost_acquire", gettext_lazy("Cost of acquiring customers"), "costs", "money", False),
        _m("cost_retain", gettext_lazy("Cost of retaining customers"), "costs", "money", False),
        _m("cost_develop", gettext_lazy("Cost of developing customers"), "costs", "money", False),
        _m("acquisition_cost", gettext_lazy("Acquisition cost per new customer"), "profit", "money", False),
        _m("time_to_serve", gettext_lazy("Time to serve (hours to resolve)"), "tickets", "hours", False),
        _m("complaints", gettext_lazy("Complaints"), "tickets", "count", False),
        _m("sla_met_rate", gettext_lazy("Tickets resolved within SLA"), "tickets", "percent"),
        _m("tickets", gettext_lazy("Tickets opened"), "tickets", "count", False),
        _m("interactions", gettext_lazy("Interactions logged"), "interactions", "count"),
    ]
)


def metric_choices() -> list[tuple[str, str]]:
    return [(m.key, m.label) for m in METRICS.values()]


@dataclass
class Value:
    value: float | None
    note: str = ""

    @classmethod
    def of(cls, value, note: str = "") -> Value:
        if value is None:
            return cls(None, note)
        number = float(value)
        if not math.isfinite(number):
            return cls(None, note or _("The value is not a finite number."))
        return cls(number, note)


def _settings() -> dict:
    return getattr(settings, "KEHU_ANALYTICS", {})


def currency() -> str:
    return _settings().get("CURRENCY", "CNY")


def window_days() -> int:
    return int(_settings().get("ACTIVE_WINDOW_DAYS", 365))


# ------------------------------------------------------------------------------------------------ units
@dataclass
class Unit:
    """What a scorecard covers: the records `user` may see, narrowed to `department` (subtree) if set."""

    user: User
    department: Department | None
    company_scope: bool  # may the viewer see every order (and so choose the department)?
    _owners: set[int] | None = field(default=None, repr=False)
    _base: dict = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return self.department.name if self.department else str(_("Whole company"))

    @property
    def department_ids(self) -> set[int] | None:
        return department_subtree_ids(self.department.pk) if self.department else None

    def owners(self) -> set[int] | None:
        if self.department is None:
            return None
        if self._owners is None:
            self._owners = set(
                User.objects.filter(department_id__in=self.department_ids).values_list("id", flat=True)
            )
        return self._owners

    def records(self, model) -> QuerySet:
        """The records of `model` in this unit: the viewer's record scope, then, for a department, the records
        of its customers' owners (orders: the order's owner; tickets and interactions: the customer's owner, so
        a department's tickets are those of its customers whoever handles them). Built once per model and
        request (the scope filter itself costs queries); callers add their own filters."""
        if model not in self._base:
            qs = scoped(model._default_manager.all(), user=self.user)
            owners = self.owners()
            if owners is not None:
                path = DEPARTMENT_PATHS.get(model._meta.label_lower)
                if path is None:
                    prefix, owner_field = registry.require(model).scope_path()
                    path = f"{prefix}{owner_field}" if owner_field else None
                if path:
                    qs = qs.filter(**{f"{path}_id__in": sorted(owners)})
            self._base[model] = qs
        return self._base[model]


#: how a department's records are found per model (default: the registry's owner path)
DEPARTMENT_PATHS = {
    "sales.orderline": "order__owner",
    "service.ticket": "customer__owner",
    "interactions.interaction": "customer__owner",
}


def unit_for(user, department_id=None) -> Unit:
    """The unit of a scorecard request. Viewers who may see every order choose any department (or the
    company); every other viewer gets their own department, and their record scope decides the rest."""
    access = Access.of(user)
    company = access.is_superuser or access.grant("sales.order").read_scope == Scope.ALL
    department = None
    if company:
        if department_id:
            department = Department.objects.filter(pk=department_id).first()
    else:
        department = user.department
    return Unit(user=user, department=department, company_scope=company)


# ------------------------------------------------------------------------------------------------ families
def _bounds(period: Period) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(period.start, dt.time.min).replace(tzinfo=tz)
    end = dt.datetime.combine(period.end, dt.time.min).replace(tzinfo=tz)
    return start, end


def _lines(unit: Unit) -> QuerySet:
    from kehu.sales.models import OrderLine

    return unit.records(OrderLine).filter(counted=True, currency=currency())


def order_family(unit: Unit, period: Period) -> dict[str, Value]:
    row = (
        _lines(unit)
        .filter(order_date__gte=period.start, order_date__lt=period.end)
        .aggregate(
            revenue=Sum("amount"),
            refunds=Sum("amount", filter=Q(amount__lt=0)),
            units=Sum("quantity"),
            orders=Count("order", distinct=True, filter=Q(order__kind="sale")),
        )
    )
    return {
        "revenue": Value.of(row["revenue"] or 0),
        "refunds": Value.of(-(row["refunds"] or 0)),
        "units": Value.of(row["units"] or 0),
        "orders": Value.of(row["orders"] or 0),
    }


def customer_family(unit: Unit, period: Period) -> dict[str, Value]:
    """New, retained, churned and won-back customers and the revenue split, in one grouped query wrapped in
    one outer aggregate (the inner query is the ORM's, so record scope and department apply)."""
    start, end = period.start, period.end
    window_start = start - dt.timedelta(days=window_days())
    window_end = end - dt.timedelta(days=window_days())
    bought = Q(amount__gt=0)
    per_customer = (
        _lines(unit)
        .filter(order_date__lt=end)
        .order_by()
        .values("customer_id")
        .annotate(
            c_first=Min("order_date", filter=bought),
            c_last_before=Max("order_date", filter=bought & Q(order_date__lt=start)),
            c_last=Max("order_date", filter=bought),
            c_bought_in=Count("id", filter=bought & Q(order_date__gte=start)),
            c_revenue=Sum("amount", filter=Q(order_date__gte=start)),
        )
    )
    inner, params = per_customer.query.sql_with_params()
    at_start = "(c_last_before IS NOT NULL AND c_last_before >= %s)"
    new = "c_first >= %s"
    sql = f"""
        SELECT
          SUM(CASE WHEN c_bought_in > 0 THEN 1 ELSE 0 END),
          SUM(CASE WHEN {new} THEN 1 ELSE 0 END),
          SUM(CASE WHEN {at_start} THEN 1 ELSE 0 END),
          SUM(CASE WHEN {at_start} AND c_last >= %s THEN 1 ELSE 0 END),
          SUM(CASE WHEN c_bought_in > 0 AND c_first < %s AND NOT ({at_start}) THEN 1 ELSE 0 END),
          SUM(CASE WHEN {new} THEN c_revenue ELSE 0 END),
          SUM(CASE WHEN {at_start} THEN c_revenue ELSE 0 END),
          SUM(CASE WHEN c_first < %s AND NOT ({at_start}) THEN c_revenue ELSE 0 END)
        FROM ({inner}) per_customer
    """  # noqa: S608 - the inner query is the ORM's SQL; every value is a parameter # nosec B608
    outer = [start, window_start, window_start, window_end, start, window_start, start, window_start, start,
             window_start]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, [*outer, *params])  # the SELECT list comes before FROM (inner)
        buyers, new_n, active_start, retained, won_back, rev_new, rev_retained, rev_won = cursor.fetchone()
    active_start = int(active_start or 0)
    result = {
        "customers": Value.of(buyers or 0),
        "new_customers": Value.of(new_n or 0),
        "won_back": Value.of(won_back or 0),
        "revenue_new": Value.of(rev_new or 0),
        "revenue_retained": Value.of(rev_retained or 0),
        "revenue_won_back": Value.of(rev_won or 0),
    }
    if active_start == 0:
        note = _("No customer was active at the start of the period, so retention and churn are undefined.")
        result["retention_rate"] = Value(None, note)
        result["churn_rate"] = Value(None, note)
    else:
        rate = 100.0 * int(retained or 0) / active_start
        result["retention_rate"] = Value.of(rate)
        result["churn_rate"] = Value.of(100.0 - rate)
    return result


def ticket_family(unit: Unit, period: Period) -> dict[str, Value]:
    from kehu.service.models import Ticket

    start, end = _bounds(period)
    tickets = unit.records(Ticket).filter(merged_into__isnull=True)
    resolved = tickets.filter(resolved_at__gte=start, resolved_at__lt=end).aggregate(
        n=Count("id"),
        met=Count("id", filter=Q(resolution_breached=False)),
        serve=Avg(ExpressionWrapper(F("resolved_at") - F("created_at"), output_field=DurationField())),
    )
    opened = tickets.filter(created_at__gte=start, created_at__lt=end).aggregate(
        n=Count("id"), complaints=Count("id", filter=Q(kind="complaint"))
    )
    result = {
        "tickets": Value.of(opened["n"] or 0),
        "complaints": Value.of(opened["complaints"] or 0),
    }
    if not resolved["n"]:
        note = _("No ticket was resolved in the period.")
        result["time_to_serve"] = Value(None, note)
        result["sla_met_rate"] = Value(None, note)
    else:
        serve = resolved["serve"]
        if isinstance(serve, (int, float, Decimal)):  # some backends return microseconds
            serve = dt.timedelta(microseconds=float(serve))
        result["time_to_serve"] = Value.of(serve.total_seconds() / 3600 if serve is not None else None)
        result["sla_met_rate"] = Value.of(100.0 * resolved["met"] / resolved["n"])
    return result


def interaction_family(unit: Unit, period: Period) -> dict[str, Value]:
    from kehu.interactions.models import Interaction

    start, end = _bounds(period)
    n = unit.records(Interaction).filter(occurred_at__gte=start, occurred_at__lt=end).count()
    return {"interactions": Value.of(n)}


def costs(unit: Unit, period: Period, *, by_campaign: bool = False) -> dict:
    """Entered costs of the period per category (and campaign): the company's are every entry, a
    department's are the entries of its subtree."""
    from .models_scorecard import CostEntry

    qs = CostEntry.objects.filter(date__gte=period.start, date__lt=period.end, currency=currency())
    if unit.department is not None:
        qs = qs.filter(department_id__in=unit.department_ids)
    keys = ["category", "campaign"] if by_campaign else ["category"]
    rows = qs.order_by().values(*keys).annotate(total=Sum("amount"), n=Count("id"))
    if by_campaign:
        return {(r["category"], r["campaign"]): r["total"] for r in rows}
    return {r["category"]: r["total"] for r in rows}


def cost_family(unit: Unit, period: Period) -> dict[str, Value]:
    totals = costs(unit, period)
    return {f"cost_{c}": Value.of(totals.get(c) or 0) for c in ("acquire", "retain", "develop")} | {
        "_costs_total": Value.of(sum(totals.values()) if totals else None)
    }


FAMILIES = {
    "orders": order_family,
    "customers": customer_family,
    "tickets": ticket_family,
    "interactions": interaction_family,
    "costs": cost_family,
}


class Calculator:
    """Metric values of one unit, memoised per (family, period) for one request."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self._cache: dict[tuple[str, Period], dict[str, Value]] = {}

    def family(self, name: str, period: Period) -> dict[str, Value]:
        key = (name, period)
        if key not in self._cache:
            self._cache[key] = FAMILIES[name](self.unit, period)
        return self._cache[key]

    def value(self, metric: str, period: Period) -> Value:
        spec = METRICS.get(metric)
        if spec is None:
            return Value(None, _("Unknown metric."))
        if spec.family != "profit":
            return self.family(spec.family, period)[metric]
        if metric == "profit":
            revenue = self.family("orders", period)["revenue"]
            total = self.family("costs", period)["_costs_total"]
            if total.value is None:
                return Value(None, _("No costs entered for the period: profit needs the cost of sales."))
            return Value.of(revenue.value - total.value)
        # acquisition cost per new customer
        new = self.family("customers", period)["new_customers"].value or 0
        spent = self.family("costs", period)["cost_acquire"].value or 0
        if not new:
            return Value(None, _("No new customers in the period: the cost per new customer is undefined."))
        return Value.of(spent / new)

    def figures(self, period: Period) -> dict[str, Value]:
        """Every built-in metric for one period (the API's /kpi-metrics/ and the economics page)."""
        return {key: self.value(key, period) for key in METRICS}
