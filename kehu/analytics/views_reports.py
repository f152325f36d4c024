"""Report builder pages: the list of one's reports, the builder (a plain form: pick a record type, fields,
filters, group-bys, measures, chart; preview; save and share), a report's page (chart, pivot table, exports),
the drill-down (the generic record list with the report's filters and the cell's keys applied) and the role
dashboards. Charts are drawn by static/analytics/reports.js from json_script data (no inline script)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.access import Access
from kehu.core.models import Role, Team, User
from kehu.ui.generic import Column, RecordListView

from . import reports, services_reports
from .models_reports import ChartType, Schedule

GROUP_SLOTS = 3
MEASURE_SLOTS = 3
FILTER_SLOTS = 4


# ------------------------------------------------------------------------------------------------ form <-> spec
def spec_from_params(params) -> dict:
    """The builder form's fields (GET or POST) as a report definition."""
    spec: dict = {"model": params.get("model", ""), "group_by": [], "measures": [], "filters": []}
    for i in range(1, GROUP_SLOTS + 1):
        f = params.get(f"g{i}", "")
        if f:
            g: dict = {"field": f}
            if params.get(f"b{i}"):
                g["bucket"] = params.get(f"b{i}")
            if params.get(f"l{i}"):
                g["level"] = params.get(f"l{i}")
            spec["group_by"].append(g)
    for i in range(1, MEASURE_SLOTS + 1):
        agg = params.get(f"ma{i}", "")
        if agg:
            m = {"agg": agg}
            if params.get(f"mf{i}"):
                m["field"] = params.get(f"mf{i}")
            spec["measures"].append(m)
    for i in range(1, FILTER_SLOTS + 1):
        f = params.get(f"ff{i}", "")
        if f:
            spec["filters"].append(
                {"field": f, "op": params.get(f"fo{i}", "eq"), "value": params.get(f"fv{i}", "")}
            )
    spec["chart"] = params.get("chart") or ChartType.BAR
    return spec


def params_from_spec(spec: dict) -> dict:
    params = {"model": spec.get("model", ""), "chart": spec.get("chart", ChartType.BAR)}
    for i, g in enumerate(spec.get("group_by", []), 1):
        params[f"g{i}"] = g.get("field", "")
        params[f"b{i}"] = g.get("bucket", "") or ""
        params[f"l{i}"] = g.get("level", "") or ""
    for i, m in enumerate(spec.get("measures", []), 1):
        params[f"ma{i}"] = m.get("agg", "")
        params[f"mf{i}"] = m.get("field", "") or ""
    for i, f in enumerate(spec.get("filters", []), 1):
        params[f"ff{i}"] = f.get("field", "")
        params[f"fo{i}"] = f.get("op", "eq")
        value = f.get("value", "")
        params[f"fv{i}"] = (
            ",".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value))
        )
    return params


def drill_url(spec_dict: dict, keys: list) -> str:
    query = [("s", reports.encode_spec(spec_dict))] + [
        ("k", reports.NULL if k is None else str(k)) for k in keys
    ]
    return reverse("analytics:report_drill") + "?" + urlencode(query)


def chart_payload(result: dict, spec_dict: dict) -> dict:
    """What reports.js draws: categories, series (with a drill-down link per point) and the chart type."""
    chart = result["chart"]
    groups = result["groups"]
    if not groups:
        row = result["rows"][0] if result["rows"] else {"values": []}
        return {
            "chart": chart,
            "categories": [m["label"] for m in result["measures"]],
            "series": [
                {
                    "name": result["title"],
                    "data": row["values"],
                    "urls": [drill_url(spec_dict, [])] * len(row["values"]),
                }
            ],
        }
    if len(groups) == 1:
        categories = [r["labels"][0] for r in result["rows"]]
        urls = [drill_url(spec_dict, r["keys"]) for r in result["rows"]]
        series = [
            {"name": m["label"], "data": [r["values"][j] for r in result["rows"]], "urls": urls}
            for j, m in enumerate(result["measures"])
        ]
        return {"chart": chart, "categories": categories, "series": series, "pie": chart == ChartType.PIE}
    p = result["pivot"]
    series = []
    for c_index, col in enumerate(p["columns"]):
        series.append(
            {
                "name": col["label"],
                "data": [
                    row_cells[c_index] if row_cells[c_index] is not None else 0 for row_cells in p["cells"]
                ],
                "urls": [drill_url(spec_dict, [row["key"], *col["keys"]]) for row in p["rows"]],
            }
        )
    return {"chart": chart, "categories": [r["label"] for r in p["rows"]], "series": series, "stacked": True}


