"""API building blocks every app uses: permission class, scoped viewsets, ETag/If-Match locking,
field-level serializer restrictions, custom-field values, and error translation."""

from __future__ import annotations

import datetime as dt
import functools

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.response import Response

from . import customfields, layouts, records, registry
from .access import Access
from .drf import KehuPagination, ModelAccessPermission, PreconditionRequired, StaleConflict, exception_handler
from .selectors import scoped

__all__ = ["KehuPagination", "ModelAccessPermission", "StaleConflict", "exception_handler"]

#: callables(request, create) -> Response wrapped around every create (kehu.integrations: Idempotency-Key)
CREATE_GUARDS: list = []


IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description='The ETag of the version you edited, e.g. `"42-3"` (a PUT/PATCH may send `version` in the body '
    "instead). Without it: 428; stale: 409.",
)


def etag_for(instance) -> str:
    return f'"{instance.pk}-{getattr(instance, "version", 0)}"'


def version_from_if_match(header: str | None, pk) -> int | None:
    if not header:
        return None
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    try:
        record_pk, version = value.rsplit("-", 1)
        if str(record_pk) != str(pk):
            raise exceptions.ValidationError({"If-Match": [_("The ETag belongs to another record.")]})
        return int(version)
    except ValueError:
        raise exceptions.ValidationError({"If-Match": [_("Malformed ETag.")]}) from None


class DateTimeField(serializers.DateTimeField):
    """RFC 3339 date-times. In the caller's time zone as usual, except where that zone's offset has seconds —
    local mean time, e.g. Asia/Shanghai before 1901 is +08:05:43, which RFC 3339 cannot express: those are
    given in UTC (`Z`). Every ModelSerializer uses it for model DateTimeFields (kehu.core.apps)."""

    def enforce_timezone(self, value):
        value = super().enforce_timezone(value)
        offset = value.utcoffset()
        if offset is not None and offset.total_seconds() % 60:
            value = value.astimezone(dt.UTC)
        return value


@extend_schema_field(OpenApiTypes.OBJECT)
class CustomValuesField(serializers.JSONField):
    """The record's custom-field values as an object; validated by the record service."""


class AccessAwareSerializer(serializers.ModelSerializer):
    """Removes fields hidden from the caller and limits related choices to records the caller may see.

    Read-only fields (incl. the owner without the transfer right) stay writable here on purpose: the record
    service refuses a *change* to them with FieldNotWritable (403 naming the fields), so an API client learns
    its input was not applied instead of seeing it silently dropped; re-sending the unchanged value is fine.
    Attribution fields (registry `attribution`: who logged, wrote, uploaded) are read-only: the server sets
    them from the request, and a value in the input is ignored."""

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            return fields
        access = Access.of(request.user)
        model = self.Meta.model
        # related records can only be chosen among those the caller may see
        for field in fields.values():
            queryset = getattr(field, "queryset", None)
            if queryset is None and hasattr(field, "child_relation"):
                field = field.child_relation
                queryset = getattr(field, "queryset", None)
            entry = registry.get(queryset.model) if queryset is not None else None
            if entry is not None and (entry.owner_field or entry.via):
                field.queryset = scoped(queryset.all(), user=request.user)
        for name in access.hidden_fields(model):
            fields.pop(name, None)
        # attribution (who logged/wrote it) is set by the server from the request: input is ignored
        entry = registry.get(model)
        for name in (*entry.attribution, *entry.system) if entry else ():
            if name in fields:
                fields[name].read_only = True
                fields[name].required = False
        return fields

    def run_validation(self, data=serializers.empty):
        attrs = super().run_validation(data)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated and isinstance(attrs, dict):
            self._check_layout(attrs, layouts.layout_for(request.user, self.Meta.model))
        return attrs

    def _check_layout(self, attrs: dict, layout) -> None:
        """The caller's form layout (ADR 0025), as the form enforces it: a required field must be given on
        create (and on a full update) and cannot be emptied; a read-only field cannot be changed (on create:
        not set). Fields the caller may not see are not in `self.fields` and are never checked."""
        if layout is None:
            return
        errors: dict[str, list] = {}
        creating = self.instance is None
        for name in layout.readonly:
            if name not in attrs or name not in self.fields or self.fields[name].read_only:
                continue
            value = attrs[name]
            if creating:
                changed = value not in (None, "", [], {})
            else:
                current = getattr(self.instance, name, None)
                if hasattr(current, "all") and callable(current.all):
                    changed = {getattr(v, "pk", v) for v in current.all()} != {
                        getattr(v, "pk", v) for v in value or []
                    }
                else:
                    changed = getattr(current, "pk", current) != getattr(value, "pk", value)
            if changed:
                errors[name] = [_("This field is read-only in your form.")]
        for name in layout.required:
            if name not in self.fields or self.fields[name].read_only or name in layout.readonly:
                continue
            if name in attrs:
                if attrs[name] in (None, "", [], {}):
                    errors[name] = [_("This field is required.")]
            elif creating or not self.partial:
                errors[name] = [_("This field is required.")]
        if errors:
            raise exceptions.ValidationError(errors)


