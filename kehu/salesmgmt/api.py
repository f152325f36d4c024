"""Sales-management API: sales plans (scoped, ETag/If-Match) with their targets, company figures, allocation,
roll-up, status and attainment. Every change names the plan version it was made against (If-Match or
`version`): 428 without, 409 when stale; a refused allocation answers 400 and writes nothing."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from kehu.core.api import AccessAwareSerializer, ScopedModelViewSet, etag_for
from kehu.core.models import Department, Team, User
from kehu.products.models import ProductCategory

from . import selectors
from .models import PlanLevel, PlanStatus, PlanTarget, SalesPlan, Visit, VisitNote
from .services import actuals as actuals_service
from .services import plans
from .services import visits as visits_service

IF_MATCH = OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False)


class SalesPlanSerializer(AccessAwareSerializer):
    period_label = serializers.CharField(read_only=True)

    class Meta:
        model = SalesPlan
        fields = [
            "id",
            "name",
            "period_kind",
            "year",
            "period_number",
            "period_label",
            "start_date",
            "end_date",
            "currency",
            "actuals_source",
            "status",
            "notes",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["start_date", "end_date", "status", "version", "created_at", "updated_at"]


class PlanTargetSerializer(AccessAwareSerializer):
    label = serializers.CharField(source="node_label", read_only=True)

    class Meta:
        model = PlanTarget
        fields = [
            "id",
            "plan",
            "parent",
            "level",
            "label",
            "department",
            "team",
            "rep",
            "product_line",
            "amount",
            "units",
            "key",
            "version",
        ]
        read_only_fields = fields


class _Part(serializers.Serializer):
    level = serializers.ChoiceField([PlanLevel.DEPARTMENT, PlanLevel.TEAM, PlanLevel.REP])
    id = serializers.IntegerField(min_value=1)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, default=0)
    units = serializers.DecimalField(max_digits=14, decimal_places=3, required=False, default=0)


class _Allocation(serializers.Serializer):
    target = serializers.IntegerField(min_value=1)
    method = serializers.ChoiceField(list(plans.AllocationMethod.CHOICES))
    parts = _Part(many=True, allow_empty=False)


class _Figure(serializers.Serializer):
    product_line = serializers.IntegerField(required=False, allow_null=True, default=None)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, default=0)
    units = serializers.DecimalField(max_digits=14, decimal_places=3, required=False, default=0)


_NODE_MODELS = {PlanLevel.DEPARTMENT: Department, PlanLevel.TEAM: Team, PlanLevel.REP: User}


class SalesPlanViewSet(ScopedModelViewSet):
    model = SalesPlan
    serializer_class = SalesPlanSerializer

    def save_new(self, data: dict):
        return plans.plan_create(data=data, by=self.request.user)

    def save_existing(self, instance, data: dict, expected_version: int):
        return plans.plan_update(
            plan=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    def _answer(self, plan):
        plan.refresh_from_db()
        response = Response(SalesPlanSerializer(plan, context=self.get_serializer_context()).data)
        response["ETag"] = etag_for(plan)
        return response

    @extend_schema(responses=PlanTargetSerializer(many=True))
    @action(detail=True, methods=["get"])
    def targets(self, request, pk=None):
        plan = self.get_object()
        rows = selectors.plan_targets(user=request.user, plan=plan).order_by("id")
        return Response(PlanTargetSerializer(rows, many=True, context=self.get_serializer_context()).data)

    @extend_schema(request=_Figure, responses=PlanTargetSerializer, parameters=[IF_MATCH])
    @action(detail=True, methods=["post"])
    def figure(self, request, pk=None):
        """Set the company figure of a product line (none = all products)."""
        plan = self.get_object()
        expected = self.expected_version(plan, body=True)
        body = _Figure(data=request.data)
        body.is_valid(raise_exception=True)
        line = None
        if body.validated_data["product_line"] is not None:
            line = ProductCategory.objects.filter(pk=body.validated_data["product_line"]).first()
            if line is None:
                raise exceptions.ValidationError({"product_line": ["Unknown product line."]})
        target = plans.plan_company_set(
            plan=plan,
            product_line=line,
            amount=body.validated_data["amount"],
            units=body.validated_data["units"],
            by=request.user,
            expected_version=expected,
        )
        response = Response(
            PlanTargetSerializer(target, context=self.get_serializer_context()).data, status=200
        )
        plan.refresh_from_db()
        response["ETag"] = etag_for(plan)
        return response

    @extend_schema(request=_Allocation, responses=PlanTargetSerializer(many=True), parameters=[IF_MATCH])
    @action(detail=True, methods=["post"])
    def allocate(self, request, pk=None):
        """Allocate a target to departments, teams or reps: `manual` (parts must add up), `even`, or
        `proportional` to the previous period's actuals (the parts' figures are then ignored)."""
        plan = self.get_object()
        expected = self.expected_version(plan, body=True)
        body = _Allocation(data=request.data)
        body.is_valid(raise_exception=True)
        parent = selectors.target_get(user=request.user, plan=plan, pk=body.validated_data["target"])
        children, manual = [], {}
        for part in body.validated_data["parts"]:
            obj = _NODE_MODELS[part["level"]].objects.filter(pk=part["id"]).first()
            if obj is None:
                raise exceptions.ValidationError({"parts": [f"Unknown {part['level']} {part['id']}."]})
            node = plans.Node(part["level"], obj)
            children.append(node)
            manual[node] = (part["amount"], part["units"])
        done = plans.allocate(
            parent=parent,
            method=body.validated_data["method"],
            children=children,
            manual=manual,
            by=request.user,
            expected_version=expected,
        )
        response = Response(PlanTargetSerializer(done, many=True, context=self.get_serializer_context()).data)
        plan.refresh_from_db()
        response["ETag"] = etag_for(plan)
        return response

    @extend_schema(request=None, responses=SalesPlanSerializer, parameters=[IF_MATCH])
    @action(detail=True, methods=["post"])
    def rollup(self, request, pk=None):
        """Bottom-up: every allocated target becomes the sum of its parts."""
        plan = self.get_object()
        plans.plan_rollup(plan=plan, by=request.user, expected_version=self.expected_version(plan, body=True))
        return self._answer(plan)

    @extend_schema(
        request=inline_serializer("SalesPlanStatus", {"status": serializers.ChoiceField(PlanStatus.choices)}),
        responses=SalesPlanSerializer,
        parameters=[IF_MATCH],
    )
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        plan = self.get_object()
        expected = self.expected_version(plan, body=True)
        plans.plan_set_status(
            plan=plan, status=str(request.data.get("status", "")), by=request.user, expected_version=expected
        )
        return self._answer(plan)

    @extend_schema(
        parameters=[OpenApiParameter("target", OpenApiTypes.INT, description="drill down from this target")],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=True, methods=["get"])
    def attainment(self, request, pk=None):
        """Plan against live actuals for a target (default: the company) and the targets allocated from it."""
        plan = self.get_object()
        raw = request.query_params.get("target")
        if raw:
            if not raw.isdigit() or len(raw) > 18:
                raise exceptions.ValidationError({"target": ["Must be an id."]})
            target = selectors.target_get(user=request.user, plan=plan, pk=int(raw))
        else:
            target = selectors.company_target(user=request.user, plan=plan)
            if target is None:
                raise exceptions.NotFound("This plan has no company figure yet.")
        data = actuals_service.attainment(plan=plan, target=target)
        return Response(_jsonable(data))


class VisitSerializer(AccessAwareSerializer):
    class Meta:
        model = Visit
        fields = [
            "id", "customer", "opportunity", "owner", "subject", "planned_start", "planned_minutes", "status",
            "checkin_at", "checkin_latitude", "checkin_longitude", "checkin_accuracy", "checkin_distance",
            "checkout_at", "checkout_latitude", "checkout_longitude", "checkout_accuracy", "report", "version",
        ]  # fmt: skip
        read_only_fields = [
            "status", "checkin_at", "checkin_latitude", "checkin_longitude", "checkin_accuracy", "checkin_distance",
            "checkout_at", "checkout_latitude", "checkout_longitude", "checkout_accuracy", "version",
        ]  # fmt: skip


class VisitNoteSerializer(AccessAwareSerializer):
    class Meta:
        model = VisitNote
        fields = ["id", "visit", "author", "text", "client_id", "written_at", "created_at"]
        read_only_fields = ["visit", "author", "created_at"]


class VisitPhotoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    uploaded_by = serializers.IntegerField(source="uploaded_by_id", allow_null=True)
    uploaded_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField()

    def get_url(self, photo) -> str:
        from django.urls import reverse

        return reverse("salesmgmt:visit_photo_file", args=[photo.pk])


def _photos_json(user, photos) -> list[dict]:
    """Photos as the serializer gives them, minus the fields hidden from the caller's role."""
    from kehu.core.access import Access

    hidden = Access.of(user).hidden_fields("salesmgmt.visitphoto")
    return [
        {k: v for k, v in row.items() if k not in hidden}
        for row in VisitPhotoSerializer(photos, many=True).data
    ]