def pivot_view(result: dict, spec_dict: dict) -> dict | None:
    p = result.get("pivot")
    if not p:
        return None
    rows = []
    for row, cells, total in zip(p["rows"], p["cells"], p["row_totals"], strict=True):
        rows.append(
            {
                "label": row["label"],
                "total": total,
                "url": drill_url(spec_dict, [row["key"]]),
                "cells": [
                    {"value": v, "url": drill_url(spec_dict, [row["key"], *col["keys"]])}
                    for v, col in zip(cells, p["columns"], strict=True)
                ],
            }
        )
    return {
        "across": " · ".join(str(g["label"]) for g in result["groups"][1:]),
        "columns": p["columns"],
        "rows": rows,
        "column_totals": p["column_totals"],
        "total": sum(p["row_totals"]),
    }


def table_rows(result: dict, spec_dict: dict) -> list[dict]:
    return [
        {"labels": r["labels"], "values": r["values"], "url": drill_url(spec_dict, r["keys"])}
        for r in result["rows"]
    ]


def _result_context(result: dict, spec_dict: dict) -> dict:
    return {
        "result": result,
        "chart_data": chart_payload(result, spec_dict),
        "pivot": pivot_view(result, spec_dict),
        "rows": table_rows(result, spec_dict),
    }


# ------------------------------------------------------------------------------------------------ pages
def report_list(request):
    items = services_reports.report_list(user=request.user)
    return render(
        request,
        "analytics/reports/list.html",
        {"title": _("Reports"), "reports": items, "user_id": request.user.pk},
    )


def _builder_context(request, params: dict, report=None) -> dict:
    models_ = reports.report_models(user=request.user)
    model = params.get("model", "")
    catalogue = reports.catalogue_for_ui(model, user=request.user) if model else []
    ctx = {
        "title": report.name if report else _("New report"),
        "report": report,
        "models": models_,
        "params": params,
        "catalogue": catalogue,
        "numeric": [c for c in catalogue if c["numeric"]],
        "dated": [c for c in catalogue if c["kind"] in {"date", "datetime"}],
        "buckets": list(reports.BUCKETS.items()),
        "aggregates": list(reports.AGGREGATES.items()),
        "operators": list(reports.OPERATOR_LABELS.items()),
        "charts": ChartType.choices,
        "schedules": Schedule.choices,
        "group_slots": [str(i) for i in range(1, GROUP_SLOTS + 1)],
        "measure_slots": [str(i) for i in range(1, MEASURE_SLOTS + 1)],
        "filter_slots": [str(i) for i in range(1, FILTER_SLOTS + 1)],
        "roles": Role.objects.order_by("name"),
        "teams": Team.objects.order_by("name"),
        "users": User.objects.filter(is_active=True)
        .exclude(email="")
        .order_by("username")
        .only("id", "username", "display_name"),
        "shared_role_ids": set(report.shared_roles.values_list("id", flat=True)) if report else set(),
        "shared_team_ids": set(report.shared_teams.values_list("id", flat=True)) if report else set(),
        "recipient_ids": set(report.recipients.values_list("id", flat=True)) if report else set(),
        "errors": [],
        # the save form keeps the report's name while its definition is previewed
        "save_name": params.get("name") or (report.name if report else ""),
        "save_description": params.get("description") or (report.description if report else ""),
    }
    return ctx


