"""Promotions API: /api/promotions/ (CRUD through the scoped viewset; `issue` gives the campaign's recipients
their codes, `stats` the redemption figures, `codes` the codes of the customers the caller may see) and
/api/coupon-redemptions/ (POST a code and an order in the caller's write scope: the code is used on it, once)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from kehu.core.access import Access
from kehu.core.api import AccessAwareSerializer, ScopedModelViewSet
from kehu.core.models import Action

from .models import CouponCode, Promotion
from .selectors import promotions as selectors
from .services import promotions as services


class PromotionSerializer(AccessAwareSerializer):
    class Meta:
        model = Promotion
        fields = [
            "id",
            "name",
            "campaign",
            "kind",
            "threshold",
            "discount",
            "currency",
            "gifts",
            "valid_from",
            "valid_until",
            "terms",
            "owner",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = ["created_at", "updated_at", "version"]


class CouponCodeSerializer(serializers.ModelSerializer):
    class Meta:
        model = CouponCode
        fields = [
            "id",
            "promotion",
            "customer",
            "code",
            "issued_at",
            "redeemed_at",
            "order",
            "gift",
            "discount_granted",
        ]
        read_only_fields = fields

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            for name in Access.of(request.user).hidden_fields(CouponCode):
                fields.pop(name, None)
        return fields


STATS = inline_serializer(
    "PromotionStats",
    {
        "issued": serializers.IntegerField(),
        "redeemed": serializers.IntegerField(),
        "rate": serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True),
        "discount_granted": serializers.DecimalField(max_digits=16, decimal_places=2),
        "revenue": serializers.DecimalField(max_digits=16, decimal_places=2),
        "gifts": serializers.DictField(child=serializers.IntegerField()),
    },
)
ISSUED = inline_serializer("PromotionIssued", {"issued": serializers.IntegerField()})
REDEEM_IN = inline_serializer(
    "CouponRedemptionInput",
    {
        "code": serializers.CharField(),
        "order": serializers.IntegerField(),
        "gift": serializers.CharField(required=False, allow_blank=True),
    },
)


class PromotionViewSet(ScopedModelViewSet):
    """Promotions in the caller's scope. `issue` needs the change right and the promotion in the caller's
    write scope; it is idempotent (only recipients without a code get one)."""

    model = Promotion
    serializer_class = PromotionSerializer
    select_related = ("owner", "campaign")
    required_action = None

    def initial(self, request, *args, **kwargs):
        if self.action == "issue":
            self.required_action = Action.CHANGE
        super().initial(request, *args, **kwargs)

    def save_new(self, data: dict):
        return services.promotion_create(data=data, by=self.request.user)

    def save_existing(self, instance, data: dict, expected_version: int):
        return services.promotion_update(
            promotion=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    @extend_schema(request=None, responses=ISSUED)
    @action(detail=True, methods=["post"])
    def issue(self, request, pk=None):
        promotion = self.get_object()
        try:
            services.ensure_can_issue(request.user, promotion)
            issued = services.codes_issue(promotion=promotion, by=request.user)
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from None
        return Response({"issued": issued})

    @extend_schema(responses=STATS)
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        figures = selectors.promotion_stats(self.get_object())
        figures["gifts"] = dict(figures["gifts"])
        for key in ("rate", "discount_granted", "revenue"):  # money as strings, like every amount in the API
            figures[key] = None if figures[key] is None else str(figures[key])
        return Response(figures)

    @extend_schema(responses=CouponCodeSerializer(many=True))
    @action(detail=True, methods=["get"])
    def codes(self, request, pk=None):
        qs = selectors.promotion_codes(promotion=self.get_object(), user=request.user)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(
            CouponCodeSerializer(page, many=True, context={"request": request}).data
        )


class CouponRedemptionViewSet(viewsets.ViewSet):
    """POST {code, order, gift?}: use a coupon on an order in the caller's write scope (whoever may place
    orders: the add right on orders).
    Refusals are 400 with the field at fault; a code used already (also by someone at the same moment) too."""

    required_action = Action.ADD

    @property
    def model(self):
        from kehu.sales.models import Order

        return Order

    @extend_schema(request=REDEEM_IN, responses={201: CouponCodeSerializer})
    def create(self, request):
        data = request.data if isinstance(request.data, dict) else {}
        try:
            coupon = services.coupon_redeem(
                code=str(data.get("code") or ""),
                order=data.get("order"),
                by=request.user,
                gift=str(data.get("gift") or ""),
            )
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from None
        return Response(
            CouponCodeSerializer(coupon, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


def register(router) -> None:
    router.register("promotions", PromotionViewSet, basename="promotion")
    router.register("coupon-redemptions", CouponRedemptionViewSet, basename="coupon-redemption")
