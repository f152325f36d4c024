"""Sales API: leads (capture, activities, duplicates, assignment, conversion), pipelines with the kanban board,
opportunities (move, close, reopen, stage history, lines, competitors) and the sales configuration.

Reads start from the scope selectors (out of scope → 404); writes go through the sales services; ETags carry
"<id>-<version>" and changes need If-Match (or the version in the body)."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from kehu.core.api import (
    IF_MATCH,
    AccessAwareSerializer,
    CustomValuesField,
    DateTimeField,
    ScopedModelViewSet,
    etag_for,
    version_from_if_match,
)
from kehu.core.models import Team
from kehu.core.selectors import get_visible, scoped
from kehu.customers.models import Customer

from . import selectors
from .models import (
    AssignmentRule,
    CloseReason,
    Competitor,
    DisqualifyReason,
    Lead,
    LeadActivity,
    LeadWebForm,
    Opportunity,
    OpportunityCompetitor,
    OpportunityLine,
    Pipeline,
    Stage,
)
from .services import conversion, leads, opportunities


def _expected_version(request, pk) -> int | None:
    expected = version_from_if_match(request.headers.get("If-Match"), pk)
    if expected is None and "version" in request.data:
        try:
            expected = int(request.data["version"])
        except (TypeError, ValueError):
            raise exceptions.ValidationError({"version": ["Must be an integer."]}) from None
    return expected


def _with_etag(data, instance, code=status.HTTP_200_OK) -> Response:
    response = Response(data, status=code)
    response["ETag"] = etag_for(instance)
    return response


# ------------------------------------------------------------------------------------------------ leads
class LeadSerializer(AccessAwareSerializer):
    custom = CustomValuesField(required=False)
    sla_breached = serializers.BooleanField(read_only=True)

    class Meta:
        model = Lead
        fields = [
            "id", "kind", "company", "name", "job_title", "phone", "email", "city", "region", "product_line",
            "source", "campaign_ref", "status", "disqualify_reason", "disqualify_note", "score", "budget",
            "currency", "decision_maker", "need", "timeframe", "message", "notes", "owner", "assigned_at",
            "assignment_rule", "first_contact_due", "first_contacted_at", "sla_breached", "external_ref",
            "converted_at", "converted_customer", "converted_contact", "converted_opportunity", "custom",
            "created_at", "version",
        ]  # fmt: skip
        read_only_fields = [
            "assigned_at", "assignment_rule", "first_contact_due", "first_contacted_at", "converted_at",
            "converted_customer", "converted_contact", "converted_opportunity", "created_at", "version",
        ]  # fmt: skip
        # a repeated reference is an idempotent replay; without a score the default score is computed
        extra_kwargs = {"external_ref": {"validators": []}, "score": {"required": False, "default": None}}


class LeadFilterSet(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    sla_breached = django_filters.BooleanFilter(method="filter_sla")

    class Meta:
        model = Lead
        fields = [
            "status",
            "source",
            "owner",
            "region",
            "product_line",
            "kind",
            "created_after",
            "created_before",
        ]

    def filter_sla(self, queryset, name, value):
        from django.utils import timezone

        breached = {"first_contacted_at__isnull": True, "first_contact_due__lt": timezone.now()}
        return queryset.filter(**breached) if value else queryset.exclude(**breached)


class LeadActivitySerializer(AccessAwareSerializer):
    class Meta:
        model = LeadActivity
        fields = ["id", "lead", "channel", "subject", "body", "occurred_at", "user", "created_at"]
        read_only_fields = ["lead", "user", "created_at"]


class ConvertSerializer(serializers.Serializer):
    customer = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.all(), required=False, allow_null=True
    )
    create_customer = serializers.BooleanField(default=False)
    create_opportunity = serializers.BooleanField(default=True)
    opportunity_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, min_value=0)
    pipeline = serializers.PrimaryKeyRelatedField(queryset=Pipeline.objects.all(), required=False)
    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.all(), required=False)
    expected_close_date = serializers.DateField(required=False)


class ConversionResultSerializer(serializers.Serializer):
    lead = serializers.IntegerField()
    customer = serializers.IntegerField()
    contact = serializers.IntegerField(allow_null=True)
    opportunity = serializers.IntegerField(allow_null=True)
    created_customer = serializers.BooleanField()


class CandidateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    score = serializers.FloatField()
    reasons = serializers.ListField(child=serializers.CharField())


def _candidates(rows) -> list[dict]:
    return [
        {"id": c.pk, "name": c.name, "kind": c.kind, "score": round(score, 3), "reasons": reasons}
        for c, score, reasons in rows
    ]


class LeadViewSet(ScopedModelViewSet):
    """Leads in your record scope. POST with `?assign=rules` lets the assignment rules choose the owner; a
    repeated `external_ref` returns the stored lead (200)."""

    model = Lead
    serializer_class = LeadSerializer
    filterset_class = LeadFilterSet
    select_related = ("owner",)
    ordering_fields = ["created_at", "score", "first_contact_due", "id"]

    def get_queryset(self):
        return super().get_queryset().order_by("-created_at", "-id")

    @extend_schema(parameters=[OpenApiParameter("assign", str, enum=["rules"], required=False)])
    def create(self, request, *args, **kwargs):
        ref = (request.data.get("external_ref") or "").strip() if hasattr(request.data, "get") else ""
        self.replayed = bool(ref) and Lead.objects.filter(external_ref=ref).exists()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        if serializer.instance is None:
            return self._created_elsewhere()
        response = _with_etag(
            self.get_serializer(serializer.instance).data, serializer.instance, status.HTTP_201_CREATED
        )
        if self.replayed:
            response.status_code = 200
        return response

    def perform_create(self, serializer):
        lead = leads.lead_create(
            data=self._write_data(serializer),
            by=self.request.user,
            use_rules=self.request.query_params.get("assign") == "rules",
        )
        serializer.instance = scoped(Lead, user=self.request.user).filter(pk=lead.pk).first()
        self.created_lead = lead

    def _created_elsewhere(self) -> Response:
        """The rules gave the lead to someone whose leads the caller may not see: say so, show nothing else."""
        lead = self.created_lead
        return Response(
            {"id": lead.pk, "owner": lead.owner_id, "detail": "Assigned by the rules to a colleague."},
            status=status.HTTP_201_CREATED,
        )

    def save_existing(self, instance, data, expected_version):
        return leads.lead_update(
            lead=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    @extend_schema(request=LeadActivitySerializer, responses=LeadActivitySerializer(many=True))
    @action(detail=True, methods=["get", "post"])
    def activities(self, request, pk=None):
        """The lead's calls, emails and notes (GET), or log one (POST)."""
        lead = self.get_object()
        if request.method == "POST":
            serializer = LeadActivitySerializer(data=request.data, context={"request": request})
            serializer.is_valid(raise_exception=True)
            activity = leads.lead_activity_log(
                lead=lead, data=dict(serializer.validated_data), by=request.user
            )
            return Response(LeadActivitySerializer(activity, context={"request": request}).data, status=201)
        rows = selectors.lead_activities(user=request.user, lead=lead)[:200]
        return Response(LeadActivitySerializer(rows, many=True, context={"request": request}).data)

    @extend_schema(request=None, responses=CandidateSerializer(many=True))
    @action(detail=True, methods=["get"])
    def duplicates(self, request, pk=None):
        """Existing customers (that you may see) this lead probably is, best first."""
        lead = self.get_object()
        return Response(_candidates(conversion.lead_duplicates(lead=lead, user=request.user)))

    @extend_schema(
        request=ConvertSerializer,
        responses={200: ConversionResultSerializer, 409: CandidateSerializer(many=True)},
    )
    @action(detail=True, methods=["post"])
    def convert(self, request, pk=None):
        """Convert into customer (+ contact) + opportunity. 409 with `candidates` when likely duplicates exist
        and neither `customer` nor `create_customer` was given; 409 when the lead is already converted."""
        lead = self.get_object()
        serializer = ConvertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        opp = {k: data[k] for k in ("amount", "pipeline", "stage", "expected_close_date") if k in data}
        if data.get("opportunity_name"):
            opp["name"] = data["opportunity_name"]
        try:
            result = conversion.lead_convert(
                lead=lead,
                by=request.user,
                customer=data.get("customer"),
                create_customer=data["create_customer"],
                create_opportunity=data["create_opportunity"],
                opportunity=opp,
                expected_version=version_from_if_match(request.headers.get("If-Match"), lead.pk),
            )
        except conversion.DuplicateCustomers as exc:
            return Response({"detail": str(exc), "candidates": _candidates(exc.candidates)}, status=409)
        except conversion.LeadAlreadyConverted as exc:
            return Response({"detail": str(exc), "customer": exc.lead.converted_customer_id}, status=409)
        body = {
            "lead": result.lead.pk,
            "customer": result.customer.pk,
            "contact": result.contact.pk if result.contact else None,
            "opportunity": result.opportunity.pk if result.opportunity else None,
            "created_customer": result.created_customer,
        }
        return _with_etag(body, result.lead)

    @extend_schema(
        request=inline_serializer("LeadAssign", {"owner": serializers.IntegerField(required=False)}),
        responses=LeadSerializer,
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Reassign to `owner` (user id), or without it by the assignment rules (transfer right)."""
        from kehu.core.models import User

        lead = self.get_object()
        owner_id = request.data.get("owner")
        to_user = get_object_or_404(User, pk=owner_id, is_active=True) if owner_id else None
        updated = leads.lead_assign(
            lead=lead, by=request.user, to_user=to_user, expected_version=_expected_version(request, lead.pk)
        )
        updated = get_visible(Lead, user=request.user, pk=updated.pk)
        return _with_etag(LeadSerializer(updated, context={"request": request}).data, updated)

    @extend_schema(
        request=inline_serializer(
            "LeadDisqualify",
            {
                "reason": serializers.ChoiceField(choices=DisqualifyReason.choices),
                "note": serializers.CharField(required=False, allow_blank=True),
            },
        ),
        responses=LeadSerializer,
    )
    @action(detail=True, methods=["post"])
    def disqualify(self, request, pk=None):
        lead = self.get_object()
        updated = leads.lead_disqualify(
            lead=lead,
            reason=request.data.get("reason") or "",
            note=request.data.get("note") or "",
            by=request.user,
            expected_version=_expected_version(request, lead.pk),
        )
        return _with_etag(LeadSerializer(updated, context={"request": request}).data, updated)


# ------------------------------------------------------------------------------------------- pipelines
class StageSerializer(AccessAwareSerializer):
    class Meta:
        model = Stage
        fields = ["id", "pipeline", "name", "kind", "probability", "position", "active", "version"]
        read_only_fields = ["version"]


class PipelineSerializer(AccessAwareSerializer):
    stages = StageSerializer(many=True, read_only=True)

    class Meta:
        model = Pipeline
        fields = [
            "id",
            "name",
            "is_default",
            "active",
            "currency",
            "stalled_days",
            "position",
            "stages",
            "version",
        ]
        read_only_fields = ["version"]


class CardSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    owner_name = serializers.CharField(source="owner.__str__", read_only=True, default="")
    stalled = serializers.BooleanField(read_only=True)

    class Meta:
        model = Opportunity
        fields = [
            "id", "name", "customer", "customer_name", "owner", "owner_name", "amount", "currency",
            "probability", "expected_close_date", "position", "stalled", "version",
        ]  # fmt: skip


class BoardColumnSerializer(serializers.Serializer):
    stage = StageSerializer()
    count = serializers.IntegerField()
    amounts = serializers.DictField(child=serializers.DecimalField(max_digits=18, decimal_places=2))
    weighted = serializers.DictField(child=serializers.DecimalField(max_digits=18, decimal_places=2))
    cards = CardSerializer(many=True)
    more = serializers.IntegerField()


class BoardSerializer(serializers.Serializer):
    pipeline = serializers.IntegerField(source="pipeline.pk")
    columns = BoardColumnSerializer(many=True)


class PipelineViewSet(ScopedModelViewSet):
    model = Pipeline
    serializer_class = PipelineSerializer
    prefetch_related = ("stages",)
    ordering_fields: list[str] = []

    @extend_schema(
        parameters=[
            OpenApiParameter("owner", int, required=False, description="only this owner's deals"),
            OpenApiParameter(
                "team", int, required=False, description="only deals owned by the team's members"
            ),
            OpenApiParameter(
                "close_from", str, required=False, description="expected close date from (ISO date)"
            ),
            OpenApiParameter(
                "close_to", str, required=False, description="expected close date until (ISO date)"
            ),
        ],
        responses=BoardSerializer,
    )
    @action(detail=True, methods=["get"])
    def board(self, request, pk=None):
        """The kanban board: per stage the count, totals and weighted totals per currency, and the first cards
        in position order (`more` says how many are not listed)."""
        import datetime as dt

        pipeline = self.get_object()
        owner_ids = None
        params = request.query_params
        try:
            if params.get("team"):
                owner_ids = selectors.team_member_ids(get_object_or_404(Team, pk=int(params["team"])))
            if params.get("owner"):
                owner = int(params["owner"])
                owner_ids = [owner] if owner_ids is None else [o for o in owner_ids if o == owner]
            close_from = dt.date.fromisoformat(params["close_from"]) if params.get("close_from") else None
            close_to = dt.date.fromisoformat(params["close_to"]) if params.get("close_to") else None
        except ValueError:
            raise exceptions.ValidationError(
                {"detail": ["Malformed filter (ids are integers, dates ISO)."]}
            ) from None
        result = selectors.board(
            user=request.user,
            pipeline=pipeline,
            owner_ids=owner_ids,
            close_from=close_from,
            close_to=close_to,
        )
        for column in result.columns:
            for card in column.cards:
                card.stalled = card.status == "open" and card.last_activity_at < result.stalled_before
        return Response(BoardSerializer(result).data)


class StageViewSet(ScopedModelViewSet):
    model = Stage
    serializer_class = StageSerializer
    filterset_fields = ["pipeline", "kind", "active"]
    ordering_fields: list[str] = []


# ------------------------------------------------------------------------------------------- opportunities
class OpportunitySerializer(AccessAwareSerializer):
    custom = CustomValuesField(required=False)
    weighted_amount = serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True)

    class Meta:
        model = Opportunity
        fields = [
            "id", "name", "customer", "contact", "pipeline", "stage", "status", "amount", "currency",
            "probability", "weighted_amount", "expected_close_date", "closed_at", "close_reason", "close_note",
            "lost_to", "lead", "source", "next_step", "description", "owner", "position", "stage_entered_at",
            "last_activity_at", "custom", "created_at", "version",
        ]  # fmt: skip
        read_only_fields = [
            "status", "probability", "closed_at", "close_reason", "close_note", "lost_to", "lead", "position",
            "stage_entered_at", "last_activity_at", "created_at", "version",
        ]  # fmt: skip
        extra_kwargs = {"pipeline": {"required": False}, "stage": {"required": False}}


class OpportunityFilterSet(django_filters.FilterSet):
    close_from = django_filters.DateFilter(field_name="expected_close_date", lookup_expr="gte")
    close_to = django_filters.DateFilter(field_name="expected_close_date", lookup_expr="lte")
    team = django_filters.NumberFilter(method="filter_team", label="Team id (owner is a member)")

    class Meta:
        model = Opportunity
        fields = ["pipeline", "stage", "status", "owner", "customer", "close_from", "close_to", "team"]

    def filter_team(self, queryset, name, value):
        return queryset.filter(owner__teams__id=value)


class MoveSerializer(serializers.Serializer):
    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.all())
    after = serializers.IntegerField(required=False, allow_null=True, help_text="id of the card above")
    before = serializers.IntegerField(required=False, allow_null=True, help_text="id of the card below")
    close_reason = serializers.PrimaryKeyRelatedField(
        queryset=CloseReason.objects.all(), required=False, allow_null=True
    )
    close_note = serializers.CharField(required=False, allow_blank=True, max_length=300)
    lost_to = serializers.PrimaryKeyRelatedField(
        queryset=Competitor.objects.all(), required=False, allow_null=True
    )


class CloseSerializer(serializers.Serializer):
    won = serializers.BooleanField()
    reason = serializers.PrimaryKeyRelatedField(queryset=CloseReason.objects.all(), allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300)
    lost_to = serializers.PrimaryKeyRelatedField(
        queryset=Competitor.objects.all(), required=False, allow_null=True
    )


class SpellSerializer(serializers.Serializer):
    stage = serializers.IntegerField(source="stage.pk")
    stage_name = serializers.CharField(source="stage.name")
    entered_at = DateTimeField()
    left_at = DateTimeField(allow_null=True)
    seconds = serializers.IntegerField()
    by_name = serializers.CharField()


class OpportunityCompetitorSerializer(serializers.ModelSerializer):
    competitor_name = serializers.CharField(source="competitor.name", read_only=True)

    class Meta:
        model = OpportunityCompetitor
        fields = ["id", "competitor", "competitor_name", "notes"]


class OpportunityViewSet(ScopedModelViewSet):
    model = Opportunity
    serializer_class = OpportunitySerializer
    filterset_class = OpportunityFilterSet
    select_related = ("customer", "owner", "stage", "pipeline")
    ordering_fields = ["expected_close_date", "amount", "created_at", "id"]

    def get_queryset(self):
        qs = super().get_queryset()
        if self.action == "list":
            # the serializer gives the related records' ids only: joining their whole rows (the customer's
            # search columns and custom JSON) for 25 deals was a third of the list's statement time
            qs = qs.select_related(None)
        if self.request.query_params.get("team"):
            qs = qs.distinct()
        return qs.order_by("-created_at", "-id")

    def save_new(self, data):
        return opportunities.opportunity_create(data=data, by=self.request.user)

    def save_existing(self, instance, data, expected_version):
        return opportunities.opportunity_update(
            opportunity=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    def _neighbour(self, pk):
        if pk in (None, ""):
            return None
        return get_visible(Opportunity, user=self.request.user, pk=pk)

    def _respond(self, opportunity):
        fresh = get_visible(Opportunity, user=self.request.user, pk=opportunity.pk)
        return _with_etag(OpportunitySerializer(fresh, context={"request": self.request}).data, fresh)

    @extend_schema(request=MoveSerializer, responses=OpportunitySerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        """Move the card to `stage`, between the cards `after` (above) and `before` (below). Send the card's
        ETag in If-Match: 409 when someone changed the deal since you loaded the board."""
        opportunity = self.get_object()
        serializer = MoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        moved = opportunities.opportunity_move(
            opportunity=opportunity,
            stage=data["stage"],
            by=request.user,
            after=self._neighbour(data.get("after")),
            before=self._neighbour(data.get("before")),
            expected_version=version_from_if_match(request.headers.get("If-Match"), opportunity.pk),
            close_reason=data.get("close_reason"),
            close_note=data.get("close_note") or "",
            lost_to=data.get("lost_to"),
        )
        return self._respond(moved)

    @extend_schema(request=CloseSerializer, responses=OpportunitySerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close as won or lost; the reason (of that outcome) is required."""
        opportunity = self.get_object()
        serializer = CloseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        closed = opportunities.opportunity_close(
            opportunity=opportunity,
            won=data["won"],
            reason=data["reason"],
            note=data.get("note") or "",
            lost_to=data.get("lost_to"),
            by=request.user,
            expected_version=version_from_if_match(request.headers.get("If-Match"), opportunity.pk),
        )
        return self._respond(closed)

    @extend_schema(request=None, responses=OpportunitySerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        opportunity = self.get_object()
        reopened = opportunities.opportunity_reopen(
            opportunity=opportunity,
            by=request.user,
            expected_version=version_from_if_match(request.headers.get("If-Match"), opportunity.pk),
        )
        return self._respond(reopened)

    @extend_schema(
        request=OpportunityCompetitorSerializer, responses=OpportunityCompetitorSerializer(many=True)
    )
    @action(detail=True, methods=["get", "post"])
    def competitors(self, request, pk=None):
        """Competitors on the deal (GET), or add one (POST `{"competitor": id, "notes": …}`; idempotent)."""
        opportunity = self.get_object()
        if request.method == "POST":
            serializer = OpportunityCompetitorSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            link = opportunities.opportunity_competitor_add(
                opportunity=opportunity,
                competitor=serializer.validated_data["competitor"],
                notes=serializer.validated_data.get("notes", ""),
                by=request.user,
            )
            return Response(OpportunityCompetitorSerializer(link).data, status=201)
        links = opportunity.competitor_links.select_related("competitor").order_by("id")
        return Response(OpportunityCompetitorSerializer(links, many=True).data)

    @extend_schema(request=None, responses=SpellSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """The stages the deal went through and the time spent in each."""
        opportunity = self.get_object()
        return Response(SpellSerializer(selectors.stage_history(opportunity=opportunity), many=True).data)


class OpportunityLineSerializer(AccessAwareSerializer):
    class Meta:
        model = OpportunityLine
        fields = [
            "id",
            "opportunity",
            "product",
            "quantity",
            "unit_price",
            "discount_percent",
            "amount",
            "position",
        ]
        read_only_fields = ["amount", "position"]
        extra_kwargs = {"unit_price": {"required": False}}


class OpportunityLineViewSet(ScopedModelViewSet):
    """Products on deals; adding or removing a line recomputes the deal's amount."""

    model = OpportunityLine
    serializer_class = OpportunityLineSerializer
    filterset_fields = ["opportunity", "product"]
    select_related = ("product",)
    ordering_fields: list[str] = []

    def save_new(self, data):
        opportunity = data.pop("opportunity")
        return opportunities.opportunity_line_add(opportunity=opportunity, data=data, by=self.request.user)

    @extend_schema(parameters=[IF_MATCH])
    def destroy(self, request, *args, **kwargs):
        line = self.get_object()
        opportunities.opportunity_line_remove(
            line=line, by=request.user, expected_version=self.expected_version(line)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------------------------------- configuration
class CloseReasonSerializer(AccessAwareSerializer):
    class Meta:
        model = CloseReason
        fields = ["id", "kind", "name", "active", "position", "version"]
        read_only_fields = ["version"]


class CompetitorSerializer(AccessAwareSerializer):
    class Meta:
        model = Competitor
        fields = ["id", "name", "website", "strengths", "weaknesses", "active", "version"]
        read_only_fields = ["version"]


class AssignmentRuleSerializer(AccessAwareSerializer):
    class Meta:
        model = AssignmentRule
        fields = [
            "id", "name", "priority", "active", "region", "product_line", "source", "city", "method", "users",
            "team", "department", "sla_hours", "last_assignee", "version",
        ]  # fmt: skip
        read_only_fields = ["last_assignee", "version"]


class LeadWebFormSerializer(AccessAwareSerializer):
    class Meta:
        model = LeadWebForm
        fields = [
            "id", "name", "key", "active", "default_owner", "region", "product_line", "campaign_ref",
            "thank_you", "redirect_url", "rate_limit", "submissions", "version",
        ]  # fmt: skip
        read_only_fields = ["key", "submissions", "version"]


class CloseReasonViewSet(ScopedModelViewSet):
    model = CloseReason
    serializer_class = CloseReasonSerializer
    filterset_fields = ["kind", "active"]
    ordering_fields: list[str] = []


class CompetitorViewSet(ScopedModelViewSet):
    model = Competitor
    serializer_class = CompetitorSerializer
    ordering_fields: list[str] = []


class AssignmentRuleViewSet(ScopedModelViewSet):
    model = AssignmentRule
    serializer_class = AssignmentRuleSerializer
    prefetch_related = ("users",)
    ordering_fields: list[str] = []


class LeadWebFormViewSet(ScopedModelViewSet):
    model = LeadWebForm
    serializer_class = LeadWebFormSerializer
    ordering_fields: list[str] = []


def register(router) -> None:
    router.register("leads", LeadViewSet, basename="lead")
    router.register("pipelines", PipelineViewSet, basename="pipeline")
    router.register("stages", StageViewSet, basename="stage")
    router.register("opportunities", OpportunityViewSet, basename="opportunity")
    router.register("opportunity-lines", OpportunityLineViewSet, basename="opportunity-line")
    router.register("close-reasons", CloseReasonViewSet, basename="close-reason")
    router.register("competitors", CompetitorViewSet, basename="competitor")
    router.register("assignment-rules", AssignmentRuleViewSet, basename="assignment-rule")
    router.register("lead-forms", LeadWebFormViewSet, basename="lead-form")
    from . import api_quotes

    api_quotes.register(router)
    from . import api_pools

    api_pools.register(router)
    from . import api_attachments

    api_attachments.register(router)


__all__ = ["register", "scoped"]
