"""Marketing API: segments (/api/segments/) — CRUD through the generic scoped viewset (ETag/If-Match, audit),
with the rules validated for the caller's rights, and the actions `count`, `members` (the members in the
caller's scope), `snapshot` (a static copy, one INSERT … SELECT) and `preview` (count rules before saving)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from kehu.core.access import Access
from kehu.core.api import AccessAwareSerializer, ScopedModelViewSet, etag_for
from kehu.core.models import Action
from kehu.customers.models import Customer

from . import contact_rules as cr
from . import rules
from .models import Campaign, RuleHold, Segment
from .selectors import segments as selectors
from .services import campaigns as campaign_services
from .services import segments as services


@extend_schema_field(OpenApiTypes.OBJECT)
class RulesField(serializers.JSONField):
    """The rule tree: {"match": "all"|"any", "conditions": [...], "exclude": [...]} (docs/api.md)."""


class MarketingSegmentSerializer(AccessAwareSerializer):
    definition = RulesField(required=False)

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "definition",
            "owner",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = ["created_at", "updated_at", "version"]


class SegmentMemberSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name", "kind", "lifecycle_stage", "city"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            for name in Access.of(request.user).hidden_fields(Customer):
                fields.pop(name, None)
        return fields


COUNT = inline_serializer("SegmentCount", {"count": serializers.IntegerField()})
PREVIEW_IN = inline_serializer("SegmentPreviewInput", {"definition": RulesField()})
SNAPSHOT_IN = inline_serializer("SegmentSnapshotInput", {"name": serializers.CharField(required=False)})


class SegmentViewSet(ScopedModelViewSet):
    model = Segment
    serializer_class = MarketingSegmentSerializer
    select_related = ("owner",)
    required_action = None  # from the HTTP method (ModelAccessPermission); `preview` only reads

    def initial(self, request, *args, **kwargs):
        if self.action == "preview":
            self.required_action = Action.VIEW
        super().initial(request, *args, **kwargs)

    def save_new(self, data: dict):
        return services.segment_create(data=data, by=self.request.user)

    def save_existing(self, instance, data: dict, expected_version: int):
        return services.segment_update(
            segment=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    def _members(self, segment):
        try:
            return selectors.segment_members(segment=segment, user=self.request.user)
        except rules.RuleError as exc:
            raise exceptions.PermissionDenied({"definition": exc.messages}) from None

    @extend_schema(responses=COUNT)
    @action(detail=True, methods=["get"])
    def count(self, request, pk=None):
        """How many customers in the caller's scope are in the segment."""
        return Response({"count": self._members(self.get_object()).count()})

    @extend_schema(responses=SegmentMemberSerializer(many=True))
    @action(detail=True, methods=["get"])
    def members(self, request, pk=None):
        """The segment's members in the caller's scope (paginated, by name)."""
        qs = self._members(self.get_object()).order_by("name", "pk")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(
            SegmentMemberSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(request=SNAPSHOT_IN, responses={201: MarketingSegmentSerializer})
    @action(detail=True, methods=["post"])
    def snapshot(self, request, pk=None):
        """A new static segment with the members now in the segment that the caller may see."""
        segment = self.get_object()
        if not Access.of(request.user).can(Action.ADD, Segment):
            raise exceptions.PermissionDenied()
        name = request.data.get("name", "") if isinstance(request.data, dict) else ""
        if not isinstance(name, str):
            raise exceptions.ValidationError({"name": ["Must be a text."]})
        self._members(segment)  # refuses (403) rules the caller may not use
        snapshot = services.segment_snapshot(segment=segment, by=request.user, name=name)
        response = Response(self.get_serializer(snapshot).data, status=status.HTTP_201_CREATED)
        response["ETag"] = etag_for(snapshot)
        return response

    @extend_schema(request=PREVIEW_IN, responses=COUNT)
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """Count the customers in the caller's scope matching a rule tree, without saving it (400 names every
        problem in the rules)."""
        definition = request.data.get("definition") if isinstance(request.data, dict) else None
        try:
            _clean, qs = selectors.rules_members(definition=definition or {}, user=request.user)
        except rules.RuleError as exc:
            raise exceptions.ValidationError({"definition": exc.messages}) from None
        return Response({"count": qs.count()})


class CampaignSerializer(AccessAwareSerializer):
    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "objective",
            "status",
            "start_date",
            "end_date",
            "budget",
            "currency",
            "expected_response_rate",
            "segments",
            "channels",
            "owner",
            "approved_by",
            "approved_at",
            "launched_at",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = [
            "status",
            "approved_by",
            "approved_at",
            "launched_at",
            "created_at",
            "updated_at",
            "version",
        ]


STATS = inline_serializer(
    "CampaignStats",
    {
        "enrolled": serializers.IntegerField(),
        "opened": serializers.IntegerField(),
        "clicked": serializers.IntegerField(),
        "by_status": serializers.DictField(child=serializers.IntegerField()),
        "by_rule": serializers.DictField(child=serializers.DictField(child=serializers.IntegerField())),
    },
)


class CampaignViewSet(ScopedModelViewSet):
    """Campaigns in the caller's scope; the lifecycle actions (submit, approve, reject, launch, pause, resume)
    need the change right and the campaign in the caller's write scope; approval is by someone other than
    the owner. ``stats``: messages per status and holds per contact rule."""

    model = Campaign
    serializer_class = CampaignSerializer
    select_related = ("owner", "approved_by")
    required_action = None  # from the HTTP method; the lifecycle actions need the change right

    def initial(self, request, *args, **kwargs):
        if self.action in ("submit", "approve", "reject", "launch", "pause", "resume"):
            self.required_action = Action.CHANGE
        super().initial(request, *args, **kwargs)

    def _transition(self, request, service, decide: bool = False):
        campaign = self.get_object()
        access = Access.of(request.user)
        if not (access.can(Action.CHANGE, Campaign) and access.can_write_record(campaign)):
            raise exceptions.PermissionDenied()
        extra = {}
        if decide:
            comment = request.data.get("comment", "") if hasattr(request.data, "get") else ""
            if not isinstance(comment, str):
                raise exceptions.ValidationError({"comment": [_("Enter a text.")]})
            extra["comment"] = comment
        try:
            updated = service(campaign=campaign, by=request.user, **extra)
        except DjangoValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"status": exc.messages}
            raise exceptions.ValidationError(detail) from None
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        response = Response(self.get_serializer(updated).data)
        response["ETag"] = etag_for(updated)
        return response

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._transition(request, campaign_services.campaign_submit)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._transition(request, campaign_services.campaign_approve, decide=True)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._transition(request, campaign_services.campaign_reject, decide=True)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def launch(self, request, pk=None):
        return self._transition(request, campaign_services.campaign_launch)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._transition(request, campaign_services.campaign_pause)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._transition(request, campaign_services.campaign_resume)

    @extend_schema(responses=STATS)
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        from .views_campaigns import campaign_counts

        campaign = self.get_object()
        counts = campaign_counts(campaign)
        by_status = dict(campaign.messages.values_list("status").annotate(n=Count("id")))
        return Response(
            {
                "enrolled": counts["enrolled"],
                "opened": counts["opened"],
                "clicked": counts["clicked"],
                "by_status": by_status,
                "by_rule": {
                    rule: counts
                    for rule in cr.Rule.values
                    if any((counts := campaign_counts_rule(campaign, rule)).values())
                },
            }
        )


def campaign_counts_rule(campaign, rule) -> dict:
    rows = (
        RuleHold.objects.filter(campaign=campaign, rule=rule).values_list("dropped").annotate(n=Count("id"))
    )
    out = {"held": 0, "dropped": 0}
    for dropped, n in rows:
        out["dropped" if dropped else "held"] += n
    return out


def register(router) -> None:
    router.register("segments", SegmentViewSet, basename="segment")
    router.register("campaigns", CampaignViewSet, basename="campaign")
    from . import api_promotions

    api_promotions.register(router)