def _ids(values, model) -> list:
    ids = [int(v) for v in values if str(v).isdigit()]
    return list(model.objects.filter(pk__in=ids))


def report_builder(request, pk=None):
    """Build (or edit) a report: GET with the form's fields previews it, POST saves it."""
    report = services_reports.report_get(user=request.user, pk=pk) if pk else None
    if report is not None and not services_reports.can_change(report, request.user):
        raise PermissionDenied(_("Only the owner changes a report."))
    data = request.POST if request.method == "POST" else request.GET
    if report is not None and request.method == "GET" and "model" not in data:
        params = params_from_spec(report.spec)
        params.update({"name": report.name, "description": report.description, "schedule": report.schedule})
    else:
        params = {k: data.get(k, "") for k in data}
    ctx = _builder_context(request, params, report)
    spec_dict = spec_from_params(params)
    if params.get("model") and (request.method == "POST" or "preview" in data or report is not None):
        try:
            spec = reports.parse_spec(spec_dict, user=request.user)
        except reports.ReportError as exc:
            ctx["errors"] = exc.messages
            return render(
                request,
                "analytics/reports/builder.html",
                ctx,
                status=400 if request.method == "POST" else 200,
            )
        if request.method == "POST":
            schedule = data.get("schedule", "")
            if schedule not in Schedule.values:
                schedule = ""
            saved = services_reports.report_save(
                by=request.user,
                spec=spec,
                name=data.get("name", ""),
                description=data.get("description", "")[:2000],
                report=report,
                shared_roles=_ids(data.getlist("shared_roles"), Role),
                shared_teams=_ids(data.getlist("shared_teams"), Team),
                schedule=schedule,
                recipients=[u for u in _ids(data.getlist("recipients"), User) if u.is_active],
            )
            messages.success(request, _("Report saved."))
            return redirect("analytics:report", pk=saved.pk)
        ctx.update(_result_context(reports.run(spec, user=request.user), spec.as_dict()))
    return render(request, "analytics/reports/builder.html", ctx)


def report_detail(request, pk):
    report = services_reports.report_get(user=request.user, pk=pk)
    ctx = {
        "title": report.name,
        "report": report,
        "can_change": services_reports.can_change(report, request.user),
    }
    try:
        spec = reports.parse_spec(report.spec, user=request.user)
        ctx.update(_result_context(reports.run(spec, user=request.user), spec.as_dict()))
    except reports.ReportError as exc:
        ctx["errors"] = exc.messages
    return render(request, "analytics/reports/detail.html", ctx)


def report_export(request, pk, fmt):
    report = services_reports.report_get(user=request.user, pk=pk)
    try:
        result = services_reports.report_run(report=report, user=request.user)
    except reports.ReportError as exc:
        return HttpResponse("; ".join(exc.messages), status=400, content_type="text/plain; charset=utf-8")
    services_reports.log_export(report_name=report.name, user=request.user, fmt=fmt, model=report.model)
    stamp = timezone.localdate().strftime("%Y%m%d")
    if fmt == "pdf":
        response = HttpResponse(
            services_reports.export_pdf(result=result, name=report.name), content_type="application/pdf"
        )
    else:
        response = HttpResponse(
            services_reports.export_xlsx(result=result, name=report.name), content_type=services_reports.XLSX
        )
    response["Content-Disposition"] = f'attachment; filename="report-{report.pk}-{stamp}.{fmt}"'
    return response


@require_POST
def report_delete(request, pk):
    report = services_reports.report_get(user=request.user, pk=pk)
    services_reports.report_delete(report=report, by=request.user)
    messages.success(request, _("Report deleted."))
    return redirect("analytics:reports")


