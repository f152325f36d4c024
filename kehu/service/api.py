"""Service API: tickets (scoped, ETag/If-Match) with their workflow actions, and ticket messages."""

from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from kehu.core.api import AccessAwareSerializer, ScopedModelViewSet, etag_for, version_from_if_match
from kehu.core.models import User
from kehu.core.selectors import get_visible

from .models import Ticket, TicketAttachment, TicketMessage, TicketStatus
from .selectors import ticket_list
from .services import conversation, tickets
from .services.common import TicketTaken


class TicketSerializer(AccessAwareSerializer):
    reference = serializers.CharField(read_only=True)
    sla_paused = serializers.BooleanField(read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "reference",
            "subject",
            "kind",
            "status",
            "priority",
            "channel",
            "category",
            "customer",
            "contact",
            "installed_product",
            "out_of_warranty",
            "service_contract",
            "queue",
            "owner",
            "language",
            "requester_name",
            "requester_email",
            "sla_policy",
            "first_response_due",
            "resolution_due",
            "first_responded_at",
            "resolved_at",
            "closed_at",
            "sla_paused",
            "first_response_breached",
            "resolution_breached",
            "merged_into",
            "split_from",
            "message_count",
            "last_activity_at",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = [
            "status",
            "out_of_warranty",
            "sla_policy",
            "first_response_due",
            "resolution_due",
            "first_responded_at",
            "resolved_at",
            "closed_at",
            "first_response_breached",
            "resolution_breached",
            "merged_into",
            "split_from",
            "message_count",
            "last_activity_at",
            "created_at",
            "updated_at",
            "version",
        ]


class TicketCreateSerializer(TicketSerializer):
    message = serializers.CharField(required=False, allow_blank=True, write_only=True)

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "message"]


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = TicketAttachment
        fields = ["id", "filename", "content_type", "size", "url"]

    def get_url(self, obj) -> str:
        return obj.get_absolute_url()


class TicketMessageSerializer(AccessAwareSerializer):
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = TicketMessage
        fields = [
            "id",
            "ticket",
            "kind",
            "author",
            "from_name",
            "from_email",
            "to",
            "cc",
            "body",
            "message_id",
            "delivery_status",
            "sent_at",
            "attachments",
            "created_at",
        ]
        read_only_fields = fields


