"""The API's filter backend: django-filter plus the input checks of kehu.core.inputs."""

from __future__ import annotations

from django_filters import utils
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.filters import OrderingFilter

from .access import Access
from .inputs import normalise_datetimes


def _root(path: str) -> str:
    return path.lstrip("-").split("__")[0]


def drop_hidden_filters(filterset, hidden) -> None:
    """Take the filters on fields the reader may not see out of a filterset (before its form is built): a
    filter by a hidden field is an oracle for its value (ADR 0009). Used by the API and the list pages."""
    form = getattr(filterset, "_form", None)  # a filterset may have built its form in __init__ already
    for name, flt in list(filterset.filters.items()):
        if _root(flt.field_name or name) in hidden or _root(name) in hidden:
            del filterset.filters[name]
            if form is not None:
                form.fields.pop(name, None)


def visible_ordering(terms, hidden) -> list[str]:
    """The ordering terms that do not sort by a hidden field (a sort order reveals values too)."""
    return [term for term in terms if _root(term) not in hidden]


class FilterBackend(DjangoFilterBackend):
    """Invalid filters answer 400 (as django-filter does); date-times with an impossible offset too; filters
    on fields hidden from the caller are not offered (ignored when sent)."""

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        drop_hidden_filters(filterset, Access.of(request.user).hidden_fields(queryset.model))
        if not (filterset.is_valid() and normalise_datetimes(filterset.form)):
            raise utils.translate_validation(filterset.errors)
        return filterset.qs


class HiddenAwareOrderingFilter(OrderingFilter):
    """`?ordering=` without the fields hidden from the caller."""

    def remove_invalid_fields(self, queryset, fields, view, request):
        valid = super().remove_invalid_fields(queryset, fields, view, request)
        return visible_ordering(valid, Access.of(request.user).hidden_fields(queryset.model))
