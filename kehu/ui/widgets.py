"""Form widgets of the UI shell."""

from __future__ import annotations

from html import escape as _html_escape

from django import forms
from django.core.exceptions import EmptyResultSet
from django.forms.utils import flatatt
from django.utils.html import escape
from django.utils.safestring import mark_safe


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


def _esc(value) -> str:
    """django.utils.html.escape without its lazy-string wrapper (the same text: html.escape of str(value));
    a list page escapes ~1,200 option values and labels."""
    return _html_escape(value if type(value) is str else str(value))


def options_html(choices, selected: set[str]) -> str:
    """The <option> elements of `choices` ((value, label) pairs; a list label makes an <optgroup>) in one
    pass: a list page's filter and bulk selects hold every active user, and Django's template per option
    cost ~0.5 ms each (280 users twice: most of the opportunity list's rendering time)."""
    parts = []
    for value, label in choices:
        if isinstance(label, list | tuple):
            parts.append(f'<optgroup label="{_esc(value)}">{options_html(label, selected)}</optgroup>')
            continue
        value = "" if value is None else str(value)
        mark = " selected" if value in selected else ""
        parts.append(f'<option value="{_esc(value)}"{mark}>{_esc(label)}</option>')
    return mark_safe("".join(parts))  # noqa: S308 - every value and label is escaped above # nosec B308 B703


def rows_html(rows, selected: set[str], memo: dict | None = None) -> str:
    """options_html of a page's shared choice rows ((pk, label), no groups), rendered once per page: `memo`
    (the page's shared-choices dict) keeps the markup without a selection, and a selected value is marked by
    replacing its one <option> tag (the same markup as options_html(rows, selected)). The owner filter and
    the bulk action's owner select show the same 280 users."""
    if memo is None:
        return options_html(rows, selected)
    key = ("html", id(rows))
    entry = memo.get(key)
    if entry is None or entry[0] is not rows:
        entry = memo[key] = (rows, str(options_html(rows, set())))
    html = entry[1]
    for value in selected:
        if value == "":
            continue
        tag = f'<option value="{_esc(value)}">'
        html = html.replace(tag, f'<option value="{_esc(value)}" selected>', 1)
    return mark_safe(html)  # noqa: S308 - rendered by options_html # nosec B308 B703


class FastSelect(forms.Select):
    """A <select> rendered without a template per option (same markup as Django's, one string join).
    `rows` (with `memo`): choice rows shared with other selects of the page, after the choices (the empty
    and "none" options), rendered once per page (rows_html)."""

    def __init__(self, attrs=None, choices=(), rows=None, memo=None):
        super().__init__(attrs, choices)
        self.rows, self.memo = rows, memo

    def render(self, name, value, attrs=None, renderer=None):
        final = self.build_attrs(self.attrs, attrs)
        selected = {"" if v is None else str(v) for v in self.format_value(value)}
        options = options_html(self.choices, selected)
        if self.rows is not None:
            options += rows_html(self.rows, selected, self.memo)
        return mark_safe(  # noqa: S308 - every value and label is escaped by options_html # nosec B308 B703
            f'<select name="{escape(name)}"{flatatt(final)}>{options}</select>'
        )


def choice_rows(queryset, label=str) -> list[tuple]:
    """(pk, label) of every record of `queryset`, labelled by `label` (str by default). A model that declares
        `choice_label_fields` (the fields its __str__ reads) is read with those columns only: 280 users with their
        every column (dates parsed, 20 fields set per instance) were a tenth of a list page's Python time. A model that
    also has a static `choice_label(*values)` (User) is read as plain values, without instances."""
    fields = getattr(queryset.model, "choice_label_fields", None)
    if fields and label is str:
        from_values = getattr(queryset.model, "choice_label", None)
        if from_values is not None:  # the model says how __str__ reads those values: no instances at all
            return [(pk, from_values(*values)) for pk, *values in queryset.values_list("pk", *fields)]
        queryset = queryset.only(*fields)
    return [(obj.pk, label(obj)) for obj in queryset]


def _default_label(field) -> bool:
    """The field labels its choices with str(obj) (ModelChoiceField's own label_from_instance)."""
    method = getattr(field, "label_from_instance", None)
    return getattr(method, "__func__", None) is forms.ModelChoiceField.label_from_instance


def fast_selects(form, *, shared: dict | None = None) -> None:
    """Render the single-choice selects of a (filter) form with FastSelect. A model choice field is read
    once with a plain query (Django's choice iterator opens a server-side cursor per field on PostgreSQL);
    `shared` maps a queryset's SQL to choices already read for the page (the active users, which the bulk
    action's owner select shows too), so the same list is queried once and reused."""
    shared = shared if shared is not None else {}
    for field in form.fields.values():
        widget = field.widget
        if type(widget) is not forms.Select:
            continue
        if isinstance(field, forms.ModelChoiceField):
            queryset = field.queryset
            try:
                key = str(queryset.query)
            except EmptyResultSet:
                key = None
            rows = shared.get(key) if key else None
            if rows is None:
                rows = choice_rows(queryset, str if _default_label(field) else field.label_from_instance)
                if key:
                    shared[key] = rows
            # the widget gets the choices; the field keeps validating against its queryset
            choices = [("", field.empty_label)] if field.empty_label is not None else []
            if getattr(field, "null_label", None):  # django-filter's "none" choice
                choices.append((field.null_value, field.null_label))
            fast = FastSelect(attrs=widget.attrs, choices=choices, rows=rows, memo=shared)
        else:
            fast = FastSelect(attrs=widget.attrs, choices=list(field.choices))
        fast.is_required = widget.is_required
        field.widget = fast
