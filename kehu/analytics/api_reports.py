"""API of the report builder: /api/analytics/reports/ (CRUD of saved reports: one's own and those shared with
one's roles or teams; only the owner changes or deletes), `run/` (the figures as JSON, for the caller's scope),
`xlsx/` and `pdf/` (exports), `preview/` (run a definition without saving it) and `fields/` (what the caller
may use in a report on a record type). A definition naming an unknown field, another model's field, a field
hidden from the caller, or summing a non-numeric field answers 400 with one message per problem."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from kehu.core.models import Role, Team, User

from . import reports, services_reports
from .models_reports import Report, Schedule

MEASURE_SCHEMA = {
    "type": "object",
    "properties": {"agg": {"type": "string", "enum": list(reports.AGGREGATES)}, "field": {"type": "string"}},
    "required": ["agg"],
}
SPEC_SCHEMA = {
    "type": "object",
    "description": "model (e.g. sales.orderline); group_by: up to 2 of {field, bucket (day|week|month|quarter|"
    "year, date fields), level (hierarchy)}; measures: up to 4 of {agg: count|sum|avg|distinct, field}; "
    "filters: up to 10 of {field, op: eq|ne|gt|gte|lt|lte|in|contains|isnull, value}; chart: bar|line|pie|table",
    "properties": {
        "model": {"type": "string"},
        "group_by": {
            "type": "array",
            "maxItems": 2,
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "bucket": {"type": "string", "enum": list(reports.BUCKETS)},
                    "level": {"type": "integer", "minimum": 1, "maximum": 10},
                },
                "required": ["field"],
            },
        },
        "measures": {"type": "array", "maxItems": 4, "items": MEASURE_SCHEMA},
        "filters": {
            "type": "array",
            "maxItems": 10,
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "op": {"type": "string", "enum": list(reports.OPERATORS)},
                    "value": {},
                },
                "required": ["field"],
            },
        },
        "chart": {"type": "string", "enum": ["bar", "line", "pie", "table"]},
    },
    "required": ["model"],
}


def _spec_field():
    from drf_spectacular.utils import extend_schema_field

    @extend_schema_field(SPEC_SCHEMA)
    class SpecField(serializers.JSONField):
        pass

    return SpecField


SpecField = _spec_field()


class ReportSerializer(serializers.ModelSerializer):
    spec = SpecField()
    owner = serializers.PrimaryKeyRelatedField(read_only=True)
    shared_roles = serializers.PrimaryKeyRelatedField(many=True, queryset=Role.objects.all(), required=False)
    shared_teams = serializers.PrimaryKeyRelatedField(many=True, queryset=Team.objects.all(), required=False)
    recipients = serializers.PrimaryKeyRelatedField(
        many=True, queryset=User.objects.filter(is_active=True), required=False
    )
    schedule = serializers.ChoiceField(choices=Schedule.choices, required=False, allow_blank=True)

    class Meta:
        model = Report
        fields = [
            "id", "name", "description", "owner", "model", "spec", "chart", "shared_roles", "shared_teams",
            "schedule", "recipients", "last_sent_on", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["owner", "model", "chart", "last_sent_on", "created_at", "updated_at"]

    def validate_spec(self, value):
        try:
            return reports.parse_spec(value, user=self.context["request"].user)
        except reports.ReportError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def save_report(self, *, report=None):
        data = self.validated_data
        return services_reports.report_save(
            by=self.context["request"].user,
            spec=data["spec"]
            if "spec" in data
            else reports.parse_spec(report.spec, user=self.context["request"].user),
            name=data.get("name", report.name if report else ""),
            description=data.get("description", report.description if report else ""),
            report=report,
            shared_roles=data.get("shared_roles"),
            shared_teams=data.get("shared_teams"),
            schedule=data.get("schedule"),
            recipients=data.get("recipients"),
        )


class ResultSerializer(serializers.Serializer):
    model = serializers.CharField()
    title = serializers.CharField()
    chart = serializers.CharField()
    groups = serializers.ListField(child=serializers.DictField())
    measures = serializers.ListField(child=serializers.DictField())
    rows = serializers.ListField(child=serializers.DictField())
    truncated = serializers.BooleanField()
    pivot = serializers.DictField(allow_null=True)


class FieldInfoSerializer(serializers.Serializer):
    path = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField()
    numeric = serializers.BooleanField()
    choices = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))


class PreviewSerializer(serializers.Serializer):
    spec = SpecField()


def _run(spec, user) -> dict:
    return reports.run(spec, user=user)


def _report_error(exc: reports.ReportError):
    return exceptions.ValidationError({"spec": exc.messages})


BINARY = {
    (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY,
}


class ReportViewSet(viewsets.ModelViewSet):
    serializer_class = ReportSerializer
    model = Report
    filterset_class = None
    filter_backends: list = []

    @property
    def queryset(self):
        return Report.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Report.objects.none()
        return services_reports.report_list(user=self.request.user).prefetch_related(
            "shared_roles", "shared_teams", "recipients"
        )

    def perform_create(self, serializer):
        serializer.instance = serializer.save_report()

    def perform_update(self, serializer):
        if not services_reports.can_change(serializer.instance, self.request.user):
            raise exceptions.PermissionDenied(_only_owner())
        serializer.instance = serializer.save_report(report=serializer.instance)

    def perform_destroy(self, instance):
        try:
            services_reports.report_delete(report=instance, by=self.request.user)
        except PermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from None

    @extend_schema(
        responses={200: ResultSerializer, 400: OpenApiResponse(description="not runnable for you")}
    )
    @action(detail=True, methods=["get"])
    def run(self, request, pk=None):
        report = self.get_object()
        try:
            return Response(services_reports.report_run(report=report, user=request.user))
        except reports.ReportError as exc:
            raise _report_error(exc) from None

    @extend_schema(responses={**BINARY, 400: OpenApiResponse(description="not runnable for you")})
    @action(detail=True, methods=["get"])
    def xlsx(self, request, pk=None):
        report = self.get_object()
        try:
            result = services_reports.report_run(report=report, user=request.user)
        except reports.ReportError as exc:
            raise _report_error(exc) from None
        services_reports.log_export(
            report_name=report.name, user=request.user, fmt="xlsx", model=report.model
        )
        response = HttpResponse(
            services_reports.export_xlsx(result=result, name=report.name), content_type=services_reports.XLSX
        )
        response["Content-Disposition"] = (
            f'attachment; filename="report-{report.pk}-{timezone.localdate():%Y%m%d}.xlsx"'
        )
        return response

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            400: OpenApiResponse(description="not runnable"),
        }
    )
    @action(detail=True, methods=["get"])
    def pdf(self, request, pk=None):
        report = self.get_object()
        try:
            result = services_reports.report_run(report=report, user=request.user)
        except reports.ReportError as exc:
            raise _report_error(exc) from None
        services_reports.log_export(report_name=report.name, user=request.user, fmt="pdf", model=report.model)
        response = HttpResponse(
            services_reports.export_pdf(result=result, name=report.name), content_type="application/pdf"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="report-{report.pk}-{timezone.localdate():%Y%m%d}.pdf"'
        )
        return response

    @extend_schema(request=PreviewSerializer, responses={200: ResultSerializer})
    @action(detail=False, methods=["post"])
    def preview(self, request):
        serializer = PreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            spec = reports.parse_spec(serializer.validated_data["spec"], user=request.user)
        except reports.ReportError as exc:
            raise _report_error(exc) from None
        return Response(_run(spec, request.user))

    @extend_schema(
        parameters=[OpenApiParameter("model", str, required=True, description="e.g. sales.orderline")],
        responses={
            200: FieldInfoSerializer(many=True),
            400: OpenApiResponse(description="unknown record type, or one the caller may not see"),
        },
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def fields(self, request):
        label = request.query_params.get("model", "")[:100]
        items = reports.catalogue_for_ui(label, user=request.user)
        if not items:
            raise exceptions.ValidationError({"model": [_unknown_model(label)]})
        return Response(items)


def _only_owner() -> str:
    from django.utils.translation import gettext as _

    return _("Only the owner changes a report.")


def _unknown_model(label: str) -> str:
    from django.utils.translation import gettext as _

    return _("Unknown record type “%(m)s”.") % {"m": label}


def register(router) -> None:
    router.register("analytics/reports", ReportViewSet, basename="analytics-report")
