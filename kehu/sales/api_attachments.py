"""Contract attachments API: `/api/contract-attachments/` — list (filter `contract`), read, upload (multipart:
`contract`, `file`), delete, and `download`. Reads start from the scope selector (a contract outside the
caller's scope → 404); writes go through kehu.sales.services.attachments (type and size limits on `file`,
audit, timeline). Attachments are not versioned: a delete needs no If-Match."""

from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from kehu.core.api import AccessAwareSerializer, ScopedModelViewSet

from .models import ContractAttachment
from .services import attachments


class ContractAttachmentSerializer(AccessAwareSerializer):
    file = serializers.FileField(write_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ContractAttachment
        fields = ["id", "contract", "name", "file", "download_url", "uploaded_by", "uploaded_at"]
        read_only_fields = ["name", "uploaded_by", "uploaded_at"]

    def get_download_url(self, obj) -> str:
        return f"/api/contract-attachments/{obj.pk}/download/"

    def validate_file(self, upload):
        from django.core.exceptions import ValidationError

        try:
            attachments.attachment_check(name=upload.name, size=upload.size or 0)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["file"]) from exc
        return upload


class ContractAttachmentViewSet(ScopedModelViewSet):
    """Files attached to contracts (signed scans, annexes), for who may see the contract."""

    model = ContractAttachment
    serializer_class = ContractAttachmentSerializer
    parser_classes = [MultiPartParser, FormParser]
    filterset_fields = ["contract"]
    ordering_fields = ["uploaded_at", "id"]
    select_related = ("uploaded_by",)
    http_method_names = ["get", "post", "delete", "head", "options"]

    @property
    def required_action(self) -> str | None:
        # removing a file changes the contract (the service decides further: signed contracts need the
        # delete right on contracts)
        return "change" if self.request.method == "DELETE" else None

    def save_new(self, data):
        upload = data["file"]
        return attachments.contract_attachment_add(
            contract=data["contract"], name=upload.name, content=upload.read(), by=self.request.user
        )

    def destroy(self, request, *args, **kwargs):
        attachments.contract_attachment_delete(attachment=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: OpenApiResponse(OpenApiTypes.BINARY, description="the file")})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        attachment = self.get_object()
        name, content_type = attachments.download_name(attachment)
        try:
            handle = attachment.file.open("rb")
        except FileNotFoundError:
            raise Http404 from None
        response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
        response["X-Content-Type-Options"] = "nosniff"
        return response


def register(router) -> None:
    router.register("contract-attachments", ContractAttachmentViewSet, basename="contract-attachment")