def guarded_create(method):
    """Wrap a viewset's create in CREATE_GUARDS, once per request (a create calling super().create is one)."""

    @functools.wraps(method)
    def create(self, request, *args, **kwargs):
        if not CREATE_GUARDS or getattr(request, "_kehu_create_guarded", False):
            return method(self, request, *args, **kwargs)
        request._kehu_create_guarded = True

        def run():
            return method(self, request, *args, **kwargs)

        for guard in CREATE_GUARDS:
            return guard(request, run)
        return run()

    return create


class ScopedModelViewSet(viewsets.ModelViewSet):
    """CRUD over one secured model. Reads go through the scope selector (out of scope → 404); writes go
    through the record service (rights, field restrictions, locking, audit)."""

    model = None
    lookup_value_regex = r"[0-9]{1,18}"  # longer ids do not exist (64-bit)
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()

    def get_queryset(self):
        qs = self.model._default_manager.all()
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        if self.prefetch_related:
            qs = qs.prefetch_related(*self.prefetch_related)
        if getattr(self, "swagger_fake_view", False):
            return qs.none()
        qs = scoped(qs, user=self.request.user).order_by(*(self.model._meta.ordering or ["-pk"]))
        return self.filter_custom(qs)

    def filter_custom(self, qs):
        """`?cf_<key>=value` filters on custom fields, coerced by the field's type (400 when invalid)."""
        params = {
            k: v for k, v in self.request.query_params.items() if k.startswith(customfields.FORM_PREFIX)
        }
        if not params or not hasattr(self.model, "custom"):
            return qs
        if "custom" in Access.of(self.request.user).hidden_fields(self.model):
            raise exceptions.PermissionDenied(_("Custom fields are hidden for your role."))
        definitions = {d.key: d for d in customfields.definitions(self.model)}
        for name, raw in params.items():
            key = name[len(customfields.FORM_PREFIX) :]
            if key not in definitions:
                raise exceptions.ValidationError({name: [_("Unknown custom field.")]})
            try:
                qs = qs.filter(**{f"custom__{key}": customfields.clean_value(definitions[key], raw)})
            except DjangoValidationError as exc:
                raise exceptions.ValidationError({name: exc.messages}) from None
        return qs

    @property
    def queryset(self):  # for the permission class and schema generation
        return self.model._default_manager.none()

    def _write_data(self, serializer) -> dict:
        return dict(serializer.validated_data)

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        response = Response(self.get_serializer(instance).data)
        response["ETag"] = etag_for(instance)
        return response

    def expected_version(self, instance, body: bool = False) -> int:
        """The version the caller changes or deletes: If-Match (or `version` in the body of a PUT/PATCH).
        Without either: 428 — a change or delete must say which version it was made against."""
        expected = version_from_if_match(self.request.headers.get("If-Match"), instance.pk)
        data = self.request.data if body else {}
        if expected is None and isinstance(data, dict) and "version" in data:
            try:
                expected = int(data["version"])
            except (TypeError, ValueError):
                raise exceptions.ValidationError({"version": [_("Must be an integer.")]}) from None
        if expected is None:
            raise PreconditionRequired()
        return expected

    def save_new(self, data: dict):
        """Hook: create through the app's service (default: the generic record service)."""
        return records.record_create(model=self.model, data=data, by=self.request.user)

    def save_existing(self, instance, data: dict, expected_version: int):
        """Hook: update through the app's service (default: the generic record service)."""
        return records.record_update(
            instance=instance, data=data, by=self.request.user, expected_version=expected_version
        )

    def perform_create(self, serializer):
        serializer.instance = self.save_new(self._write_data(serializer))

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "create" in cls.__dict__:  # an app's own create goes through the guards too (Idempotency-Key)
            cls.create = guarded_create(cls.__dict__["create"])

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        response = Response(self.get_serializer(serializer.instance).data, status=status.HTTP_201_CREATED)
        response["ETag"] = etag_for(serializer.instance)
        return response

    @extend_schema(parameters=[IF_MATCH])
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        expected = self.expected_version(instance, body=True)
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        updated = self.save_existing(instance, self._write_data(serializer), expected)
        response = Response(self.get_serializer(updated).data)
        response["ETag"] = etag_for(updated)
        return response

    @extend_schema(parameters=[IF_MATCH])
    def partial_update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    @extend_schema(parameters=[IF_MATCH])
    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        expected = self.expected_version(instance)
        records.record_delete(instance=instance, by=request.user, expected_version=expected)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OneObjectSchema(AutoSchema):
    """For a viewset whose `list` answers one object (a scorecard, a performance table), not a list."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


ScopedModelViewSet.create = guarded_create(ScopedModelViewSet.create)  # type: ignore[method-assign]
