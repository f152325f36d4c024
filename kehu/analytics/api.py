"""API: /api/analytics/scores/ (one row per visible customer with purchases) and /api/analytics/segments/
(counts, revenue and CLV per RFM segment over the caller's customers). Read-only: scores are written by
scoring runs. Fields a role may not see (field restrictions on analytics.customerscore) are left out."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from kehu.core.api import AccessAwareSerializer

from . import selectors, visibility
from .models import CustomerScore
from .rfm import Segment


class ScoreSerializer(AccessAwareSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    segment_label = serializers.CharField(source="get_segment_display", read_only=True)

    class Meta:
        model = CustomerScore
        fields = [
            "customer", "customer_name", "currency", "first_purchase", "last_purchase", "recency_days",
            "frequency", "monetary", "r_score", "f_score", "m_score", "segment", "segment_label", "p_alive",
            "expected_purchases", "expected_spend", "clv", "computed_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated and "segment" not in fields:
            fields.pop("segment_label", None)
        return fields


class ScoreFilter(django_filters.FilterSet):
    segment = django_filters.ChoiceFilter(choices=Segment.choices)
    min_clv = django_filters.NumberFilter(field_name="clv", lookup_expr="gte")

    class Meta:
        model = CustomerScore
        fields = ["segment", "customer"]


class ScoreViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ScoreSerializer
    filterset_class = ScoreFilter
    ordering_fields = ["clv", "monetary", "recency_days", "frequency", "p_alive", "customer"]
    lookup_field = "customer"
    model = CustomerScore

    @property
    def queryset(self):  # for the permission class and schema generation
        return CustomerScore.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CustomerScore.objects.none()
        return (
            selectors.score_list(user=self.request.user)
            .select_related("customer")
            .order_by("-clv", "customer_id")
        )


class SegmentSerializer(serializers.Serializer):
    segment = serializers.ChoiceField(choices=Segment.choices)
    label = serializers.CharField()
    customers = serializers.IntegerField()
    customer_share = serializers.FloatField()
    revenue = serializers.DecimalField(max_digits=20, decimal_places=2, required=False)
    revenue_share = serializers.FloatField(required=False)
    clv = serializers.DecimalField(max_digits=20, decimal_places=2, required=False)
    p_alive = serializers.FloatField(required=False)
    expected_purchases = serializers.FloatField(required=False)


class SegmentViewSet(viewsets.GenericViewSet):
    serializer_class = SegmentSerializer
    model = CustomerScore
    pagination_class = None

    @property
    def queryset(self):
        return CustomerScore.objects.none()

    @extend_schema(responses={200: SegmentSerializer(many=True)})
    def list(self, request):
        rows = visibility.visible_summary(
            lambda: selectors.segment_summary(user=request.user),
            user=request.user,
            grouped_by=(visibility.SCORE, "segment"),
            drop={"advice"},
        )
        return Response(SegmentSerializer(rows, many=True).data)


def register(router) -> None:
    from . import api_nba, api_reports, api_scorecard

    router.register("analytics/scores", ScoreViewSet, basename="analytics-score")
    router.register("analytics/segments", SegmentViewSet, basename="analytics-segment")
    api_nba.register(router)  # Next Best Activity (item 5)
    api_reports.register(router)  # report builder (item 7)
    api_scorecard.register(router)  # KPIs and the balanced scorecard (item 6)
