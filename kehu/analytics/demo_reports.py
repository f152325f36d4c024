"""Demo dashboards: saved reports on the dashboards of the demo roles (rep: my pipeline and orders; manager:
the team's; executive: the company's; service agent: tickets). Each viewer sees them within their own scope,
so one "pipeline by stage" report is the rep's own pipeline and the manager's team pipeline."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kehu.core.models import Role, User

from .models_reports import DashboardWidget, Report

MONTH = {"field": "order_date", "bucket": "month"}
COUNTED = [{"field": "counted", "op": "eq", "value": True}]

#: role code -> [(name, spec, wide)]
DASHBOARDS = {
    "sales_rep": [
        (_("Pipeline by stage"), {"model": "sales.opportunity", "group_by": [{"field": "stage"}],
                                  "measures": [{"agg": "sum", "field": "amount"}, {"agg": "count"}],
                                  "filters": [{"field": "status", "op": "eq", "value": "open"}], "chart": "bar"}, False),
        (_("Orders by month"), {"model": "sales.order", "group_by": [MONTH],
                                "measures": [{"agg": "sum", "field": "net_amount"}, {"agg": "count"}], "chart": "line"}, False),
    ],
    "sales_manager": [
        (_("Team pipeline by owner"), {"model": "sales.opportunity", "group_by": [{"field": "owner"}],
                                       "measures": [{"agg": "sum", "field": "amount"}],
                                       "filters": [{"field": "status", "op": "eq", "value": "open"}], "chart": "bar"}, False),
        (_("Orders by month and owner"), {"model": "sales.order", "group_by": [MONTH, {"field": "owner"}],
                                          "measures": [{"agg": "sum", "field": "net_amount"}], "chart": "bar"}, True),
    ],
    "executive": [
        (_("Revenue by month and RFM segment"), {"model": "sales.orderline",
                                                 "group_by": [MONTH, {"field": "customer__analytics_score__segment"}],
                                                 "measures": [{"agg": "sum", "field": "amount"}], "filters": COUNTED,
                                                 "chart": "bar"}, True),
        (_("Revenue by department"), {"model": "sales.orderline",
                                      "group_by": [{"field": "order__owner__department", "level": 2}],
                                      "measures": [{"agg": "sum", "field": "amount"}], "filters": COUNTED,
                                      "chart": "pie"}, False),
        (_("Customers by RFM segment"), {"model": "customers.customer",
                                         "group_by": [{"field": "analytics_score__segment"}],
                                         "measures": [{"agg": "count"}], "chart": "pie"}, False),
    ],
    "service_agent": [
        (_("Tickets by status"), {"model": "service.ticket", "group_by": [{"field": "status"}],
                                  "measures": [{"agg": "count"}], "chart": "pie"}, False),
        (_("Tickets by week and priority"), {"model": "service.ticket",
                                             "group_by": [{"field": "created_at", "bucket": "week"}, {"field": "priority"}],
                                             "measures": [{"agg": "count"}], "chart": "bar"}, True),
    ],
}  # fmt: skip


def seed_dashboards() -> int:
    """Create the demo dashboards (owned by the first administrator); returns the number of widgets."""
    owner = User.objects.filter(is_superuser=True).order_by("pk").first()
    if owner is None:
        return 0
    count = 0
    for code, items in DASHBOARDS.items():
        role = Role.objects.filter(code=code).first()
        if role is None:
            continue
        for position, (name, spec, wide) in enumerate(items):
            report, _created = Report.objects.get_or_create(
                owner=owner,
                name=str(name),
                defaults={"model": spec["model"], "spec": spec, "chart": spec.get("chart", "bar")},
            )
            report.shared_roles.add(role)
            DashboardWidget.objects.get_or_create(
                role=role, report=report, defaults={"position": position, "wide": wide}
            )
            count += 1
    return count
