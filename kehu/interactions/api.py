"""Interactions API: timeline entries (cursor-paginated, newest first) and tasks."""

from __future__ import annotations

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import pagination, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from kehu.core.api import AccessAwareSerializer, ScopedModelViewSet, etag_for

from . import services
from .models import Interaction, Task


class TimelinePagination(pagination.CursorPagination):
    ordering = ("-occurred_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class InteractionSerializer(AccessAwareSerializer):
    class Meta:
        model = Interaction
        fields = [
            "id",
            "customer",
            "account",
            "channel",
            "direction",
            "subject",
            "body",
            "occurred_at",
            "duration_minutes",
            "user",
            "latitude",
            "longitude",
            "related_model",
            "related_id",
            "url",
            "external_ref",
            "created_at",
            "version",
        ]
        read_only_fields = ["account", "related_model", "related_id", "url", "created_at", "version"]
        # a repeated external_ref is an idempotent replay (the service returns the stored entry), not an error
        extra_kwargs = {"external_ref": {"validators": []}}


class InteractionFilterSet(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Interaction
        fields = ["customer", "account", "channel", "direction", "user", "since", "until"]


class InteractionViewSet(ScopedModelViewSet):
    """Interactions of the customers you may see. `?account=<id>` gives an account's rolled-up timeline."""

    model = Interaction
    serializer_class = InteractionSerializer
    pagination_class = TimelinePagination
    filterset_class = InteractionFilterSet
    select_related = ("customer", "user")
    ordering_fields: list[str] = []

    def get_queryset(self):
        return super().get_queryset().order_by("-occurred_at", "-id")

    def create(self, request, *args, **kwargs):
        """POST with an `external_ref` that is already stored answers 200 with the stored entry (safe retry)."""
        self.replayed = False
        response = super().create(request, *args, **kwargs)
        if self.replayed:
            response.status_code = 200
        return response

    def save_new(self, data):
        customer = data.pop("customer")
        entry = services.interaction_log(customer=customer, data=data, by=self.request.user)
        self.replayed = entry.created_at < self.request_started  # stored by an earlier request
        return entry

    def initial(self, request, *args, **kwargs):
        self.request_started = timezone.now()
        super().initial(request, *args, **kwargs)


class TaskSerializer(AccessAwareSerializer):
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Task
        fields = [
            "id",
            "title",
            "notes",
            "customer",
            "due_at",
            "remind_at",
            "reminded_at",
            "status",
            "priority",
            "owner",
            "completed_at",
            "is_overdue",
            "created_at",
            "version",
        ]
        read_only_fields = ["reminded_at", "completed_at", "created_at", "version"]


class TaskFilterSet(django_filters.FilterSet):
    due_before = django_filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="lt")
    due_after = django_filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="gte")
    assigned_to = django_filters.NumberFilter(field_name="owner_id", label="Assigned to (user id)")

    class Meta:
        model = Task
        fields = ["status", "priority", "owner", "assigned_to", "customer", "due_before", "due_after"]


class TaskViewSet(ScopedModelViewSet):
    model = Task
    serializer_class = TaskSerializer
    filterset_class = TaskFilterSet
    select_related = ("customer", "owner")
    ordering_fields = ["due_at", "id"]

    def save_new(self, data):
        return services.task_create(data=data, by=self.request.user)

    def save_existing(self, instance, data, expected_version):
        return services.task_update(
            task=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    @extend_schema(request=None, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        task = self.get_object()
        done = services.task_complete(task=task, by=request.user)
        response = Response(TaskSerializer(done, context={"request": request}).data)
        response["ETag"] = etag_for(done)
        return response


def register(router) -> None:
    router.register("interactions", InteractionViewSet, basename="interaction")
    router.register("tasks", TaskViewSet, basename="task")
