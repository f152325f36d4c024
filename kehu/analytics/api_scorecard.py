"""API of the balanced scorecard.

- GET /api/analytics/scorecard/?period=quarter&at=2026-04-01[&department=3]: the four perspectives, each KPI with
  target, actual, status, attainment, trend and owner, and the cause → effect links (for whoever may see
  analytics; actuals over the records the caller may see).
- GET /api/analytics/kpi-metrics/?period=…&at=…: every built-in metric of the period (value and, when it is
  undefined, the reason).
- /api/analytics/kpis/, kpi-targets/, kpi-values/, kpi-links/, cost-entries/, initiatives/,
  initiative-cash-flows/: the definitions and entered rows (CRUD through the record service; rights from the
  roles' grants on each model; If-Match on changes). GET /api/analytics/initiatives/{id}/evaluation/: ROI, NPV,
  IRR, payback and the cash flows."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from kehu.core.api import AccessAwareSerializer, OneObjectSchema, ScopedModelViewSet
from kehu.customers.models import Customer

from . import kpis, scorecard
from .models_scorecard import CostEntry, Initiative, InitiativeCashFlow, Kpi, KpiLink, KpiTarget, KpiValue
from .periods import PeriodType, parse

PERIOD_PARAMS = [
    OpenApiParameter("period", str, enum=[c for c, _l in PeriodType.choices], description="default: quarter"),
    OpenApiParameter("at", str, description="a day of the period (YYYY-MM-DD); default: today"),
]


class ScorecardPeriodSerializer(serializers.Serializer):
    type = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField(help_text="exclusive")
    label = serializers.CharField()


class ScorecardKpiSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    perspective = serializers.CharField()
    unit = serializers.CharField()
    source = serializers.CharField()
    metric = serializers.CharField(allow_blank=True)
    higher_is_better = serializers.BooleanField()
    owner = serializers.CharField(allow_null=True)
    actual = serializers.FloatField(allow_null=True)
    target = serializers.FloatField(allow_null=True)
    attainment = serializers.FloatField(allow_null=True, help_text="actual / target in %")
    status = serializers.ChoiceField(choices=list(scorecard.STATUS_LABELS))
    note = serializers.CharField(allow_blank=True, help_text="why the actual is missing, when it is")
    trend = serializers.ListField(child=serializers.FloatField(allow_null=True))
    target_is_company = serializers.BooleanField()
    value_is_company = serializers.BooleanField()


class ScorecardPerspectiveSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    kpis = ScorecardKpiSerializer(many=True)


class ScorecardLinkSerializer(serializers.Serializer):
    cause = serializers.IntegerField()
    effect = serializers.IntegerField()
    note = serializers.CharField(allow_blank=True)


class ScorecardSerializer(serializers.Serializer):
    period = ScorecardPeriodSerializer()
    unit = serializers.CharField()
    department = serializers.IntegerField(allow_null=True)
    trend_periods = serializers.ListField(child=serializers.CharField())
    perspectives = ScorecardPerspectiveSerializer(many=True)
    links = ScorecardLinkSerializer(many=True)


class KpiMetricValueSerializer(serializers.Serializer):
    metric = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    note = serializers.CharField(allow_blank=True)


def _period(request):
    return parse(
        request.query_params.get("period"), request.query_params.get("at"), today=timezone.localdate()
    )


def _period_dict(p) -> dict:
    return {"type": p.kind, "start": p.start, "end": p.end, "label": p.label}


class _AnalyticsReaders(viewsets.GenericViewSet):
    """Readable by whoever may see analytics (the view right on customers, as the customer value pages)."""

    model = Customer
    pagination_class = None

    @property
    def queryset(self):
        return Customer.objects.none()


_OneObjectSchema = OneObjectSchema  # the scorecard is one object per request, although it is the `list`


class ScorecardViewSet(_AnalyticsReaders):
    serializer_class = ScorecardSerializer
    schema = _OneObjectSchema()

    @extend_schema(
        parameters=[*PERIOD_PARAMS, OpenApiParameter("department", int), OpenApiParameter("trend", int)],
        responses={200: ScorecardSerializer},
    )
    def list(self, request):
        period = _period(request)
        try:
            trend = min(24, max(1, int(request.query_params.get("trend", 8))))
        except ValueError:
            trend = 8
        department = request.query_params.get("department")
        card = scorecard.build(
            user=request.user, period=period, department_id=department if str(department).isdigit() else None,
            trend=trend,
        )  # fmt: skip
        data = {
            "period": _period_dict(period),
            "unit": card["unit"].label,
            "department": card["unit"].department.pk if card["unit"].department else None,
            "trend_periods": [p.label for p in card["periods"]],
            "perspectives": [
                {"key": p["key"], "label": str(p["label"]), "kpis": [r.as_dict() for r in p["rows"]]}
                for p in card["perspectives"]
            ],
            "links": [
                {"cause": lk.cause_id, "effect": lk.effect_id, "note": lk.note} for lk in card["links"]
            ],
        }
        return Response(ScorecardSerializer(data).data)


class MetricViewSet(_AnalyticsReaders):
    serializer_class = KpiMetricValueSerializer

    @extend_schema(
        parameters=[*PERIOD_PARAMS, OpenApiParameter("department", int)],
        responses={200: KpiMetricValueSerializer(many=True)},
    )
    def list(self, request):
        period = _period(request)
        department = request.query_params.get("department")
        unit = kpis.unit_for(request.user, department if str(department).isdigit() else None)
        values = kpis.Calculator(unit).figures(period)
        rows = [
            {
                "metric": key,
                "label": str(m.label),
                "unit": m.unit,
                "value": scorecard._round(values[key].value),
                "note": values[key].note,
            }
            for key, m in kpis.METRICS.items()
        ]
        return Response(KpiMetricValueSerializer(rows, many=True).data)


# ------------------------------------------------------------------------------------------------ definitions
class KpiSerializer(AccessAwareSerializer):
    metric = serializers.ChoiceField(
        choices=[("", "—"), *kpis.metric_choices()], required=False, allow_blank=True
    )

    class Meta:
        model = Kpi
        fields = [
            "id", "code", "name", "description", "perspective", "source", "metric", "unit", "higher_is_better",
            "rollup", "tolerance", "responsible", "position", "active", "version",
        ]  # fmt: skip
        read_only_fields = ["version"]


class KpiTargetSerializer(AccessAwareSerializer):
    class Meta:
        model = KpiTarget
        fields = ["id", "kpi", "period_type", "period_start", "department", "target", "version"]
        read_only_fields = ["version"]


class KpiValueSerializer(AccessAwareSerializer):
    class Meta:
        model = KpiValue
        fields = ["id", "kpi", "period_type", "period_start", "department", "value", "note", "version"]
        read_only_fields = ["version"]


class KpiLinkSerializer(AccessAwareSerializer):
    class Meta:
        model = KpiLink
        fields = ["id", "cause", "effect", "note", "version"]
        read_only_fields = ["version"]


class CostEntrySerializer(AccessAwareSerializer):
    class Meta:
        model = CostEntry
        fields = [
            "id", "date", "category", "kind", "amount", "currency", "campaign", "department", "description",
            "version",
        ]  # fmt: skip
        read_only_fields = ["version"]


class InitiativeSerializer(AccessAwareSerializer):
    class Meta:
        model = Initiative
        fields = [
            "id", "name", "stage", "status", "description", "responsible", "start", "period_type", "periods",
            "discount_rate", "source", "kpi", "baseline", "margin", "version",
        ]  # fmt: skip
        read_only_fields = ["version"]


class InitiativeCashFlowSerializer(AccessAwareSerializer):
    class Meta:
        model = InitiativeCashFlow
        fields = ["id", "initiative", "period_index", "outflow", "inflow", "note", "version"]
        read_only_fields = ["version"]


class CashFlowRowSerializer(serializers.Serializer):
    period = serializers.IntegerField()
    label = serializers.CharField()
    outflow = serializers.FloatField()
    inflow = serializers.FloatField()
    net = serializers.FloatField()


class InitiativeEvaluationSerializer(serializers.Serializer):
    invested = serializers.FloatField()
    returned = serializers.FloatField()
    net = serializers.FloatField()
    roi = serializers.FloatField(allow_null=True, help_text="(benefits − costs) / costs")
    npv = serializers.FloatField(allow_null=True)
    irr = serializers.FloatField(allow_null=True, help_text="per period")
    irr_annual = serializers.FloatField(allow_null=True)
    irrs = serializers.ListField(child=serializers.FloatField(), help_text="every IRR when there are several")
    payback_period = serializers.IntegerField(allow_null=True)
    messages = serializers.ListField(child=serializers.CharField())
    pv_benefit = serializers.FloatField(allow_null=True, help_text="present value of the benefits (E)")
    pv_cost = serializers.FloatField(allow_null=True, help_text="present value of the costs (C)")
    benefit_index = serializers.FloatField(allow_null=True, help_text="(E − C) / max(C, 1), as NBA ranks")
    cash_flows = CashFlowRowSerializer(many=True)


class KpiViewSet(ScopedModelViewSet):
    model = Kpi
    serializer_class = KpiSerializer
    select_related = ("responsible",)
    filterset_fields = ["perspective", "source", "active"]


class TargetViewSet(ScopedModelViewSet):
    model = KpiTarget
    serializer_class = KpiTargetSerializer
    filterset_fields = ["kpi", "period_type", "department"]


class ValueViewSet(ScopedModelViewSet):
    model = KpiValue
    serializer_class = KpiValueSerializer
    filterset_fields = ["kpi", "period_type", "department"]


class KpiLinkViewSet(ScopedModelViewSet):
    model = KpiLink
    serializer_class = KpiLinkSerializer


class CostViewSet(ScopedModelViewSet):
    model = CostEntry
    serializer_class = CostEntrySerializer
    filterset_fields = ["category", "department", "campaign"]


class InitiativeViewSet(ScopedModelViewSet):
    model = Initiative
    serializer_class = InitiativeSerializer
    filterset_fields = ["stage", "status", "source"]

    @extend_schema(responses={200: InitiativeEvaluationSerializer})
    @action(detail=True, methods=["get"])
    def evaluation(self, request, pk=None):
        initiative = self.get_object()
        result = scorecard.evaluate_initiative(initiative, user=request.user)
        return Response(InitiativeEvaluationSerializer(result.as_dict()).data)


class CashFlowViewSet(ScopedModelViewSet):
    model = InitiativeCashFlow
    serializer_class = InitiativeCashFlowSerializer
    filterset_fields = ["initiative"]


def register(router) -> None:
    router.register("analytics/scorecard", ScorecardViewSet, basename="analytics-scorecard")
    router.register("analytics/kpi-metrics", MetricViewSet, basename="analytics-kpi-metric")
    router.register("analytics/kpis", KpiViewSet, basename="analytics-kpi")
    router.register("analytics/kpi-targets", TargetViewSet, basename="analytics-kpi-target")
    router.register("analytics/kpi-values", ValueViewSet, basename="analytics-kpi-value")
    router.register("analytics/kpi-links", KpiLinkViewSet, basename="analytics-kpi-link")
    router.register("analytics/cost-entries", CostViewSet, basename="analytics-cost-entry")
    router.register("analytics/initiatives", InitiativeViewSet, basename="analytics-initiative")
    router.register("analytics/initiative-cash-flows", CashFlowViewSet, basename="analytics-cash-flow")
