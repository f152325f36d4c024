"""Form widgets of the UI shell."""

from __future__ import annotations

from django import forms


class RecordPicker(forms.Widget):
    """A search-as-you-type picker for a foreign key to a (possibly huge, always scoped) table.

    The lookup URL answers JSON `[{"id": 1, "label": "…"}]` for `?q=`; the field's queryset must be scoped
    to the user, so an id outside their scope fails validation like any invalid choice.
    """

    template_name = "ui/widgets/record_picker.html"

    def __init__(self, lookup_url: str, attrs=None) -> None:
        super().__init__(attrs)
        self.lookup_url = lookup_url

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        label = ""
        if value not in (None, ""):
            queryset = getattr(getattr(self, "choices", None), "queryset", None)
            if queryset is not None:
                obj = queryset.filter(pk=value).first() if str(value).isdigit() else None
                label = str(obj) if obj else ""
        context["widget"].update({"lookup_url": self.lookup_url, "label": label})
        return context