class TicketFilterSet(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    assigned_to = django_filters.NumberFilter(field_name="owner_id", label="Assigned to (user id)")
    unassigned = django_filters.BooleanFilter(field_name="owner", lookup_expr="isnull")

    class Meta:
        model = Ticket
        fields = [
            "status",
            "priority",
            "kind",
            "channel",
            "queue",
            "category",
            "customer",
            "owner",
            "assigned_to",
        ]


def _expected(request, pk) -> int | None:
    expected = version_from_if_match(request.headers.get("If-Match"), pk)
    if expected is None and "version" in request.data:
        try:
            expected = int(request.data["version"])
        except (TypeError, ValueError):
            raise exceptions.ValidationError({"version": ["Must be an integer."]}) from None
    return expected


class TicketViewSet(ScopedModelViewSet):
    """Tickets you may see: those assigned within your scope, the unassigned ones of your queues, and those
    of the customers you may see. Changing fields needs If-Match; workflow actions take the ETag too."""

    model = Ticket
    serializer_class = TicketSerializer
    filterset_class = TicketFilterSet
    select_related = ("customer", "owner", "queue")
    ordering_fields = ["created_at", "sla_next_due", "id"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_serializer_class(self):
        return TicketCreateSerializer if self.action == "create" else TicketSerializer

    def save_new(self, data):
        message = data.pop("message", "")
        return tickets.ticket_create(data=data, by=self.request.user, message=message)

    def save_existing(self, instance, data, expected_version):
        owner = data.pop("owner", instance.owner)
        if getattr(owner, "pk", owner) != instance.owner_id:
            raise exceptions.ValidationError(
                {"owner": ["Change the assignee with the take or assign action."]}
            )
        return tickets.ticket_update(
            ticket=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    def _answer(self, ticket: Ticket, code: int = 200) -> Response:
        ticket = Ticket.objects.select_related("customer", "owner", "queue").get(pk=ticket.pk)
        response = Response(TicketSerializer(ticket, context={"request": self.request}).data, status=code)
        response["ETag"] = etag_for(ticket)
        return response

    @extend_schema(request=None, responses={200: TicketSerializer, 409: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def take(self, request, pk=None):
        """Take the ticket. 409 names who has it when another agent was first."""
        ticket = self.get_object()
        try:
            taken = tickets.ticket_take(ticket=ticket, by=request.user)
        except TicketTaken as exc:
            return Response(
                {"detail": str(exc), "taken_by": exc.owner.pk, "taken_by_name": str(exc.owner)}, status=409
            )
        return self._answer(taken)

    @extend_schema(
        request=inline_serializer("TicketAssign", {"owner": serializers.IntegerField(allow_null=True)}),
        responses=TicketSerializer,
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False)],
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        ticket = self.get_object()
        owner_id = request.data.get("owner")
        to = None
        if owner_id not in (None, ""):
            to = User.objects.filter(pk=owner_id, is_active=True).first() if str(owner_id).isdigit() else None
            if to is None:
                raise exceptions.ValidationError({"owner": ["Unknown or inactive user."]})
        done = tickets.ticket_assign(
            ticket=ticket, to=to, by=request.user, expected_version=_expected(request, ticket.pk)
        )
        return self._answer(done)

    @extend_schema(
        request=inline_serializer(
            "TicketStatusChange", {"status": serializers.ChoiceField(TicketStatus.choices)}
        ),
        responses=TicketSerializer,
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False)],
    )
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        ticket = self.get_object()
        done = tickets.ticket_set_status(
            ticket=ticket,
            status=str(request.data.get("status", "")),
            by=request.user,
            expected_version=_expected(request, ticket.pk),
        )
        return self._answer(done)

    @extend_schema(
        request=inline_serializer(
            "TicketReply",
            {
                "body": serializers.CharField(),
                "cc": serializers.ListField(child=serializers.EmailField(), required=False),
                "then_status": serializers.ChoiceField(
                    [TicketStatus.PENDING, TicketStatus.RESOLVED], required=False, allow_blank=True
                ),
            },
        ),
        responses={201: TicketMessageSerializer},
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False)],
    )
    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        """A public reply, emailed to the requester (delivery_status tells the outcome)."""
        ticket = self.get_object()
        cc = request.data.get("cc") or []
        if not isinstance(cc, list):
            raise exceptions.ValidationError({"cc": ["A list of email addresses."]})
        message = conversation.ticket_reply(
            ticket=ticket,
            body=str(request.data.get("body", "")),
            by=request.user,
            cc=[str(c) for c in cc],
            then_status=str(request.data.get("then_status") or ""),
            expected_version=_expected(request, ticket.pk),
        )
        return Response(TicketMessageSerializer(message, context={"request": request}).data, status=201)

    @extend_schema(
        request=inline_serializer("TicketNote", {"body": serializers.CharField()}),
        responses={201: TicketMessageSerializer},
    )
    @action(detail=True, methods=["post"])
    def note(self, request, pk=None):
        ticket = self.get_object()
        message = conversation.ticket_note(
            ticket=ticket, body=str(request.data.get("body", "")), by=request.user
        )
        return Response(TicketMessageSerializer(message, context={"request": request}).data, status=201)

    @extend_schema(
        request=inline_serializer("TicketMerge", {"target": serializers.IntegerField()}),
        responses=TicketSerializer,
    )
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Merge this ticket into `target`."""
        ticket = self.get_object()
        target_id = request.data.get("target")
        if not str(target_id or "").isdigit():
            raise exceptions.ValidationError({"target": ["The number of the ticket to merge into."]})
        target = get_visible(ticket_list(user=request.user), user=request.user, pk=int(target_id))
        return self._answer(tickets.ticket_merge(source=ticket, target=target, by=request.user))


class TicketMessageFilterSet(django_filters.FilterSet):
    class Meta:
        model = TicketMessage
        fields = ["ticket", "kind"]


class TicketMessageViewSet(ScopedModelViewSet):
    """The conversations of the tickets you may see (read-only: write with the ticket's reply and note
    actions). `?ticket=<id>` gives one conversation, oldest first."""

    model = TicketMessage
    serializer_class = TicketMessageSerializer
    filterset_class = TicketMessageFilterSet
    select_related = ("author",)
    prefetch_related = ("attachments",)
    http_method_names = ["get", "head", "options"]
    ordering_fields = ["created_at", "id"]

    def get_queryset(self):
        return super().get_queryset().order_by("created_at", "id")


def register(router) -> None:
    from . import api_config

    router.register("tickets", TicketViewSet, basename="ticket")
    router.register("ticket-messages", TicketMessageViewSet, basename="ticketmessage")
    api_config.register(router)
