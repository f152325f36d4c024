"""API of the organisation layer: users, departments, teams, roles, custom fields, tags, audit, me."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from . import audit, history
from .access import Access
from .api import AccessAwareSerializer, DateTimeField, ScopedModelViewSet
from .models import AuditEntry, CustomField, Department, Notification, Role, Tag, Team, User
from .selectors import audit_search


class UserSerializer(AccessAwareSerializer):
    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "display_name",
            "email",
            "phone",
            "job_title",
            "department",
            "is_active",
            "language",
            "time_zone",
            "version",
        ]
        read_only_fields = ["version"]


class DepartmentSerializer(AccessAwareSerializer):
    class Meta:
        model = Department
        fields = ["id", "name", "parent", "manager", "version"]
        read_only_fields = ["version"]


class TeamSerializer(AccessAwareSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "department", "leader", "members", "version"]
        read_only_fields = ["version"]


class RoleSerializer(AccessAwareSerializer):
    class Meta:
        model = Role
        fields = ["id", "code", "name", "description", "version"]
        read_only_fields = ["version"]


class UserViewSet(ScopedModelViewSet):
    model = User
    serializer_class = UserSerializer
    filterset_fields = ["department", "is_active"]
    ordering_fields = ["username", "id"]
    http_method_names = ["get", "patch", "head", "options"]

    @extend_schema(responses=UserSerializer)
    @action(detail=False, permission_classes=[IsAuthenticated])
    def me(self, request):
        return Response(UserSerializer(request.user, context={"request": request}).data)


class DepartmentViewSet(ScopedModelViewSet):
    model = Department
    serializer_class = DepartmentSerializer


class TeamViewSet(ScopedModelViewSet):
    model = Team
    serializer_class = TeamSerializer


class RoleViewSet(ScopedModelViewSet):
    model = Role
    serializer_class = RoleSerializer


class AuditEntrySerializer(serializers.ModelSerializer):
    changes = serializers.SerializerMethodField()

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "actor",
            "actor_name",
            "action",
            "model",
            "object_id",
            "object_repr",
            "version",
            "changes",
            "note",
            "request_id",
            "ip_address",
        ]

    def get_changes(self, entry) -> dict:
        """The changes the reader may see: hidden fields and internal fields (search keys, ids) left out
        (kehu.core.history, the same rules as every history view)."""
        presenters = self.context.setdefault("_presenters", {})
        if entry.model not in presenters:
            request = self.context.get("request")
            presenters[entry.model] = history.Presenter(entry.model, getattr(request, "user", None))
        shown = presenters[entry.model].shown
        return {k: v for k, v in (entry.changes or {}).items() if shown(k)}


class AuditFilterSerializer(serializers.Serializer):
    model = serializers.CharField(required=False)
    object_id = serializers.CharField(required=False)
    actor = serializers.IntegerField(required=False)
    action = serializers.CharField(required=False)
    since = DateTimeField(required=False)
    until = DateTimeField(required=False)


class AuditEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The audit trail (read-only). Administrators only."""

    serializer_class = AuditEntrySerializer
    permission_classes = [IsAuthenticated]
    filter_backends: list = []
    queryset = AuditEntry.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuditEntry.objects.none()
        params = AuditFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return audit_search(user=self.request.user, filters=params.validated_data)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return None if page is None else audit.reveal(page)  # sealed personal values (ADR 0024)

    def get_object(self):
        return audit.reveal([super().get_object()])[0]


class CustomFieldSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomField
        fields = [
            "id",
            "model",
            "key",
            "label",
            "field_type",
            "choices",
            "required",
            "show_in_list",
            "position",
            "active",
        ]


class CustomFieldViewSet(viewsets.ReadOnlyModelViewSet):
    """Definitions of custom fields (for API clients building forms). Managed in the settings UI."""

    serializer_class = CustomFieldSerializer
    permission_classes = [IsAuthenticated]
    queryset = CustomField.objects.filter(active=True)
    filterset_fields = ["model"]


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name", "color"]


class TagViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TagSerializer
    permission_classes = [IsAuthenticated]
    queryset = Tag.objects.all()


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "title", "body", "url", "created_at", "read_at"]


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = NotificationSerializer
    permission_classes = [IsAuthenticated]
    queryset = Notification.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        return Notification.objects.filter(user=self.request.user)


def register(router) -> None:
    router.register("users", UserViewSet, basename="user")
    router.register("departments", DepartmentViewSet, basename="department")
    router.register("teams", TeamViewSet, basename="team")
    router.register("roles", RoleViewSet, basename="role")
    router.register("audit", AuditEntryViewSet, basename="audit")
    router.register("custom-fields", CustomFieldViewSet, basename="customfield")
    router.register("tags", TagViewSet, basename="tag")
    router.register("notifications", NotificationViewSet, basename="notification")


__all__ = ["Access", "register"]
