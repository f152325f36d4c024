"""DRF plumbing named in settings.REST_FRAMEWORK. Kept free of rest_framework.views imports at module
level, because DRF imports these classes while rest_framework.views itself is being imported."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import InvalidPage
from django.db import DataError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, pagination, permissions, status

from . import registry
from .access import Access
from .exceptions import BusinessRuleError, ConflictError, FieldNotWritable, StaleRecordError
from .pagination import MAX_COUNT, CappedPaginator

OUT_OF_RANGE = _("A number in the request is out of range.")

METHOD_ACTION = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


class KehuCursorPagination(pagination.CursorPagination):
    """Opt-in cursor pagination of any list (`?pagination=cursor`, then follow `next`): newest first by id, a
    stable order that needs no count and no OFFSET, so the millionth row costs what the first does. Filters and
    the caller's record scope apply as on the page-number lists; `?ordering=` does not (the order is the id)."""

    ordering = ("-pk",)
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_ordering(self, request, queryset, view):
        return self.ordering


class KehuPagination(pagination.PageNumberPagination):
    """Page-number pagination with a capped count (kehu.core.pagination, ADR 0017): `count` is exact up to
    MAX_COUNT rows (`count_exact: true`); beyond that the rows are counted only up to the cap (or up to the
    requested page) and `count_exact` is false: there are more than `count` rows, and `next` still says
    whether another page exists. `?count=exact` (or `?page=last`) pays for the exact `COUNT(*)`."""

    page_size_query_param = "page_size"
    max_page_size = 500

    cursor: KehuCursorPagination | None = None

    @staticmethod
    def wants_cursor(request) -> bool:
        return request.query_params.get("pagination") == "cursor" or "cursor" in request.query_params

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        if self.wants_cursor(request):
            self.cursor = KehuCursorPagination()
            self.cursor.page_size = self.page_size
            return self.cursor.paginate_queryset(queryset, request, view)
        page_size = self.get_page_size(request)
        if not page_size:
            return None
        raw = request.query_params.get(self.page_query_param) or "1"
        exact = request.query_params.get("count") == "exact" or raw in self.last_page_strings
        try:
            wanted = int(raw) if not exact else 1
        except ValueError:
            wanted = 1  # the paginator refuses it below (404), as before
        cap = None if exact else max(MAX_COUNT, wanted * page_size)
        if cap is None:
            paginator = self.django_paginator_class(queryset, page_size)
        else:
            paginator = CappedPaginator(queryset, page_size, cap=cap)
        page_number = self.get_page_number(request, paginator)
        try:
            self.page = paginator.page(page_number)
        except InvalidPage as exc:
            raise exceptions.NotFound(
                self.invalid_page_message.format(page_number=page_number, message=str(exc))
            ) from None
        if paginator.num_pages > 1 and self.template is not None:
            self.display_page_controls = True
        return list(self.page)

    def get_paginated_response(self, data):
        from rest_framework.response import Response

        if self.cursor is not None:
            return self.cursor.get_paginated_response(data)
        paginator = self.page.paginator
        exact = getattr(paginator, "count_exact", True)
        return Response(
            {
                "count": paginator.shown_count if not exact else paginator.count,
                "count_exact": exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        result = super().get_paginated_response_schema(schema)
        result["properties"]["count"]["description"] = (
            "Rows in the list when count_exact is true; otherwise a lower bound (there are more)."
        )
        result["properties"] = {
            "count": result["properties"]["count"],
            "count_exact": {
                "type": "boolean",
                "description": "False when the list has more than `count` rows and was not counted to the "
                "end (send ?count=exact for the exact figure).",
            },
            **{k: v for k, v in result["properties"].items() if k != "count"},
        }
        result["required"] = ["results"]
        result["properties"]["count"]["description"] += " Absent with ?pagination=cursor."
        result["properties"]["count_exact"]["description"] += " Absent with ?pagination=cursor."
        return result

    def get_schema_operation_parameters(self, view):
        params = super().get_schema_operation_parameters(view)
        params.append(
            {
                "name": "count",
                "required": False,
                "in": "query",
                "description": "`exact`: count every row (otherwise counts stop above 2,000: count_exact false)",
                "schema": {"type": "string", "enum": ["exact"]},
            }
        )
        params += [
            {
                "name": "pagination",
                "required": False,
                "in": "query",
                "description": "`cursor`: cursor pagination (newest first by id, no count): follow `next`",
                "schema": {"type": "string", "enum": ["cursor"]},
            },
            {
                "name": "cursor",
                "required": False,
                "in": "query",
                "description": "The position in a cursor-paginated list (from `next` or `previous`)",
                "schema": {"type": "string"},
            },
        ]
        return params


class ModelAccessPermission(permissions.BasePermission):
    """Object-level rights from the caller's roles; record scope is applied by the queryset (→ 404)."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if Access.of(request.user).external is not None:
            return False  # portal users: the staff API is not theirs, whatever the credentials (ADR 0020)
        model = getattr(getattr(view, "queryset", None), "model", None) or getattr(view, "model", None)
        if model is None or registry.get(model) is None:
            return True
        action = getattr(view, "required_action", None) or METHOD_ACTION.get(request.method, "view")
        return Access.of(request.user).can(action, model)


class StaleConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "stale"


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_detail = _("Send the record's ETag in If-Match (or its version in the body) to change it.")
    default_code = "precondition_required"


def exception_handler(exc, context):
    if isinstance(exc, StaleRecordError):
        from rest_framework.response import Response

        return Response({"detail": exc.message, "current_version": exc.instance.version}, status=409)
    elif isinstance(exc, ConflictError):
        exc = StaleConflict(detail=str(exc), code="conflict")
    elif isinstance(exc, FieldNotWritable):
        exc = exceptions.PermissionDenied(detail={"detail": str(exc), "fields": exc.fields})
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, BusinessRuleError):
        exc = exceptions.ValidationError(detail={exc.field or "non_field_errors": [str(exc)]})
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(detail=str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, OverflowError | DataError):
        # an id or number beyond what the database stores (SQLite: OverflowError; PostgreSQL: DataError)
        exc = exceptions.ValidationError(detail={"non_field_errors": [str(OUT_OF_RANGE)]})
    from rest_framework.views import exception_handler as drf_exception_handler

    return drf_exception_handler(exc, context)


ERROR_SCHEMA = {
    "type": "object",
    "description": "`detail` says what went wrong; validation errors name each field instead.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
ERROR_RESPONSES = {
    "400": "Invalid input: the body names each problem (per field, or `detail`).",
    "401": "Not signed in (no session, no valid token).",
    "403": "Not allowed: your roles lack the right, or a field you changed is read-only (`fields`).",
    "404": "No such record, or not in your record scope (or no such page of a list).",
    "409": "Someone changed the record since the version you sent (`current_version`), or it conflicts.",
    "428": "Send the record's ETag in If-Match (or `version` in the body) to change or delete it.",
    "429": "Too many requests (sign-in protection).",
}


def schema_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: document the error answers every operation can give — 400 with
    input, 401/403/429 everywhere, 404 with a path id or a page number, 409/428 where If-Match applies."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete", "head", "options"}:
                continue
            codes = ["401", "403", "429"]
            params = operation.get("parameters", [])
            if "requestBody" in operation or any(p.get("in") == "query" for p in params):
                codes.append("400")
            if "{" in path or any(p.get("name") in ("page", "cursor") for p in params):
                codes.append("404")  # no such record, or no such page
            if_match = [p for p in params if p.get("in") == "header" and p.get("name") == "If-Match"]
            if if_match:
                codes += ["400", "409"] + (["428"] if if_match[0].get("required") else [])
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {"description": ERROR_RESPONSES[code], "content": ref})
    return result
