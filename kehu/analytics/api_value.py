"""API of value segments, strategies and churn risk (read-only; written by scoring runs and the strategy pages):

- /api/analytics/values/ — one row per visible customer with purchases: value segment, CLV rank, margin, churn
  risk, model and reasons; filters `segment`, `min_churn_risk`, `at_risk=true` (the at-risk threshold);
- /api/analytics/value-segments/ — per value segment over the caller's customers, with the strategy;
- /api/analytics/strategies/ — the relationship strategy of each value segment.
Fields a role may not see (field restrictions on analytics.customervalue) are left out."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from kehu.core.access import Access
from kehu.core.api import AccessAwareSerializer

from . import selectors_value, visibility
from .churn import REASONS
from .models_value import CustomerValue, RelationshipStrategy, ValueSegment, ValueSettings


class ChurnReasonSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=list(REASONS))
    label = serializers.CharField()
    weight = serializers.FloatField()


class CustomerValueSerializer(AccessAwareSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    segment_label = serializers.CharField(source="get_segment_display", read_only=True)
    churn_reasons = serializers.SerializerMethodField()

    class Meta:
        model = CustomerValue
        fields = ["customer", "customer_name", "segment", "segment_label", "clv_rank", "margin", "churn_risk",
                  "churn_model", "churn_reasons", "computed_at"]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(ChurnReasonSerializer(many=True))
    def get_churn_reasons(self, obj) -> list[dict]:
        return [
            {"code": r["code"], "label": str(r["label"]), "weight": r["weight"]}
            for r in selectors_value.churn_reason_labels(obj.churn_reasons)
        ]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            if "segment" not in fields:
                fields.pop("segment_label", None)
            if "churn_risk" not in fields:
                fields.pop("churn_reasons", None)
        return fields


class ValueFilter(django_filters.FilterSet):
    segment = django_filters.ChoiceFilter(choices=ValueSegment.choices)
    min_churn_risk = django_filters.NumberFilter(field_name="churn_risk", lookup_expr="gte")
    at_risk = django_filters.BooleanFilter(field_name="churn_risk", method="filter_at_risk")

    class Meta:
        model = CustomerValue
        fields = ["segment", "customer"]

    def filter_at_risk(self, queryset, name, value):
        threshold = ValueSettings.current().at_risk_threshold
        return (
            queryset.filter(churn_risk__gte=threshold) if value else queryset.filter(churn_risk__lt=threshold)
        )


class ValueViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CustomerValueSerializer
    filterset_class = ValueFilter
    ordering_fields = ["clv_rank", "churn_risk", "customer"]
    lookup_field = "customer"
    model = CustomerValue

    @property
    def queryset(self):
        return CustomerValue.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CustomerValue.objects.none()
        # filters and sorts by a field hidden from the caller are ignored by the API's filter and ordering
        # backends (kehu.core.filters), as everywhere: `at_risk` filters on churn_risk
        qs = selectors_value.value_list(user=self.request.user).select_related("customer")
        if "clv_rank" in selectors_value.hidden(self.request.user):  # the order would give the CLV ranks away
            return qs.order_by("customer_id")
        return qs.order_by("clv_rank", "customer_id")


class StrategySerializer(serializers.ModelSerializer):
    segment_label = serializers.CharField(source="get_segment_display", read_only=True)
    sla_policy_name = serializers.SerializerMethodField()

    class Meta:
        model = RelationshipStrategy
        fields = ["segment", "segment_label", "description", "sla_policy", "sla_policy_name",
                  "contact_every_days", "visit_every_days", "campaign_eligible"]  # fmt: skip
        read_only_fields = fields

    def get_sla_policy_name(self, obj) -> str:
        return obj.sla_policy.name if obj.sla_policy_id else ""


class StrategyViewSet(viewsets.GenericViewSet):
    serializer_class = StrategySerializer
    model = RelationshipStrategy
    pagination_class = None

    @property
    def queryset(self):
        return RelationshipStrategy.objects.none()

    def list(self, request):
        if not Access.of(request.user).can("view", "customers.customer"):
            return Response([])
        return Response(StrategySerializer(list(selectors_value.strategies().values()), many=True).data)


class ValueSegmentSerializer(serializers.Serializer):
    segment = serializers.ChoiceField(choices=ValueSegment.choices)
    label = serializers.CharField()
    customers = serializers.IntegerField()
    customer_share = serializers.FloatField()
    revenue = serializers.DecimalField(max_digits=20, decimal_places=2, required=False)
    revenue_share = serializers.FloatField(required=False)
    clv = serializers.DecimalField(max_digits=20, decimal_places=2, required=False)
    clv_share = serializers.FloatField(required=False)
    churn_risk = serializers.FloatField(required=False)
    strategy = StrategySerializer()


class ValueSegmentViewSet(viewsets.GenericViewSet):
    serializer_class = ValueSegmentSerializer
    model = CustomerValue
    pagination_class = None

    @property
    def queryset(self):
        return CustomerValue.objects.none()

    @extend_schema(responses={200: ValueSegmentSerializer(many=True)})
    def list(self, request):
        rows = visibility.visible_summary(
            lambda: selectors_value.value_segment_summary(user=request.user),
            user=request.user,
            grouped_by=(visibility.VALUE, "segment"),
        )
        return Response(ValueSegmentSerializer(rows, many=True).data)


def register(router) -> None:
    router.register("analytics/values", ValueViewSet, basename="analytics-value")
    router.register("analytics/value-segments", ValueSegmentViewSet, basename="analytics-value-segment")
    router.register("analytics/strategies", StrategyViewSet, basename="analytics-strategy")
