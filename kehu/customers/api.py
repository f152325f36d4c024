"""Customer API: CRUD with scope, field restrictions, ETag locking; contact points; consent."""

from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from kehu.analytics.models_value import ValueSegment
from kehu.analytics.rfm import Segment as RFMSegment
from kehu.core.access import Access
from kehu.core.api import AccessAwareSerializer, CustomValuesField, ScopedModelViewSet
from kehu.customers.filters import AT_RISK

from . import search, selectors, services
from .models import (
    PROFILE_FIELDS,
    Channel,
    ConsentEvent,
    ConsentMethod,
    ConsentStatus,
    Customer,
    CustomerAddress,
    CustomerEmail,
    CustomerPhone,
    DuplicateCandidate,
    MergeRecord,
    SocialIdentity,
)


class PhoneSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerPhone
        fields = ["id", "kind", "number", "extension", "is_primary"]


class EmailSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerEmail
        fields = ["id", "email", "label", "is_primary"]


class AddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerAddress
        fields = [
            "id",
            "kind",
            "country",
            "province",
            "city",
            "district",
            "street",
            "postal_code",
            "is_primary",
        ]


class SocialSerializer(serializers.ModelSerializer):
    class Meta:
        model = SocialIdentity
        fields = ["id", "network", "handle"]


class CustomerSerializer(AccessAwareSerializer):
    custom = CustomValuesField(required=False)
    phones = PhoneSerializer(many=True, read_only=True)
    emails = EmailSerializer(many=True, read_only=True)
    addresses = AddressSerializer(many=True, read_only=True)
    social_ids = SocialSerializer(many=True, read_only=True)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)

    class Meta:
        model = Customer
        fields = [
            "id",
            "kind",
            *PROFILE_FIELDS,
            "account",
            "parent",
            "owner",
            "tags",
            "custom",
            "consent",
            "phones",
            "emails",
            "addresses",
            "social_ids",
            "merged_into",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = ["consent", "merged_into", "created_at", "updated_at", "version"]


class CustomerFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="filter_q", label="search")
    import_job = filters.NumberFilter(method="filter_import_job", label="customers written by this import")
    rfm_segment = filters.ChoiceFilter(
        choices=RFMSegment.choices, method="filter_rfm_segment", label="RFM segment (kehu.analytics)"
    )
    value_segment = filters.ChoiceFilter(
        choices=ValueSegment.choices, method="filter_value_segment", label="value segment (kehu.analytics)"
    )
    at_risk = filters.ChoiceFilter(
        choices=AT_RISK,
        method="filter_at_risk",
        label="churn risk at or above (true) or below (false) the at-risk threshold (kehu.analytics)",
    )
    segment = filters.NumberFilter(
        method="filter_segment", label="members of a marketing segment (kehu.marketing)"
    )

    class Meta:
        model = Customer
        fields = [
            "kind",
            "customer_type",
            "lifecycle_stage",
            "source",
            "owner",
            "account",
            "parent",
            "city",
            "tags",
        ]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        from .filters import drop_analytics_filters

        drop_analytics_filters(self, getattr(request, "user", None))

    def filter_q(self, queryset, name, value):
        return search.match_customers(queryset, value, user=getattr(self.request, "user", None))

    def filter_import_job(self, queryset, name, value):
        from .imports.selectors import written_customer_ids

        user = getattr(self.request, "user", None)
        return queryset.filter(pk__in=written_customer_ids(user=user, job_id=value))

    def filter_rfm_segment(self, queryset, name, value):
        from kehu.analytics.selectors import customers_in_segment

        return customers_in_segment(queryset, user=getattr(self.request, "user", None), segment=value)

    def filter_value_segment(self, queryset, name, value):
        from kehu.analytics.selectors_value import customers_in_value_segment

        return customers_in_value_segment(queryset, user=getattr(self.request, "user", None), segment=value)

    def filter_at_risk(self, queryset, name, value):
        from kehu.analytics.selectors_value import customers_by_risk

        if value not in ("true", "false"):
            return queryset
        return customers_by_risk(queryset, user=getattr(self.request, "user", None), at_risk=value == "true")

    def filter_segment(self, queryset, name, value):
        from kehu.marketing.selectors.segments import customers_in_segment

        return customers_in_segment(queryset, user=getattr(self.request, "user", None), segment_id=int(value))


class ContactPointInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["phone", "email", "social"])
    value = serializers.CharField(max_length=254)
    label = serializers.CharField(max_length=40, required=False, allow_blank=True)


class ConsentInput(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    status = serializers.ChoiceField(choices=ConsentStatus.choices)
    method = serializers.ChoiceField(choices=ConsentMethod.choices)
    evidence = serializers.CharField(max_length=300, required=False, allow_blank=True)


class ConsentEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentEvent
        fields = ["id", "channel", "status", "method", "evidence", "at", "recorded_by"]


class MergeInput(serializers.Serializer):
    others = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=20)
    field_choices = serializers.DictField(child=serializers.IntegerField(), required=False)


class MergeResult(serializers.Serializer):
    merge = serializers.IntegerField()
    survivor = serializers.IntegerField()


class SearchResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()


