"""Integrations API: /api/integrations/tokens/, /api/integrations/webhooks/ (with deliveries, replay,
enable), /api/integrations/allowed-hosts/ and /api/integrations/events/ (ADR 0022, docs/integrations.md)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from kehu.core.models import User

from . import services, tokens, webhooks
from .models import AllowedHost, ApiToken, Attempt, Delivery, Subscription, TokenKind


class TokenSerializer(serializers.ModelSerializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), required=False)
    scopes = serializers.ListField(child=serializers.CharField(max_length=60))
    active = serializers.BooleanField(source="is_active", read_only=True)
    display = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "kind", "user", "scopes", "rate_per_minute", "expires_at", "last_used_at",
                  "created_at", "revoked_at", "active", "display"]  # fmt: skip
        read_only_fields = ["last_used_at", "created_at", "revoked_at"]
        extra_kwargs = {"name": {"required": False, "allow_blank": True}}  # the service names every problem

    def get_display(self, obj) -> str:
        return f"kehu_{obj.prefix}_…"


class NewTokenSerializer(TokenSerializer):
    key = serializers.CharField(read_only=True, help_text="The token: shown this once, store it now.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "key"]


def _scopes_of(request) -> list[str] | None:
    return request.auth.scopes if isinstance(request.auth, ApiToken) else None


class TokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """API tokens: your own (administrators: everyone's). DELETE revokes (the row stays, for the record)."""

    serializer_class = TokenSerializer
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        qs = ApiToken.objects.select_related("user").order_by("-id")
        if getattr(self, "swagger_fake_view", False):
            return qs.none()
        return qs if services.is_admin(self.request.user) else qs.filter(user=self.request.user)

    @extend_schema(
        request=TokenSerializer,
        responses={201: NewTokenSerializer},
        examples=[
            OpenApiExample(
                "ERP read-only",
                request_only=True,
                value={
                    "name": "ERP sync",
                    "kind": "integration",
                    "scopes": ["sales:read", "customers:read"],
                    "expires_at": "2027-06-30T00:00:00+08:00",
                    "rate_per_minute": 120,
                },  # fmt: skip
            )
        ],
    )
    def create(self, request):
        serializer = TokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            token, key = tokens.token_create(
                user=data.get("user") or request.user, name=data.get("name", ""), scopes=data.get("scopes"),
                kind=data.get("kind", TokenKind.PERSONAL), expires_at=data.get("expires_at"),
                rate_per_minute=data.get("rate_per_minute", 600), by=request.user, within=_scopes_of(request),
            )  # fmt: skip
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None
        body = NewTokenSerializer(token, context={"request": request}).data
        body["key"] = key
        return Response(body, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk=None):
        token = self.get_object()
        tokens.token_revoke(token=token, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        return self.destroy(request, pk)


class SubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.CharField(max_length=60))
    secret = serializers.CharField(write_only=True, required=False, min_length=16, max_length=100)

    class Meta:
        model = Subscription
        fields = ["id", "name", "url", "events", "secret", "owner", "payload_version", "active", "failures",
                  "disabled_at", "disabled_reason", "created_at"]  # fmt: skip
        read_only_fields = ["payload_version", "failures", "disabled_at", "disabled_reason", "created_at"]
        extra_kwargs = {"owner": {"required": False}, "url": {"validators": []}}


class NewSubscriptionSerializer(SubscriptionSerializer):
    signing_secret = serializers.CharField(read_only=True, help_text="Shown once: verify signatures with it.")

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "signing_secret"]


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = ["at", "response_code", "error", "duration_ms"]


class DeliverySerializer(serializers.ModelSerializer):
    attempt_log = AttemptSerializer(many=True, read_only=True)
    payload = serializers.JSONField(source="body_json", read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "event_id", "event", "object_key", "status", "attempts", "next_attempt_at",
                  "response_code", "error", "created_at", "delivered_at", "payload", "attempt_log"]  # fmt: skip