@require_POST
def report_pin(request, pk):
    """An administrator puts a report on (or takes it off) a role's dashboard."""
    report = services_reports.report_get(user=request.user, pk=pk)
    role = Role.objects.filter(
        pk=request.POST.get("role") if str(request.POST.get("role", "")).isdigit() else None
    ).first()
    if role is None:
        messages.error(request, _("Choose a role."))
    else:
        pinned = services_reports.dashboard_pin(
            report=report, role=role, by=request.user, pin=request.POST.get("pin") == "1"
        )
        messages.success(
            request, _("Added to the dashboard.") if pinned else _("Removed from the dashboard.")
        )
    return redirect("analytics:report", pk=report.pk)


def dashboard(request):
    """The dashboards of the user's roles: saved reports as widgets, each run for the viewer's scope."""
    widgets = []
    for w in services_reports.dashboard_widgets(user=request.user):
        item = {"widget": w, "report": w.report, "errors": []}
        try:
            spec = reports.parse_spec(w.report.spec, user=request.user)
            item.update(_result_context(reports.run(spec, user=request.user), spec.as_dict()))
        except reports.ReportError as exc:
            item["errors"] = exc.messages
        widgets.append(item)
    return render(request, "analytics/reports/dashboard.html", {"title": _("Dashboard"), "widgets": widgets})


class ReportDrill(RecordListView):
    """The records behind a chart point or pivot cell: the generic list (paging, sorting, export, saved views)
    over `reports.drill_queryset` — the reader's scope, the report's filters and the cell's keys."""

    template_name = "analytics/reports/drill.html"
    list_key = "analytics.report_drill"

    def dispatch(self, request, *args, **kwargs):
        if not Access.of(request.user).authenticated:
            return redirect(f"{reverse('login')}?next={request.path}")
        try:
            self.spec = reports.parse_spec(reports.decode_spec(request.GET.get("s", "")), user=request.user)
            self.keys = request.GET.getlist("k")
            self.drill_qs = reports.drill_queryset(self.spec, self.keys, user=request.user)
        except reports.ReportError as exc:
            return render(
                request,
                "analytics/reports/error.html",
                {"title": _("Report"), "errors": exc.messages},
                status=400,
            )
        self.model = self.spec.model
        self.columns = self._columns()
        self.export_fields = [c.name for c in self.columns]
        self.select_related = tuple(
            c.name for c in self.columns if self.model._meta.get_field(c.name).is_relation
        )
        return super().dispatch(request, *args, **kwargs)

    def _columns(self) -> list[Column]:
        hidden = self.access.hidden_fields(self.model)
        names: list[str] = []
        title = reports._title(self.model, self.access)
        if title:
            names.append(title)
        # the records a line belongs to: enough to recognise it in the list
        names += [n for n in ("order", "customer", "owner") if n not in hidden]
        paths = [g.info.path for g in self.spec.groups] + [m.info.path for m in self.spec.measures if m.info]
        paths += [f.info.path for f in self.spec.filters]
        for p in paths:
            names.append(p.split("__")[0])
        cols = []
        for name in dict.fromkeys(names):
            try:
                f = self.model._meta.get_field(name)
            except (
                FieldDoesNotExist
            ):  # a path through a reverse relation (the customer's score) has no column
                continue
            if not getattr(f, "concrete", False) or name in hidden:
                continue
            cols.append(Column(name, str(f.verbose_name).capitalize(), None if f.is_relation else name))
        if not cols:
            cols.append(Column("pk", "#", "pk"))
        return cols

    def base_queryset(self):
        return self.drill_qs

    def model_context(self) -> dict:
        ctx = super().model_context()
        ctx["can"] = {"export": ctx["can"].get("export", False)}
        return ctx

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        labels = []
        for g, k in zip(self.spec.groups, self.keys, strict=False):
            labels.append(f"{g.label}: {'—' if k == reports.NULL else k}")
        ctx.update(
            {
                "title": _("%(records)s behind the figure")
                % {"records": str(self.model._meta.verbose_name_plural).capitalize()},
                "drill_labels": labels,
                "drill_filters": [
                    f"{f.info.label} {reports.OPERATOR_LABELS[f.op]} {f.raw}" for f in self.spec.filters
                ],
                "bulk_users": [],
                "bulk_tags": [],
            }
        )
        return ctx