class CustomerViewSet(ScopedModelViewSet):
    model = Customer
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilterSet
    ordering_fields = ["name", "updated_at", "created_at", "id"]
    select_related = ("owner",)
    prefetch_related = ("phones", "emails", "addresses", "social_ids", "tags")

    def get_queryset(self):
        qs = super().get_queryset()
        return qs.filter(merged_into__isnull=True) if self.action == "list" else qs

    def save_new(self, data):
        return services.customer_create(data=data, by=self.request.user)

    def save_existing(self, instance, data, expected_version):
        return services.customer_update(
            customer=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    @extend_schema(request=ContactPointInput, responses={201: None})
    @action(detail=True, methods=["post"], url_path="contact-points")
    def contact_points(self, request, pk=None):
        customer = self.get_object()
        data = ContactPointInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.contact_point_add(
            customer=customer,
            by=request.user,
            kind=data.validated_data["kind"],
            value=data.validated_data["value"],
            label=data.validated_data.get("label", ""),
        )
        return Response(status=status.HTTP_201_CREATED)

    @extend_schema(request=ConsentInput, responses={201: ConsentEventSerializer})
    @action(detail=True, methods=["post"])
    def consent(self, request, pk=None):
        customer = self.get_object()
        data = ConsentInput(data=request.data)
        data.is_valid(raise_exception=True)
        event = services.consent_record(customer=customer, by=request.user, **data.validated_data)
        return Response(ConsentEventSerializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MergeInput, responses={201: MergeResult})
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Merge other customers into this one (all their related records move here; undo via /api/merges/).
        `field_choices` maps a profile field, or `custom.<key>`, to the id of the record whose value is kept.
        A record already merged into another (this one or one of `others`) is refused with 409."""
        from . import merge as merge_service

        survivor = self.get_object()
        data = MergeInput(data=request.data)
        data.is_valid(raise_exception=True)
        # merged records are found too, so that the service refuses them with a clear 409
        visible = selectors.customer_list_with_merged(user=request.user)
        others = list(visible.filter(pk__in=data.validated_data["others"]))
        if len(others) != len(set(data.validated_data["others"])):
            from django.http import Http404

            raise Http404
        record = merge_service.customer_merge(
            survivor=survivor,
            others=others,
            by=request.user,
            field_choices=data.validated_data.get("field_choices"),
        )
        return Response({"merge": record.pk, "survivor": survivor.pk}, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("q", str, description="what was typed")],
        responses=SearchResultSerializer(many=True),
    )
    @action(detail=False, methods=["get"], url_path="search", pagination_class=None, filter_backends=[])
    def search_action(self, request):
        """Ranked search as you type (?q=): names, pinyin, initials, phones in any format, emails."""
        found = search.customer_search(user=request.user, q=request.query_params.get("q", ""), limit=20)
        hidden = Access.of(request.user).hidden_fields(Customer)
        return Response(
            [
                {
                    k: v
                    for k, v in {
                        "id": c.pk,
                        "name": c.name,
                        "kind": c.kind,
                        "phone": c.phone,
                        "email": c.email,
                    }.items()
                    if k not in hidden
                }
                for c in found
            ]
        )


__all__ = ["selectors", "register"]


class DuplicateSerializer(serializers.ModelSerializer):
    reasons = serializers.SerializerMethodField(help_text="In the caller's language")

    class Meta:
        model = DuplicateCandidate
        fields = ["id", "first", "second", "score", "reasons", "status", "found_at"]

    def get_reasons(self, pair) -> list[str]:
        """Without the values of fields the caller may not see (e.g. "same phone", not the number)."""
        request = self.context.get("request")
        hidden = Access.of(request.user).hidden_fields(Customer) if request is not None else set()
        return pair.reason_texts_for(hidden)


class DuplicateViewSet(viewsets.ReadOnlyModelViewSet):
    """Open duplicate candidates where the caller may see both records."""

    serializer_class = DuplicateSerializer
    queryset = DuplicateCandidate.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DuplicateCandidate.objects.none()
        from .views_dedup import visible_candidates

        return visible_candidates(self.request.user)


class MergeViewSet(viewsets.GenericViewSet):
    queryset = MergeRecord.objects.none()
    lookup_value_regex = r"[0-9]{1,18}"  # /api/merges/abc/undo/ is a 404, not a ValueError
    serializer_class = MergeResult

    @extend_schema(request=None, responses={200: MergeResult})
    @action(detail=True, methods=["post"])
    def undo(self, request, pk=None):
        from django.http import Http404

        from . import merge as merge_service

        record = MergeRecord.objects.filter(pk=pk).first() if str(pk).isdigit() else None
        if (
            record is None
            or not selectors.customer_list_with_merged(user=request.user)
            .filter(pk=record.survivor_id)
            .exists()
        ):
            raise Http404
        merge_service.customer_merge_undo(merge=record, by=request.user)
        return Response({"merge": record.pk, "survivor": record.survivor_id})


def register(router) -> None:
    from .imports.api import register as register_imports

    router.register("customers", CustomerViewSet, basename="customer")
    register_imports(router)
    router.register("duplicates", DuplicateViewSet, basename="duplicate")
    router.register("merges", MergeViewSet, basename="merge")