def _django_errors(call):
    try:
        return call()
    except DjangoValidationError as exc:
        raise exceptions.ValidationError(exc.message_dict) from None


class SubscriptionViewSet(viewsets.ModelViewSet):
    """Webhook subscriptions: yours (administrators: all). Payloads carry what the owner may see."""

    serializer_class = SubscriptionSerializer
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Subscription.objects.none()
        return services.subscriptions_for(self.request.user).order_by("id")

    @extend_schema(
        responses={201: NewSubscriptionSerializer},
        examples=[
            OpenApiExample(
                "Orders to the ERP",
                request_only=True,
                value={
                    "name": "ERP",
                    "url": "https://erp.example.com/kehu/hooks",
                    "events": ["order.created", "order.status_changed", "customer.created"],
                },  # fmt: skip
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sub = _django_errors(
            lambda: services.subscription_create(data=dict(serializer.validated_data), by=request.user)
        )
        body = NewSubscriptionSerializer(sub).data
        body["signing_secret"] = sub.secret
        return Response(body, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        sub = self.get_object()
        serializer = self.get_serializer(sub, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        sub = _django_errors(
            lambda: services.subscription_update(
                sub=sub, data=dict(serializer.validated_data), by=request.user
            )
        )
        return Response(self.get_serializer(sub).data)

    def destroy(self, request, *args, **kwargs):
        services.subscription_delete(sub=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: DeliverySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        sub = self.get_object()
        qs = Delivery.objects.filter(subscription=sub).prefetch_related("attempt_log").order_by("-id")
        status_filter = request.query_params.get("status")
        if status_filter:
            qs = qs.filter(status=status_filter)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={200: SubscriptionSerializer})
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        sub = services.subscription_update(sub=self.get_object(), data={"active": True}, by=request.user)
        return Response(self.get_serializer(sub).data)


class DeliveryViewSet(viewsets.GenericViewSet):
    serializer_class = DeliverySerializer
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Delivery.objects.none()
        return Delivery.objects.filter(subscription__in=services.subscriptions_for(self.request.user))

    @extend_schema(request=None, responses={201: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        copy = services.delivery_replay(delivery_row=self.get_object(), by=request.user)
        return Response(DeliverySerializer(copy).data, status=status.HTTP_201_CREATED)


class AllowedHostSerializer(serializers.ModelSerializer):
    class Meta:
        model = AllowedHost
        fields = ["id", "host", "note", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {"host": {"validators": []}}


class AllowedHostViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Hosts webhooks may reach although private, loopback or link-local (administrators)."""

    serializer_class = AllowedHostSerializer
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False) or not services.is_admin(self.request.user):
            return AllowedHost.objects.none()
        return AllowedHost.objects.order_by("host")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = _django_errors(lambda: services.allowed_host_add(
            host=serializer.validated_data["host"], note=serializer.validated_data.get("note", ""), by=request.user))  # fmt: skip
        return Response(self.get_serializer(row).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        services.allowed_host_remove(row=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EventViewSet(viewsets.ViewSet):
    """The events a subscription may ask for."""

    @extend_schema(
        responses={
            200: inline_serializer(
                "WebhookEvent",
                {"event": serializers.CharField(), "label": serializers.CharField()},
                many=True,
            )
        }  # fmt: skip
    )
    def list(self, request):
        return Response([{"event": e, "label": label} for e, label in webhooks.event_catalogue()])


def register(router) -> None:
    router.register("integrations/tokens", TokenViewSet, basename="integration-token")
    router.register("integrations/webhooks", SubscriptionViewSet, basename="integration-webhook")
    router.register("integrations/deliveries", DeliveryViewSet, basename="integration-delivery")
    router.register("integrations/allowed-hosts", AllowedHostViewSet, basename="integration-allowed-host")
    router.register("integrations/events", EventViewSet, basename="integration-event")
