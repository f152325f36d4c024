"""`/api/privacy-requests/`: data-subject requests (privacy officers): list, read, create, and the steps
verify / approve / run / reject; `GET …/{id}/export/` downloads an access request's ZIP."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from kehu.core.access import Access

from . import services
from .models import PrivacyRequest, RequestChannel, RequestKind


class PrivacyRequestSerializer(serializers.ModelSerializer):
    class Meta:
        model = PrivacyRequest
        fields = [
            "id",
            "kind",
            "status",
            "customer_id",
            "subject_label",
            "requester",
            "channel",
            "verified",
            "details",
            "corrections",
            "received_on",
            "due_on",
            "recorded_by",
            "approved_by",
            "approved_at",
            "done_by",
            "done_at",
            "outcome",
            "rejection_reason",
            "version",
        ]
        read_only_fields = fields


class PrivacyRequestCreateSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=RequestKind.choices)
    requester = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(choices=RequestChannel.choices)
    details = serializers.CharField(required=False, allow_blank=True, default="")
    corrections = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=400), required=False, default=dict
    )
    received_on = serializers.DateField(required=False, allow_null=True, default=None)
    verified = serializers.BooleanField(required=False, default=False)


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


def _call(fn, **kwargs):
    try:
        return fn(**kwargs)
    except PermissionDenied as exc:
        raise exceptions.PermissionDenied(str(exc)) from None
    except ValidationError as exc:
        raise exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        ) from None


class PrivacyRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated]
    serializer_class = PrivacyRequestSerializer
    queryset = PrivacyRequest.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False) or not Access.of(self.request.user).can(
            "view", "privacy.privacyrequest"
        ):
            return PrivacyRequest.objects.none()
        qs = PrivacyRequest.objects.order_by("due_on", "id")
        if self.request.query_params.get("overdue") == "1":
            qs = services.overdue()
        return qs

    @extend_schema(request=PrivacyRequestCreateSerializer, responses=PrivacyRequestSerializer)
    def create(self, request):
        body = PrivacyRequestCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        req = _call(services.request_create, by=request.user, **body.validated_data)
        return Response(PrivacyRequestSerializer(req).data, status=201)

    def _step(self, fn, **kwargs):
        req = self.get_object()
        req = _call(fn, request=req, by=self.request.user, **kwargs)
        return Response(PrivacyRequestSerializer(req).data)

    @extend_schema(request=None, responses=PrivacyRequestSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        return self._step(services.request_verify)

    @extend_schema(request=None, responses=PrivacyRequestSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._step(services.request_approve)

    @extend_schema(request=None, responses=PrivacyRequestSerializer)
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        return self._step(services.request_run)

    @extend_schema(request=RejectSerializer, responses=PrivacyRequestSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        body = RejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._step(services.request_reject, reason=body.validated_data["reason"])

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        req = self.get_object()
        if req.kind != RequestKind.ACCESS or not req.export_file:
            raise exceptions.NotFound()
        response = HttpResponse(bytes(req.export_file), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="personal-data-{req.customer_id}.zip"'
        return response


def register(router) -> None:
    router.register("privacy-requests", PrivacyRequestViewSet, basename="privacy-request")
