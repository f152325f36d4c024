"""Next Best Activity API under /api/analytics/nba/:

- `recommendations/?customer=<id>` — ranked actions of the customers the caller may see (read-only);
- `worklist/?rep=<id>` — the caller's (or a rep's, within the caller's scope) daily worklist;
- `decisions/` — list the decisions the caller may see; POST {customer, action, decision: taken|ignored, note}
  records one through the record service (audited, attributed to the caller);
- `actions/` — the catalogue (CRUD for holders of the grants on analytics.nbaaction, record service);
- `initiatives/` — the company's CRM initiatives ranked by benefit index (E − C)/C of their discounted benefits
  and costs, best first (read-only; `?stage=`, `?status=`; written at /api/analytics/initiatives/);
- `report/` — realised vs expected benefit per action, with the calibrated response rates.
"""

from __future__ import annotations

import math

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from kehu.core.api import AccessAwareSerializer, ScopedModelViewSet
from kehu.core.models import User

from . import selectors_nba
from .models_nba import Decision, NbaAction, NbaDecision, NbaRecommendation
from .models_scorecard import Initiative, InitiativeStatus, PracticeStage
from .services_nba import decision_for


class ActionSerializer(AccessAwareSerializer):
    cost = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)

    class Meta:
        model = NbaAction
        fields = [
            "id", "code", "name", "kind", "channel", "consent_channel", "channel_cost", "staff_cost",
            "incentive_cost", "cost", "value_basis", "value_share", "default_value", "prior_rate", "prior_strength",
            "segments", "stages", "max_p_alive", "window_days", "product", "active", "version",
        ]  # fmt: skip
        read_only_fields = ["version"]


class ActionViewSet(ScopedModelViewSet):
    model = NbaAction
    serializer_class = ActionSerializer
    filterset_fields = ["kind", "active"]


class RecommendationSerializer(AccessAwareSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    action_code = serializers.CharField(source="action.code", read_only=True)
    action_name = serializers.CharField(source="action.name", read_only=True)
    kind = serializers.CharField(source="action.kind", read_only=True)
    channel = serializers.CharField(source="action.channel", read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True, default=None)

    class Meta:
        model = NbaRecommendation
        fields = [
            "id", "customer", "customer_name", "action", "action_code", "action_name", "kind", "channel",
            "product", "product_name", "rank", "state", "response_rate", "expected_effect", "expected_cost",
            "benefit_index", "computed_at",
        ]  # fmt: skip
        read_only_fields = fields


class RecommendationFilter(django_filters.FilterSet):
    class Meta:
        model = NbaRecommendation
        fields = ["customer", "action", "state", "rank"]


class RecommendationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = RecommendationSerializer
    filterset_class = RecommendationFilter
    model = NbaRecommendation

    @property
    def queryset(self):
        return NbaRecommendation.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return NbaRecommendation.objects.none()
        from kehu.core.selectors import scoped

        return (
            scoped(NbaRecommendation, user=self.request.user)
            .select_related("customer", "action", "product")
            .order_by("customer_id", "rank")
        )


class WorklistViewSet(viewsets.GenericViewSet):
    serializer_class = RecommendationSerializer
    model = NbaRecommendation
    pagination_class = None

    @property
    def queryset(self):
        return NbaRecommendation.objects.none()

    @extend_schema(
        parameters=[OpenApiParameter("rep", int, description="another user's worklist, within your scope")],
        responses={200: RecommendationSerializer(many=True)},
    )
    def list(self, request):
        rep = None
        raw = request.query_params.get("rep", "")
        if raw:
            if not raw.isdigit():
                return Response({"rep": ["Must be a user id."]}, status=status.HTTP_400_BAD_REQUEST)
            rep = User.objects.filter(pk=int(raw), is_active=True).first()
            if rep is None:
                return Response({"rep": ["Unknown user."]}, status=status.HTTP_400_BAD_REQUEST)
        rows = selectors_nba.worklist(user=request.user, rep=rep)
        return Response(RecommendationSerializer(rows, many=True, context={"request": request}).data)


class DecisionSerializer(AccessAwareSerializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    action = serializers.PrimaryKeyRelatedField(queryset=NbaAction.objects.all())

    class Meta:
        model = NbaDecision
        fields = [
            "id", "customer", "action", "decision", "note", "segment", "expected_effect", "expected_cost",
            "benefit_index", "response_rate", "decided_at", "decided_by", "window_ends", "outcome",
            "realised_effect", "outcome_at",
        ]  # fmt: skip
        read_only_fields = [
            "segment", "expected_effect", "expected_cost", "benefit_index", "response_rate", "decided_at",
            "decided_by", "window_ends", "outcome", "realised_effect", "outcome_at",
        ]  # fmt: skip


class DecisionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    serializer_class = DecisionSerializer
    model = NbaDecision
    filterset_fields = ["customer", "action", "decision", "outcome"]

    @property
    def queryset(self):
        return NbaDecision.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return NbaDecision.objects.none()
        from kehu.core.selectors import scoped

        return (
            scoped(NbaDecision, user=self.request.user)
            .select_related("action")
            .order_by("-decided_at", "-id")
        )

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        made = decision_for(
            user=request.user,
            customer_id=data["customer"].pk,
            action_id=data["action"].pk,
            decision=data["decision"],
            note=data.get("note", ""),
        )
        return Response(self.get_serializer(made).data, status=status.HTTP_201_CREATED)


class RankedInitiativeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="initiative.pk")
    name = serializers.CharField(source="initiative.name")
    stage = serializers.CharField(source="initiative.stage")
    status = serializers.CharField(source="initiative.status")
    responsible = serializers.IntegerField(source="initiative.responsible_id", allow_null=True)
    pv_benefit = serializers.FloatField(allow_null=True, help_text="present value of the benefits (E)")
    pv_cost = serializers.FloatField(allow_null=True, help_text="present value of the costs (C)")
    benefit_index = serializers.FloatField(allow_null=True, help_text="(E − C) / max(C, minimum cost)")
    npv = serializers.FloatField(allow_null=True)


class InitiativeViewSet(viewsets.GenericViewSet):
    """The CRM initiatives ranked by benefit index (read-only; they are written at /api/analytics/initiatives/
    with their cash flows at /api/analytics/initiative-cash-flows/)."""

    serializer_class = RankedInitiativeSerializer
    model = Initiative
    pagination_class = None

    @property
    def queryset(self):
        return Initiative.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter("stage", str, enum=PracticeStage.values),
            OpenApiParameter("status", str, enum=InitiativeStatus.values),
        ],
        responses={200: RankedInitiativeSerializer(many=True)},
    )
    def list(self, request):
        errors = {}
        stage, status_ = request.query_params.get("stage", ""), request.query_params.get("status", "")
        if stage and stage not in PracticeStage.values:
            errors["stage"] = [f"Choose one of {', '.join(PracticeStage.values)}."]
        if status_ and status_ not in InitiativeStatus.values:
            errors["status"] = [f"Choose one of {', '.join(InitiativeStatus.values)}."]
        if errors:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        rows = selectors_nba.initiative_ranking(
            user=request.user, stage=stage or None, status=status_ or None
        )
        for row in rows:  # never NaN or infinity in the API
            for key in ("pv_benefit", "pv_cost", "benefit_index", "npv"):
                if row[key] is not None and not math.isfinite(row[key]):
                    row[key] = None
        return Response(RankedInitiativeSerializer(rows, many=True).data)


