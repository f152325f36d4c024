"""The API's filter backend: django-filter plus the input checks of kehu.core.inputs."""

from __future__ import annotations

from django_filters import utils
from django_filters.rest_framework import DjangoFilterBackend

from .inputs import normalise_datetimes


class FilterBackend(DjangoFilterBackend):
    """Invalid filters answer 400 (as django-filter does); date-times with an impossible offset too."""

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not (filterset.is_valid() and normalise_datetimes(filterset.form)):
            raise utils.translate_validation(filterset.errors)
        return filterset.qs
