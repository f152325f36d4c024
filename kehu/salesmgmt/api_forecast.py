"""Forecast and dashboard API (ADR 0014, "Forecast and dashboards").

- `GET /api/forecast/?period=2026-Q2[&rep=ID]`: figures per rep and in total (scoped like the page).
- `GET /api/forecast/deals/?period=…`: the period's deals with their categories.
- `POST /api/forecast/categories/` `{"changes": {"<deal id>": "commit", …}}`: all or nothing.
- `POST /api/forecast/adjustments/` `{"rep", "period", "amount", "note", "version"}`: the manager's figure.
- `POST /api/forecast/team-adjustments/` `{"team", "period", "amount", "note", "version"}`: the manager's figure
  for a whole team (every member inside the writer's adjustment scope), kept beside the sum of the reps'.
- `GET /api/forecast/snapshots/?period=…`: weekly snapshots beside what happened.
- `GET /api/sales-dashboard/` (`?team=1` for the manager's): the day in figures and short lists.
Money figures are left out (not nulled: absent) when the opportunity amount is hidden from the reader's role.
Refusals are 400 naming the field (`category-<id>`, `amount`, `period`), 403 outside scope; nothing half-saved."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from kehu.core.access import Access
from kehu.core.models import User

from . import selectors_dashboard
from .models import ForecastCategory
from .services import forecast as fc
from .views_forecast import period_deals

PERIOD = OpenApiParameter("period", str, description="2026, 2026-Q2 or 2026-05 (default: this quarter)")
REP = OpenApiParameter("rep", int, required=False)
MONEY = ("pipeline", "weighted", "best_case", "commit", "won")


def _money(value) -> str | None:
    return None if value is None else str(Decimal(value).quantize(fc.CENT))


def _period(request) -> fc.Period:
    return fc.Period.parse(request.query_params.get("period"))


def _forecast_json(f: fc.Forecast) -> dict:
    out: dict = {"period": f.period.token, "closed": f.closed, "prorated_targets": f.prorated,
                 "amount_hidden": f.amount_hidden, "can_adjust": f.can_adjust, "reps": []}  # fmt: skip
    if not f.amount_hidden:
        out["total"] = {name: _money(getattr(f.total, name)) for name in MONEY}
        out.update(target=_money(f.target), forecast=_money(f.forecast), final=_money(f.final))
    for r in f.rows:
        row: dict = {"rep": r.rep.pk, "rep_name": r.rep.get_full_name() or r.rep.username}
        if r.adjustment is not None:
            row.update(adjustment_id=r.adjustment.pk, adjustment_version=r.adjustment.version)
            if not f.note_hidden:
                row["manager_note"] = r.adjustment.note
        if not f.amount_hidden:
            row.update({name: _money(getattr(r.totals, name)) for name in MONEY})
            row.update(forecast=_money(r.forecast), manager_forecast=_money(r.manager_forecast),
                       final=_money(r.final), target=_money(r.target),
                       attainment=None if r.attainment is None else str(r.attainment))  # fmt: skip
        out["reps"].append(row)
    if f.teams:
        out["teams"] = []
    for t in f.teams:
        row = {"team": t.team.pk, "team_name": t.team.name, "reps": [r.rep.pk for r in t.reps]}
        if t.adjustment is not None:
            row.update(adjustment_id=t.adjustment.pk, adjustment_version=t.adjustment.version)
            if not f.team_note_hidden:
                row["manager_note"] = t.adjustment.note
        if not f.amount_hidden:
            row.update(forecast=_money(t.forecast), reps_final=_money(t.reps_final),
                       manager_forecast=_money(t.manager_forecast), final=_money(t.final), target=_money(t.target))  # fmt: skip
        out["teams"].append(row)
    return out


class _Adjustment(serializers.Serializer):
    rep = serializers.IntegerField(min_value=1)
    period = serializers.CharField()
    amount = serializers.CharField()
    note = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None)
    version = serializers.IntegerField(required=False, allow_null=True, default=None)


class _TeamAdjustment(serializers.Serializer):
    team = serializers.IntegerField(min_value=1)
    period = serializers.CharField()
    amount = serializers.CharField()
    note = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None)
    version = serializers.IntegerField(required=False, allow_null=True, default=None)


class ForecastViewSet(viewsets.ViewSet):
    permission_classes = [permissions.IsAuthenticated]

    def _need_deals(self, request) -> None:
        if not Access.of(request.user).can("view", "sales.opportunity"):
            raise exceptions.PermissionDenied()

    @extend_schema(parameters=[PERIOD, REP], responses=OpenApiTypes.OBJECT)
    def list(self, request):
        self._need_deals(request)
        rep = request.query_params.get("rep", "")
        if rep and not rep.isdigit():
            raise exceptions.ValidationError({"rep": ["Give a user id."]})
        f = fc.forecast_for(user=request.user, period=_period(request), rep_ids={int(rep)} if rep else None)
        return Response(_forecast_json(f))

    @extend_schema(parameters=[PERIOD, REP], responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["get"])
    def deals(self, request):
        self._need_deals(request)
        hidden = fc.amount_hidden(request.user)
        rows = []
        for d in period_deals(user=request.user, period=_period(request))[:1000]:
            entry = getattr(d, "forecast_entry", None)
            row = {"id": d.pk, "name": d.name, "owner": d.owner_id, "status": d.status,
                   "expected_close_date": d.expected_close_date, "probability": d.probability,
                   "category": entry.category if entry else ForecastCategory.PIPELINE,
                   "category_version": entry.version if entry else None}  # fmt: skip
            if not hidden:
                row.update(amount=_money(d.amount), currency=d.currency)
            rows.append(row)
        return Response({"results": rows})

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"])
    def categories(self, request):
        changes = request.data.get("changes") if isinstance(request.data, dict) else None
        if not isinstance(changes, dict) or not changes:
            raise exceptions.ValidationError({"changes": ['An object {"<deal id>": "<category>"}.']})
        parsed: dict[int, str] = {}
        for key, value in changes.items():
            if not str(key).isdigit() or not isinstance(value, str):
                raise exceptions.ValidationError({f"category-{key}": ["Unknown deal or category."]})
            parsed[int(key)] = value
        n = fc.categories_set(changes=parsed, by=request.user)
        return Response({"changed": n})

    @extend_schema(request=_Adjustment, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"])
    def adjustments(self, request):
        body = _Adjustment(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        rep = User.objects.filter(pk=data["rep"], is_active=True).first()
        if rep is None:
            raise serializers.ValidationError({"rep": [_("No such sales rep.")]})
        period = fc.Period.parse(data["period"])
        adj = fc.adjustment_set(rep=rep, period=period, amount=data["amount"], note=data["note"],
                                by=request.user, expected_version=data["version"])  # fmt: skip
        body = {"id": adj.pk, "rep": adj.rep_id, "period": period.token, "amount": _money(adj.amount),
                "note": adj.note, "version": adj.version, "adjusted_by": adj.adjusted_by_id}  # fmt: skip
        if "note" in Access.of(request.user).hidden_fields(adj):
            del body["note"]
        return Response(body)

    @extend_schema(request=_TeamAdjustment, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"], url_path="team-adjustments")
    def team_adjustments(self, request):
        from kehu.core.models import Team

        from .services import forecast_teams

        body = _TeamAdjustment(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        team = Team.objects.filter(pk=data["team"]).first()
        if team is None or not forecast_teams.team_visible(user=request.user, team=team):
            raise serializers.ValidationError({"team": [_("No such team.")]})
        period = fc.Period.parse(data["period"])
        adj = forecast_teams.team_adjustment_set(team=team, period=period, amount=data["amount"], note=data["note"],
                                                 by=request.user, expected_version=data["version"])  # fmt: skip
        out = {"id": adj.pk, "team": adj.team_id, "period": period.token, "amount": _money(adj.amount),
               "note": adj.note, "version": adj.version, "adjusted_by": adj.adjusted_by_id}  # fmt: skip
        hidden = Access.of(request.user).hidden_fields(adj)
        for name in ("note", "amount"):
            if name in hidden:
                del out[name]
        return Response(out)

    @extend_schema(parameters=[PERIOD, REP], responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["get"])
    def snapshots(self, request):
        if not Access.of(request.user).can("view", "salesmgmt.forecastsnapshot"):
            raise exceptions.PermissionDenied()
        cmp = fc.snapshot_comparison(user=request.user, period=_period(request))
        weeks = []
        for w in cmp["weeks"]:
            row: dict = {"week": w["week"]}
            if not cmp["amount_hidden"]:
                row.update({k: _money(w[k]) for k in (*MONEY, "adjusted", "forecast", "error")})
                row["accuracy"] = None if w["accuracy"] is None else str(w["accuracy"])
            weeks.append(row)
        out: dict = {"period": cmp["period"].token, "over": cmp["over"], "weeks": weeks}
        if not cmp["amount_hidden"]:
            out["actual"] = _money(cmp["actual"])
        return Response(out)


class SalesDashboardViewSet(viewsets.ViewSet):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("team", bool, required=False)], responses=OpenApiTypes.OBJECT)
    def list(self, request):
        access = Access.of(request.user)
        if not access.can("view", "sales.opportunity"):
            raise exceptions.PermissionDenied()
        team = request.query_params.get("team") in ("1", "true")
        if team and not access.can("change", "salesmgmt.forecastadjustment"):
            raise PermissionDenied
        day = (
            selectors_dashboard.team_day(user=request.user)
            if team
            else selectors_dashboard.my_day(user=request.user)
        )

        def deals(listing):
            if listing is None:
                return None
            items = [{"id": d.pk, "name": d.name, "owner": d.owner_id, "expected_close_date": d.expected_close_date,
                      **({} if day.amount_hidden else {"amount": _money(d.amount)})} for d in listing.items]  # fmt: skip
            return {"total": listing.total, "items": items}

        out = {
            "today": day.today,
            "tasks": None if day.tasks is None else {
                "total": day.tasks.total,
                "items": [{"id": t.pk, "title": t.title, "due_at": t.due_at} for t in day.tasks.items],
            },
            "visits": [{"id": v.pk, "owner": v.owner_id, "customer": str(v.customer), "planned_start": v.planned_start,
                        "status": v.status} for v in day.visits],
            "stalled": deals(day.stalled),
            "closing_this_month": deals(day.closing),
            "forecast_quarter": None if day.forecast is None else _forecast_json(day.forecast),
            "forecast_month": None if day.month_forecast is None else _forecast_json(day.month_forecast),
        }  # fmt: skip
        return Response(out)


def register(router) -> None:
    router.register("forecast", ForecastViewSet, basename="forecast")
    router.register("sales-dashboard", SalesDashboardViewSet, basename="sales-dashboard")