class _Fix(serializers.Serializer):
    latitude = serializers.CharField()
    longitude = serializers.CharField()
    accuracy = serializers.CharField(required=False, allow_blank=True)
    at = serializers.CharField(
        required=False, allow_blank=True, help_text="ISO 8601 with offset; default now"
    )
    report = serializers.CharField(required=False, allow_blank=True)


class VisitViewSet(ScopedModelViewSet):
    """Visits (the rep's; a manager sees the team's). `?day=YYYY-MM-DD` lists one local day."""

    model = Visit
    serializer_class = VisitSerializer
    select_related = ("customer", "owner")

    def get_queryset(self):
        qs = super().get_queryset()
        raw = self.request.query_params.get("day") if self.request else None
        if raw:
            import datetime as dt

            try:
                day = dt.date.fromisoformat(raw)
            except ValueError:
                raise exceptions.ValidationError({"day": ["Use YYYY-MM-DD."]}) from None
            ids = selectors.visits_of_day(user=self.request.user, day=day).values("id")
            qs = qs.filter(id__in=ids)
        return qs

    def save_new(self, data: dict):
        return visits_service.visit_plan(data=data, by=self.request.user)

    def _fix(self, request, action_name):
        visit = self.get_object()
        body = _Fix(data=request.data)
        body.is_valid(raise_exception=True)
        d = body.validated_data
        kwargs = {"visit": visit, "latitude": d["latitude"], "longitude": d["longitude"],
                  "accuracy": d.get("accuracy") or None, "at": d.get("at") or None, "by": request.user}  # fmt: skip
        if action_name == "in":
            done = visits_service.visit_check_in(**kwargs)
        else:
            done = visits_service.visit_check_out(report=d.get("report"), **kwargs)
        response = Response(VisitSerializer(done, context=self.get_serializer_context()).data)
        response["ETag"] = etag_for(done)
        return response

    @extend_schema(request=_Fix, responses=VisitSerializer)
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None):
        """Check in with a GPS fix; impossible coordinates or a time in the future answer 400."""
        return self._fix(request, "in")

    @extend_schema(request=_Fix, responses=VisitSerializer)
    @action(detail=True, methods=["post"], url_path="check-out")
    def check_out(self, request, pk=None):
        return self._fix(request, "out")

    @extend_schema(methods=["GET"], responses=VisitNoteSerializer(many=True))
    @extend_schema(methods=["POST"], request=VisitNoteSerializer, responses=VisitNoteSerializer)
    @action(detail=True, methods=["get", "post"])
    def notes(self, request, pk=None):
        """The visit's notes; POST adds one, idempotent per `client_id` (201 new, 200 already stored)."""
        visit = self.get_object()
        if request.method == "GET":
            rows = selectors.visit_notes(user=request.user, visit=visit)
            return Response(VisitNoteSerializer(rows, many=True, context=self.get_serializer_context()).data)
        note, created = visits_service.visit_note_add(
            visit=visit,
            text=str(request.data.get("text", "")),
            client_id=request.data.get("client_id") or None,
            written_at=request.data.get("written_at") or None,
            by=request.user,
        )
        return Response(
            VisitNoteSerializer(note, context=self.get_serializer_context()).data,
            status=201 if created else 200,
        )

    @extend_schema(methods=["GET"], responses=VisitPhotoSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request={
            "multipart/form-data": inline_serializer("VisitPhotoUpload", {"photo": serializers.FileField()})
        },
        responses=VisitPhotoSerializer,
    )
    @action(detail=True, methods=["get", "post"])
    def photos(self, request, pk=None):
        """The visit's photos (optional); POST one as multipart `photo`: JPEG/PNG/WebP by content, at most
        KEHU_VISIT_PHOTO_MAX_BYTES, at most 5 per visit (400 naming `photo` otherwise, nothing stored)."""
        visit = self.get_object()
        if request.method == "GET":
            return Response(_photos_json(request.user, visit.photos.all()))
        upload = request.FILES.get("photo")
        if upload is None:
            raise exceptions.ValidationError({"photo": ["Send the photo as multipart field 'photo'."]})
        if upload.size > visits_service.photo_max_bytes():
            visits_service.photo_check(
                name=upload.name, content=b"x" * (visits_service.photo_max_bytes() + 1)
            )
        photo = visits_service.visit_photo_add(
            visit=visit, name=upload.name, content=upload.read(), by=request.user
        )
        return Response(_photos_json(request.user, [photo])[0], status=201)


def _jsonable(value):
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def register(router) -> None:
    router.register("sales-plans", SalesPlanViewSet, basename="salesplan")
    router.register("visits", VisitViewSet, basename="visit")
    from .api_expenses import register as register_expenses  # expenses and performance (ADR 0016)

    register_expenses(router)
    from . import api_forecast  # forecast and dashboards (ADR 0014 "Forecast and dashboards")

    api_forecast.register(router)
