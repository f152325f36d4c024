"""Pools API: `/api/pools/` (the pools open to the caller; administrators change them through the record
service), `/api/pools/{id}/customers/` (the pool's customers with their history, contact details hidden as the
pool and the caller's field rights say), and the actions `claim`, `release` (If-Match of the customer
required: it changes a record the caller holds) and `assign` (transfer right). Claim and assign accept an
optional If-Match (the customer's ETag from the pool list). Responses carry the customer's ETag."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from kehu.core.api import AccessAwareSerializer, ScopedModelViewSet, etag_for, version_from_if_match
from kehu.core.drf import PreconditionRequired
from kehu.core.models import User
from kehu.core.selectors import scoped
from kehu.customers.models import Customer

from .models import CustomerPool, PoolEntry, PoolEvent
from .services import pools

CUSTOMER_FIELDS = ["id", "name", "kind", "city", "lifecycle_stage", "industry", "phone", "email", "version"]


class CustomerPoolSerializer(AccessAwareSerializer):
    class Meta:
        model = CustomerPool
        fields = [
            "id", "name", "department", "product_line", "active", "hide_contact_details", "reclaim_cooldown_days",
            "version",
        ]  # fmt: skip
        read_only_fields = ["version"]


class PoolEventSerializer(serializers.ModelSerializer):
    from_owner = serializers.StringRelatedField()
    to_owner = serializers.StringRelatedField()
    rule = serializers.StringRelatedField()

    class Meta:
        model = PoolEvent
        fields = ["kind", "at", "from_owner", "to_owner", "rule", "reason"]


class PoolCustomerSerializer(serializers.Serializer):
    """A customer in a pool: the fields the pool may reveal, who held it before and why it returned."""

    customer = serializers.SerializerMethodField()
    entered_at = serializers.DateTimeField()
    previous_owner = serializers.StringRelatedField()
    reason = serializers.CharField()
    history = serializers.SerializerMethodField()

    def get_customer(self, entry) -> dict:
        hidden = self.context["hidden"]
        c = entry.customer
        return {name: getattr(c, name) for name in CUSTOMER_FIELDS if name not in hidden}

    def get_history(self, entry) -> list[dict]:
        events = self.context["history"].get(entry.customer_id, [])
        return PoolEventSerializer(events, many=True).data


def _customer_response(customer: Customer, code=status.HTTP_200_OK) -> Response:
    fresh = Customer.objects.select_related("owner").get(pk=customer.pk)
    response = Response(
        {"id": fresh.pk, "name": fresh.name, "owner": fresh.owner_id, "version": fresh.version}, status=code
    )
    response["ETag"] = etag_for(fresh)
    return response


CUSTOMER_REF = inline_serializer(
    "PoolCustomerRef",
    {
        "id": serializers.IntegerField(),
        "name": serializers.CharField(),
        "owner": serializers.IntegerField(allow_null=True),
        "version": serializers.IntegerField(),
    },
)
IF_MATCH = OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, description="ETag of the customer")


class CustomerPoolViewSet(ScopedModelViewSet):
    model = CustomerPool
    serializer_class = CustomerPoolSerializer
    select_related = ("department", "product_line")
    filterset_fields = ["active", "department", "product_line"]
    ordering_fields: list[str] = []
    required_action: str | None = None  # set per action below (ModelAccessPermission reads it)

    def get_queryset(self):
        qs = super().get_queryset()
        if getattr(self, "swagger_fake_view", False) or pools.is_pool_admin(self.request.user):
            return qs
        return qs.filter(pk__in=[p.pk for p in pools.pools_for(user=self.request.user)])

    def _customer(self, pool) -> Customer:
        pk = self.request.data.get("customer")
        if not str(pk or "").isdigit():
            raise ValidationError({"customer": [_("Give the customer's id.")]})
        entry = get_object_or_404(PoolEntry.objects.select_related("customer"), pool=pool, customer_id=pk)
        return entry.customer

    @extend_schema(responses=PoolCustomerSerializer(many=True))
    @action(detail=True, methods=["get"])
    def customers(self, request, pk=None):
        pool = self.get_object()
        qs = pools.pool_entries(pool=pool, user=request.user)
        page = self.paginate_queryset(qs)
        entries = list(page if page is not None else qs)
        history = pools.pool_history(customer_ids=[e.customer_id for e in entries])
        pools.mask_hidden_entry_fields(entries=entries, history=history, user=request.user)
        context = {"hidden": pools.hidden_customer_fields(pool=pool, user=request.user), "history": history}
        data = PoolCustomerSerializer(entries, many=True, context=context).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(
        request=inline_serializer("PoolClaim", {"customer": serializers.IntegerField()}),
        parameters=[IF_MATCH],
        responses=CUSTOMER_REF,
    )
    @action(detail=True, methods=["post"], required_action="view")  # the service checks its own right
    def claim(self, request, pk=None):
        """Claim a customer of this pool (claim limits of the caller's roles, cooldown after giving it up)."""
        pool = self.get_object()
        customer = self._customer(pool)
        expected = version_from_if_match(request.headers.get("If-Match"), customer.pk)
        pools.pool_claim(customer=customer, pool=pool, by=request.user, expected_version=expected)
        return _customer_response(customer)

    @extend_schema(
        request=inline_serializer(
            "PoolAssign",
            {
                "customer": serializers.IntegerField(),
                "to_user": serializers.IntegerField(),
                "reason": serializers.CharField(required=False),
            },
        ),
        parameters=[IF_MATCH],
        responses=CUSTOMER_REF,
    )
    @action(detail=True, methods=["post"], required_action="view")  # the service checks its own right
    def assign(self, request, pk=None):
        """Assign a customer of this pool to a user (transfer right on customers)."""
        pool = self.get_object()
        customer = self._customer(pool)
        to_user = get_object_or_404(User, pk=request.data.get("to_user") or 0, is_active=True)
        expected = version_from_if_match(request.headers.get("If-Match"), customer.pk)
        pools.pool_assign(
            customer=customer,
            to_user=to_user,
            by=request.user,
            reason=request.data.get("reason") or "",
            expected_version=expected,
        )
        return _customer_response(customer)

    @extend_schema(
        request=inline_serializer(
            "PoolRelease", {"customer": serializers.IntegerField(), "reason": serializers.CharField()}
        ),
        parameters=[IF_MATCH],
        responses=CUSTOMER_REF,
    )
    @action(detail=True, methods=["post"], required_action="view")  # the service checks its own right
    def release(self, request, pk=None):
        """Release a customer the caller may write back to this pool, with a reason (If-Match required)."""
        pool = self.get_object()
        pk_ = request.data.get("customer")
        if not str(pk_ or "").isdigit():
            raise ValidationError({"customer": [_("Give the customer's id.")]})
        customer = get_object_or_404(scoped(Customer, user=request.user), pk=pk_)
        expected = version_from_if_match(request.headers.get("If-Match"), customer.pk)
        if expected is None:
            raise PreconditionRequired()
        pools.pool_release(
            customer=customer,
            pool=pool,
            by=request.user,
            reason=request.data.get("reason") or "",
            expected_version=expected,
        )
        return _customer_response(customer)


def register(router) -> None:
    router.register("pools", CustomerPoolViewSet, basename="pool")
