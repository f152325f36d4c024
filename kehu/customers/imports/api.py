"""Import API: upload, mapping and options, preview, start, progress, errors, cancel, resume, undo, template.

Every endpoint needs the import right on customers; jobs are those the imports selector lets the caller see
(404 otherwise); changes go through the import services, which check the rest (add/change/delete rights,
field rights of the mapping, the job's status).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response

from kehu.core.access import Access
from kehu.core.inputs import FormParser, JSONParser, MultiPartParser
from kehu.core.models import Action

from ..models import Customer, Kind
from . import mapping, reader, report, selectors, services
from .models import DuplicatePolicy, ImportIssue, ImportJob, ImportMode, IssuePhase, MatchOn

FILE_FORMATS = ["csv", "xlsx"]
BINARY = {
    (200, "text/csv"): OpenApiTypes.BINARY,
    (200, report.XLSX): OpenApiTypes.BINARY,
}


class ImportPermission(permissions.BasePermission):
    message = gettext_lazy("You do not have the import right on customers.")

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated) and Access.of(request.user).can(
            Action.IMPORT, Customer
        )


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(help_text="rows (for an undo: created customers) handled so far")
    total = serializers.IntegerField()
    percent = serializers.IntegerField()


class ColumnSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    letter = serializers.CharField()
    header = serializers.CharField()
    target = serializers.CharField(help_text="target key; empty: not imported")


class ImportJobSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    status = serializers.CharField(
        read_only=True,
        help_text="uploaded, mapped, previewing, ready, queued, running, done, cancelled, failed, undoing, undone",
    )
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    progress = serializers.SerializerMethodField()
    columns = serializers.SerializerMethodField()
    preview = serializers.SerializerMethodField(
        help_text="counts (create, update, unchanged, skip, flag, error) and, for the uploader, the first rows"
    )
    options = serializers.JSONField(read_only=True)
    is_stalled = serializers.BooleanField(read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "owner",
            "file_name",
            "file_format",
            "file_size",
            "encoding",
            "delimiter",
            "sheet",
            "sheets",
            "total_rows",
            "columns",
            "options",
            "status",
            "status_label",
            "phase",
            "progress",
            "is_stalled",
            "preview",
            "created",
            "updated",
            "unchanged",
            "skipped",
            "flagged",
            "failed",
            "undone",
            "kept",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, job) -> dict:
        return {"done": job.cursor, "total": job.progress_total, "percent": job.percent}

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_preview(self, job) -> dict:
        return selectors.import_preview(user=self.context["request"].user, job=job)

    @extend_schema_field(ColumnSerializer(many=True))
    def get_columns(self, job) -> list[dict]:
        return [
            {
                "index": i,
                "letter": reader.column_letter(i),
                "header": header,
                "target": job.mapping[i] if i < len(job.mapping) else "",
            }
            for i, header in enumerate(job.headers)
        ]


class UploadInput(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (UTF-8, UTF-8 with BOM, GB18030/GBK, UTF-16) or .xlsx")
    encoding = serializers.ChoiceField(choices=list(reader.ENCODINGS), default="auto")
    delimiter = serializers.ChoiceField(choices=list(reader.DELIMITERS), default="auto")
    sheet = serializers.CharField(required=False, allow_blank=True, default="", help_text="xlsx: sheet name")


class FileSettingsInput(serializers.Serializer):
    encoding = serializers.ChoiceField(choices=list(reader.ENCODINGS), default="auto")
    delimiter = serializers.ChoiceField(choices=list(reader.DELIMITERS), default="auto")
    sheet = serializers.CharField(required=False, allow_blank=True, default="")
    header_row = serializers.IntegerField(
        min_value=0, default=0, help_text="the row that names the columns; 0: detected past title rows"
    )


class OptionsInput(serializers.Serializer):
    mode = serializers.ChoiceField(choices=ImportMode.choices, default=ImportMode.CREATE)
    match_on = serializers.ChoiceField(choices=MatchOn.choices, default=MatchOn.PHONE_OR_EMAIL)
    duplicates = serializers.ChoiceField(choices=DuplicatePolicy.choices, default=DuplicatePolicy.SKIP)
    # a plain string (validated by the service): the same choices as Customer.kind would make a second enum
    default_kind = serializers.CharField(
        default=Kind.ORGANIZATION, help_text="organization or person: the kind of rows without one"
    )
    date_orders = serializers.DictField(
        child=serializers.ChoiceField(choices=["dmy", "mdy"]),
        required=False,
        help_text="column index → dmy or mdy: how dates like 03/04/2023 of that column are read",
    )


class MappingInput(serializers.Serializer):
    mapping = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        help_text="one target key per column, in column order ('' = do not import); see /api/imports/targets/",
    )
    options = OptionsInput(required=False)


class ValueSerializer(serializers.Serializer):
    value = serializers.CharField()
    count = serializers.IntegerField(help_text="rows with this value")
    suggested = serializers.CharField(help_text="the suggested choice code ('' = none found)")
    how = serializers.CharField(help_text="exact, similar or '' (no suggestion)")
    chosen = serializers.CharField(allow_null=True, help_text="the saved choice ('' = leave empty), or null")


class ValueColumnSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    target = serializers.CharField()
    choices = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    values = ValueSerializer(many=True)


class ValueMapsInput(serializers.Serializer):
    value_maps = serializers.DictField(
        child=serializers.DictField(child=serializers.CharField(allow_blank=True)),
        help_text="{target: {file value: choice code, '' to leave it empty, '+' (administrators, custom choice "
        "fields) to create it as a new choice}}",
    )


class TargetSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    multiple = serializers.BooleanField(help_text="several columns may map to it")


class IssueSerializer(serializers.ModelSerializer):
    messages = serializers.JSONField(help_text="[{column, field, message}]")
    values = serializers.JSONField(help_text="the row's cells as read from the file")

    class Meta:
        model = ImportIssue
        fields = ["row_number", "level", "messages", "values"]


PHASE = OpenApiParameter("phase", str, enum=["preview", "run"], description="default: run")
FILE_FORMAT = OpenApiParameter("file_format", str, enum=FILE_FORMATS, description="default: xlsx")


class ImportJobViewSet(viewsets.ReadOnlyModelViewSet):
    """Customer imports: upload a file, map its columns, preview, run in the background, follow progress."""

    serializer_class = ImportJobSerializer
    permission_classes = [ImportPermission]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    queryset = ImportJob.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ImportJob.objects.none()
        return selectors.import_jobs(user=self.request.user)

    def _reply(self, job, code=status.HTTP_200_OK) -> Response:
        return Response(ImportJobSerializer(job, context=self.get_serializer_context()).data, status=code)

    @extend_schema(
        request={"multipart/form-data": UploadInput},
        responses={201: ImportJobSerializer},
        description="Upload a file; it is checked completely, columns get suggested targets.",
    )
    def create(self, request):
        data = UploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if upload.size > reader.max_bytes():
            message = _(
                "The file is %(size)s MB; at most %(limit)s MB can be imported. Split it into smaller files."
            )
            sizes = {"size": f"{upload.size / 1048576:,.1f}", "limit": f"{reader.max_bytes() / 1048576:,.0f}"}
            raise ApiValidationError({"file": [message % sizes]})
        job = services.import_upload(
            by=request.user,
            file_name=upload.name,
            data=upload.read(),
            encoding=data.validated_data["encoding"],
            delimiter=data.validated_data["delimiter"],
            sheet=data.validated_data["sheet"],
        )
        return self._reply(job, status.HTTP_201_CREATED)

    @extend_schema(request=FileSettingsInput, responses={200: ImportJobSerializer})
    @action(detail=True, methods=["post"], url_path="file")
    def file_settings(self, request, pk=None):
        """Read the file again with another encoding, delimiter or sheet."""
        data = FileSettingsInput(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.import_reread(job=self.get_object(), by=request.user, **data.validated_data)
        return self._reply(job)

    @extend_schema(request=MappingInput, responses={200: ImportJobSerializer})
    @action(detail=True, methods=["put"], url_path="mapping")
    def set_mapping(self, request, pk=None):
        """Set the column mapping and options (refused: targets you may not write, repeated single targets,
        a missing name when creating, nothing to match on when updating)."""
        data = MappingInput(data=request.data)
        data.is_valid(raise_exception=True)
        job = self.get_object()
        options = dict(data.validated_data.get("options") or job.options or services.DEFAULT_OPTIONS)
        job = services.import_configure(
            job=job, by=request.user, mapping_=data.validated_data["mapping"], options=options
        )
        return self._reply(job)

    @extend_schema(methods=["get"], request=None, responses={200: ValueColumnSerializer(many=True)})
    @extend_schema(methods=["put"], request=ValueMapsInput, responses={200: ImportJobSerializer})
    @action(detail=True, methods=["get", "put"], url_path="values")
    def values(self, request, pk=None):
        """The value-mapping step: GET lists each mapped choice column's distinct values with a suggested
        choice; PUT saves what each value is read as (kept with the mapping for the next file with the same
        columns). Preview again afterwards."""
        job = self.get_object()
        if request.method == "GET":
            if not selectors.contents_visible(user=request.user, job=job):
                raise PermissionDenied(_("Only the user who uploaded this import can map its columns."))
            chosen = (job.options or {}).get("value_maps") or {}
            columns = [
                {
                    "index": index,
                    "target": target.key,
                    "choices": [list(option) for option in options],
                    "values": [
                        {
                            "value": s.value,
                            "count": s.count,
                            "suggested": s.suggested,
                            "how": s.how,
                            "chosen": chosen.get(target.key, {}).get(s.value),
                        }
                        for s in suggestions
                    ],
                }
                for index, target, options, suggestions in mapping.value_columns(
                    job, mapping.targets_for(request.user)
                )
            ]
            return Response(columns)
        data = ValueMapsInput(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.import_map_values(
            job=job, by=request.user, value_maps=data.validated_data["value_maps"]
        )
        return self._reply(job)

    @extend_schema(request=None, responses={202: ImportJobSerializer})
    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        """Start the dry run; poll the job until status is `ready` and read `preview`."""
        return self._reply(
            services.import_preview(job=self.get_object(), by=request.user), status.HTTP_202_ACCEPTED
        )

    @extend_schema(request=None, responses={202: ImportJobSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """Start the import in the background; poll the job for `progress`."""
        return self._reply(
            services.import_start(job=self.get_object(), by=request.user), status.HTTP_202_ACCEPTED
        )

    @extend_schema(request=None, responses={200: ImportJobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop after the current batch; imported rows stay (and can be undone)."""
        return self._reply(services.import_cancel(job=self.get_object(), by=request.user))

    @extend_schema(request=None, responses={202: ImportJobSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Continue a failed or stalled pass after the last committed row."""
        return self._reply(
            services.import_resume(job=self.get_object(), by=request.user), status.HTTP_202_ACCEPTED
        )

    @extend_schema(request=None, responses={202: ImportJobSerializer})
    @action(detail=True, methods=["post"])
    def undo(self, request, pk=None):
        """Delete the customers the import created, except those changed or referenced since."""
        return self._reply(
            services.import_undo(job=self.get_object(), by=request.user), status.HTTP_202_ACCEPTED
        )

    @extend_schema(parameters=[PHASE], responses={200: IssueSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def errors(self, request, pk=None):
        """Rows not imported, or only in part (with phase=preview: that would not be), with every reason per
        column. Only for the user who uploaded the import (403 for others who may see it)."""
        job = selectors.import_job_contents(user=request.user, pk=pk)
        phase = request.query_params.get("phase", IssuePhase.RUN)
        if phase not in IssuePhase.values:
            raise ApiValidationError({"phase": [_("Use preview or run.")]})
        page = self.paginate_queryset(selectors.import_issues(user=request.user, job=job, phase=phase))
        return self.get_paginated_response(IssueSerializer(page, many=True).data)

    @extend_schema(parameters=[PHASE, FILE_FORMAT], responses=BINARY)
    @action(detail=True, methods=["get"], url_path="error-report")
    def error_report(self, request, pk=None):
        """The bad rows as a file (the original columns plus row number and reasons), to fix and re-import.
        Only for the user who uploaded the import."""
        job = selectors.import_job_contents(user=request.user, pk=pk)
        phase = request.query_params.get("phase", IssuePhase.RUN)
        fmt = request.query_params.get("file_format", "xlsx")
        if phase not in IssuePhase.values:
            raise ApiValidationError({"phase": [_("Use preview or run.")]})
        if fmt not in FILE_FORMATS:
            raise ApiValidationError({"file_format": [_("Use csv or xlsx.")]})
        return report.error_report(job, phase, fmt, f"import-{job.pk}-{phase}-errors")

    @extend_schema(responses={200: TargetSerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def targets(self, request):
        """What you may import into (field rights applied)."""
        return Response(
            [
                {"key": t.key, "label": t.label, "multiple": t.multiple}
                for t in mapping.targets_for(request.user)
            ]
        )

    @extend_schema(parameters=[FILE_FORMAT], responses=BINARY)
    @action(detail=False, methods=["get"])
    def template(self, request):
        """An empty file with the headers you may import (and a help sheet in the Excel version)."""
        fmt = request.query_params.get("file_format", "xlsx")
        if fmt not in FILE_FORMATS:
            raise ApiValidationError({"file_format": [_("Use csv or xlsx.")]})
        return report.response(report.template(request.user, fmt), fmt, "kehu-customer-import-template")


def register(router) -> None:
    router.register("imports", ImportJobViewSet, basename="import")
