"""`/api/approvals/`: the requests a user may see (`?model=sales.quote&object_id=7`: a record's history),
`/api/approvals/pending/` (waiting for my decision), `/api/approvals/{id}/` (with its history and the record's
summary cut by the reader's field rights), `POST /api/approvals/{id}/decide/` {decision, comment}."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from kehu.core.api import DateTimeField

from . import selectors as sel
from . import services
from .models import ApprovalEvent, ApprovalRequest, ApprovalTask


class ApprovalEventSerializer(serializers.ModelSerializer):
    at = DateTimeField()
    actor = serializers.StringRelatedField()
    on_behalf_of = serializers.StringRelatedField()

    class Meta:
        model = ApprovalEvent
        fields = ["at", "kind", "step", "actor", "on_behalf_of", "comment"]


class ApprovalTaskSerializer(serializers.ModelSerializer):
    approver = serializers.StringRelatedField()
    on_behalf_of = serializers.StringRelatedField()
    decided_at = DateTimeField()

    class Meta:
        model = ApprovalTask
        fields = ["step", "approver", "on_behalf_of", "status", "comment", "decided_at"]


class ApprovalRequestSerializer(serializers.ModelSerializer):
    requester = serializers.StringRelatedField()
    created_at = DateTimeField()
    decided_at = DateTimeField()
    step_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = [
            "id", "model", "object_id", "title", "chain_name", "status", "step", "step_count", "requester",
            "reason", "created_at", "decided_at",
        ]  # fmt: skip


class ApprovalRequestDetailSerializer(ApprovalRequestSerializer):
    events = ApprovalEventSerializer(many=True, read_only=True)
    tasks = ApprovalTaskSerializer(many=True, read_only=True)
    record = serializers.SerializerMethodField()
    can_decide = serializers.SerializerMethodField()

    class Meta(ApprovalRequestSerializer.Meta):
        fields = [*ApprovalRequestSerializer.Meta.fields, "events", "tasks", "record", "can_decide"]

    def get_record(self, obj) -> dict:
        """The record's summary fields the reader may see, as text."""
        user = self.context["request"].user
        record, rows = sel.summary(user=user, request=obj)
        out = {row.name: None if row.value is None else str(row.value) for row in rows}
        for name, value in services.visible_figures(obj, record, user).items():
            out[name] = str(value)
        return out

    def get_can_decide(self, obj) -> bool:
        return services.can_decide(self.context["request"].user, obj)


#: the two verdicts (named in the schema by SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]; the expenses' decide
#: action uses the same pair)
VERDICTS = [("approve", "approve"), ("reject", "reject")]


class ApprovalVerdictSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(VERDICTS)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class ApprovalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Approval requests the user may see: theirs, those they decide or decided, and those of records they
    may read."""

    permission_classes = [IsAuthenticated]
    serializer_class = ApprovalRequestSerializer
    queryset = ApprovalRequest.objects.none()

    def get_queryset(self):
        params = self.request.query_params
        return sel.request_list(
            user=self.request.user, model=params.get("model", ""), object_id=params.get("object_id", "")
        )

    def get_object(self):
        return sel.request_get(user=self.request.user, pk=self.kwargs["pk"])

    def get_serializer_class(self):
        return (
            ApprovalRequestDetailSerializer
            if self.action in ("retrieve", "decide")
            else ApprovalRequestSerializer
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("model", str, description="record type, e.g. sales.quote"),
            OpenApiParameter("object_id", str, description="the record's id (with model)"),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses=ApprovalRequestSerializer(many=True))
    @action(detail=False)
    def pending(self, request):
        """The requests waiting for my decision (current step, mine or delegated to me)."""
        ids = sel.pending_tasks(user=request.user).values("request_id")
        qs = (
            ApprovalRequest.objects.filter(pk__in=ids)
            .select_related("requester")
            .order_by("created_at", "id")
        )
        page = self.paginate_queryset(qs)
        data = ApprovalRequestSerializer(page if page is not None else qs, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(request=ApprovalVerdictSerializer, responses=ApprovalRequestDetailSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Approve or reject the current step (a rejection needs a comment): 403 if not an approver of it,
        400 when already decided or without a comment to a rejection."""
        approval = self.get_object()
        body = ApprovalVerdictSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        from django.core.exceptions import PermissionDenied, ValidationError

        from kehu.core.exceptions import BusinessRuleError

        try:
            services.approval_decide(
                request=approval,
                approve=body.validated_data["decision"] == "approve",
                comment=body.validated_data["comment"],
                by=request.user,
            )
        except PermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        except ValidationError as exc:
            raise exceptions.ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from None
        except BusinessRuleError as exc:
            raise exceptions.ValidationError({"decision": [str(exc)]}) from None
        approval.refresh_from_db()
        return Response(ApprovalRequestDetailSerializer(approval, context=self.get_serializer_context()).data)


def register(router) -> None:
    router.register("approvals", ApprovalViewSet, basename="approval")