class ReportRowSerializer(serializers.Serializer):
    action = serializers.IntegerField()
    action_code = serializers.CharField()
    taken = serializers.IntegerField()
    ignored = serializers.IntegerField()
    pending = serializers.IntegerField()
    closed = serializers.IntegerField()
    successes = serializers.IntegerField()
    prior_rate = serializers.FloatField()
    observed_rate = serializers.FloatField(allow_null=True)
    calibrated_rate = serializers.FloatField()
    expected = serializers.FloatField(allow_null=True, help_text="null when E is hidden from the caller")
    cost = serializers.FloatField()
    realised = serializers.FloatField()
    expected_index = serializers.FloatField(allow_null=True)
    realised_index = serializers.FloatField(allow_null=True)


class ReportViewSet(viewsets.GenericViewSet):
    serializer_class = ReportRowSerializer
    model = NbaDecision
    pagination_class = None

    @property
    def queryset(self):
        return NbaDecision.objects.none()

    @extend_schema(responses={200: ReportRowSerializer(many=True)})
    def list(self, request):
        data = selectors_nba.benefit_report(user=request.user)
        rows = [
            {
                **{k: v for k, v in r.items() if k != "action"},
                "action": r["action"].pk,
                "action_code": r["action"].code,
            }
            for r in data["rows"]
        ]
        return Response(ReportRowSerializer(rows, many=True).data)


def register(router) -> None:
    router.register("analytics/nba/recommendations", RecommendationViewSet, basename="nba-recommendation")
    router.register("analytics/nba/worklist", WorklistViewSet, basename="nba-worklist")
    router.register("analytics/nba/decisions", DecisionViewSet, basename="nba-decision")
    router.register("analytics/nba/actions", ActionViewSet, basename="nba-action")
    router.register("analytics/nba/initiatives", InitiativeViewSet, basename="nba-initiative")
    router.register("analytics/nba/report", ReportViewSet, basename="nba-report")
