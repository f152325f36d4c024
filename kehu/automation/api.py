"""Workflow rules API (/api/automation-rules/): CRUD through the generic scoped viewset (ETag/If-Match, audit,
a new version per change), with the rule validated like the form; `runs` (the run log) and `dry-run`."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from kehu.core.access import Access
from kehu.core.api import AccessAwareSerializer, ScopedModelViewSet
from kehu.core.models import Action

from . import conditions, engine, services
from .models import Rule, RuleRun


@extend_schema_field(OpenApiTypes.OBJECT)
class JsonObjectField(serializers.JSONField):
    """A JSON object (trigger settings, the conditions' rule tree)."""


@extend_schema_field({"type": "array", "items": {"type": "object"}})
class JsonListField(serializers.JSONField):
    """The actions: a list of objects with a "type" (docs/automation.md)."""


class RuleSerializer(AccessAwareSerializer):
    trigger_config = JsonObjectField(required=False)
    conditions = JsonObjectField(required=False)
    actions = JsonListField()

    class Meta:
        model = Rule
        fields = ["id", "name", "description", "model", "trigger", "trigger_config", "conditions", "actions",
                  "active", "owner", "created_at", "updated_at", "version"]  # fmt: skip
        read_only_fields = ["created_at", "updated_at", "version"]


class RuleRunSerializer(serializers.ModelSerializer):
    outcomes = JsonListField(read_only=True)

    class Meta:
        model = RuleRun
        # not the triggering write's changes (`event`): they may hold fields hidden for the reader
        fields = ["id", "rule_version", "trigger", "model", "object_id", "object_repr", "depth", "status",
                  "outcomes", "error", "attempts", "at"]  # fmt: skip


DRY_IN = inline_serializer("RuleDryRunInput", {"record": serializers.IntegerField()})
DRY_OUT = inline_serializer(
    "RuleDryRun",
    {
        "record": serializers.CharField(),
        "matches": serializers.BooleanField(),
        "problem": serializers.CharField(allow_null=True),
        "reason": serializers.CharField(required=False),
        "actions": JsonListField(),
    },
)


class RuleViewSet(ScopedModelViewSet):
    model = Rule
    serializer_class = RuleSerializer
    select_related = ("owner",)

    def save_new(self, data: dict):
        return services.rule_create(data=data, by=self.request.user)

    def save_existing(self, instance, data: dict, expected_version: int):
        return services.rule_update(
            rule=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    @extend_schema(responses=RuleRunSerializer(many=True))
    @action(detail=True, methods=["get"])
    def runs(self, request, pk=None):
        """The rule's runs, newest first (paginated)."""
        qs = RuleRun.objects.filter(rule=self.get_object()).order_by("-at", "-id")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(RuleRunSerializer(page, many=True).data)

    @extend_schema(request=DRY_IN, responses=DRY_OUT)
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request, pk=None):
        """What the rule would do to a record (one the caller may see) now, writing nothing."""
        rule = self.get_object()
        raw = request.data.get("record") if isinstance(request.data, dict) else None
        if (
            isinstance(raw, bool)
            or not isinstance(raw, int | str)
            or not str(raw).isdigit()
            or len(str(raw)) > 18
        ):
            raise exceptions.ValidationError({"record": ["Enter the id of a record."]})
        model = conditions.model_of(rule.model)
        record = Access.of(request.user).filter(model._default_manager.filter(pk=int(raw))).first()
        if record is None or not Access.of(request.user).can(Action.VIEW, model):
            raise exceptions.NotFound()
        return Response(engine.dry_run(rule, record, by=request.user))


def register(router) -> None:
    router.register("automation-rules", RuleViewSet, basename="automation-rule")
