"""Template helpers of the UI shell."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
from html import escape as _html_escape

from django import template
from django.conf import settings
from django.template.base import render_value_in_context
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def cell(obj, name: str):
    """The display value of a column: field display, custom value, or related object's text."""
    if name.startswith("custom."):
        value = (getattr(obj, "custom", None) or {}).get(name[7:])
    else:
        getter = getattr(obj, f"get_{name}_display", None)
        value = getter() if callable(getter) else getattr(obj, name, "")
        if callable(value):
            value = value()
    return display(value)


@register.filter
def display(value):
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "Y-m-d H:i")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return formats.number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)
    return value


@register.simple_tag(takes_context=True)
def sort_link(context, column):
    current = context.get("sort", "")
    base = context.get("sort_querystring", "")
    if not column.sort:
        return column.label
    descending = current == column.name
    target = f"-{column.name}" if descending else column.name
    arrow = " ▲" if current == column.name else (" ▼" if current == f"-{column.name}" else "")
    qs = f"{base}&sort={target}" if base else f"sort={target}"
    return format_html('<a href="?{}" class="sort">{}{}</a>', qs, column.label, arrow)


@register.simple_tag
def record_url(url_name, obj):
    return reverse(url_name, args=[obj.pk])


# a record id no list shows: reverse() once per list with it, then put each row's id in its place
_URL_SENTINEL = 987654321987654321


def _row_url(url_name: str):
    """A function pk -> the record's URL: one reverse() per list instead of one per row (identical result;
    falls back to reverse() when the sentinel id does not appear exactly once in the URL)."""
    sample = reverse(url_name, args=[_URL_SENTINEL])
    marker = str(_URL_SENTINEL)
    if sample.count(marker) != 1:
        return lambda pk: reverse(url_name, args=[pk])
    head, tail = sample.split(marker)
    return lambda pk: f"{head}{pk}{tail}"


def value_renderer(context):
    """A function value -> the text `{{ value }}` renders in `context` (render_value_in_context), with fast
    paths for plain str, int and Decimal values — the one-pass table tags render hundreds of cells, and
    Django's localize() reads four format settings per value. Anything else goes through Django."""
    if not context.autoescape or settings.USE_THOUSAND_SEPARATOR:
        return lambda value: render_value_in_context(value, context)
    separator = formats.get_format("DECIMAL_SEPARATOR", use_l10n=context.use_l10n)

    def render(value):
        kind = type(value)
        if kind is str:
            return _html_escape(value)
        if kind is int:
            return str(value)
        if kind is decimal.Decimal and value.is_finite():
            _sign, digits, exponent = value.as_tuple()
            if abs(exponent) + len(digits) <= 200:  # numberformat.format's own cut-off for plain notation
                text = f"{value:f}"
                return text.replace(".", separator) if separator != "." else text
        return render_value_in_context(value, context)

    return render


def row_url(url_name: str):
    """A function pk -> the URL of `url_name` with that id: one reverse() per table (see _row_url)."""
    return _row_url(url_name)


@register.simple_tag(takes_context=True)
def list_rows(context):
    """The rows of a generic list (ui/list.html) in one pass: the markup the per-cell template loop gave —
    `cell` values localised and escaped as `{{ obj|cell:c.name }}` does, record links, and columns with their
    own template rendered through it with `obj` and `c` in the context — at a fraction of the template
    engine's cost per cell (25 rows × 8 columns were a third of a list page's Python time)."""
    objects, columns = context.get("objects"), context.get("columns") or []
    detail_url_name = context.get("detail_url_name")
    check_label = conditional_escape(_("Select"))
    labels = [conditional_escape(c.label) for c in columns]
    url_of = _row_url(detail_url_name) if detail_url_name and any(c.link for c in columns) else None
    engine = context.template.engine if context.template is not None else None
    render_value = value_renderer(context)
    parts = []
    for obj in objects:
        parts.append(
            f'<tr><td class="check"><input type="checkbox" name="ids" value="{conditional_escape(obj.pk)}" '
            f'aria-label="{check_label}" @change="count"></td>'
        )
        for c, label in zip(columns, labels, strict=True):
            if c.template:
                with context.push(obj=obj, c=c):
                    inner = engine.get_template(c.template).render(context)
            else:
                inner = render_value(cell(obj, c.name))
                if c.link and url_of is not None:
                    inner = f'<a href="{conditional_escape(url_of(obj.pk))}">{inner}</a>'
            parts.append(f'<td data-label="{label}">{inner}</td>')
        parts.append("</tr>")
    if not parts:
        parts.append(
            f'<tr><td colspan="{len(columns) + 1}" class="empty">{conditional_escape(_("No records match."))}'
            "</td></tr>"
        )
    return mark_safe("".join(parts))  # noqa: S308 - every value is escaped above or rendered by a template # nosec B308 B703


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)


@register.inclusion_tag("ui/components/field.html")
def field(bound_field, full=False):
    return {"field": bound_field, "full": full}


@register.simple_tag
def icon(name: str, size: int = 18):
    """Inline SVG icons (a small hand-drawn set; no icon font to download)."""
    return _icon(str(name), int(size))


@functools.lru_cache(maxsize=256)
def _icon(name: str, size: int):
    """The SVG markup of an icon (constant per name and size: a page shows ~50 icons)."""
    paths = ICONS.get(name, ICONS["dot"])
    return format_html(
        '<svg class="icon" width="{}" height="{}" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
        'stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">{}</svg>',
        size,
        size,
        mark_safe(paths),  # noqa: S308 - constant SVG paths below # nosec B308 B703
    )


ICONS = {
    "dot": '<circle cx="12" cy="12" r="3"/>',
    "users": '<path d="M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2"/><circle cx="9" cy="7" r="4"/>'
    '<path d="M23 21v-2a4 4 0 0 0-3-3.87"/><path d="M16 3.13a4 4 0 0 1 0 7.75"/>',
    "user": '<path d="M20 21v-2a4 4 0 0 0-4-4H8a4 4 0 0 0-4 4v2"/><circle cx="12" cy="7" r="4"/>',
    "copy": '<rect x="9" y="9" width="13" height="13" rx="2"/><path d="M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9'
    'a2 2 0 0 1 2 2v1"/>',
    "box": '<path d="M21 16V8l-9-5-9 5v8l9 5 9-5z"/><path d="M3.3 7 12 12l8.7-5M12 22V12"/>',
    "cpu": '<rect x="4" y="4" width="16" height="16" rx="2"/><rect x="9" y="9" width="6" height="6"/>',
    "message": '<path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"/>',
    "check": '<path d="M9 11l3 3L22 4"/><path d="M21 12v7a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h11"/>',
    "calendar": '<rect x="3" y="4" width="18" height="18" rx="2"/><path d="M16 2v4M8 2v4M3 10h18"/>',
    "megaphone": '<path d="M3 11v2a1 1 0 0 0 1 1h3l5 4V6L7 10H4a1 1 0 0 0-1 1z"/><path d="M16 8a5 5 0 0 1 0 8"/>',
    "filter": '<path d="M22 3H2l8 9.46V19l4 2v-8.54z"/>',
    "target": '<circle cx="12" cy="12" r="10"/><circle cx="12" cy="12" r="6"/><circle cx="12" cy="12" r="2"/>',
    "trend": '<path d="M23 6l-9.5 9.5-5-5L1 18"/><path d="M17 6h6v6"/>',
    "file": '<path d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z"/><path d="M14 2v6h6"/>',
    "lifebuoy": '<circle cx="12" cy="12" r="10"/><circle cx="12" cy="12" r="4"/>'
    '<path d="M4.9 4.9l4.3 4.3M14.8 14.8l4.3 4.3M14.8 9.2l4.3-4.3M4.9 19.1l4.3-4.3"/>',
    "book": '<path d="M4 19.5A2.5 2.5 0 0 1 6.5 17H20V2H6.5A2.5 2.5 0 0 0 4 4.5z"/><path d="M4 19.5V22h16"/>',
    "chart": '<path d="M18 20V10M12 20V4M6 20v-6"/>',
    "gauge": '<path d="M12 14l4-4"/><path d="M3.3 19a10 10 0 1 1 17.4 0"/>',
    "globe": '<circle cx="12" cy="12" r="10"/><path d="M2 12h20M12 2a15 15 0 0 1 0 20a15 15 0 0 1 0-20"/>',
    "tree": '<path d="M6 3v12M18 9a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM6 21a3 3 0 1 0 0-6 3 3 0 0 0 0 6z"/>'
    '<path d="M18 9a9 9 0 0 1-9 9"/>',
    "shield": '<path d="M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z"/>',
    "sliders": '<path d="M4 21v-7M4 10V3M12 21v-9M12 8V3M20 21v-5M20 12V3M1 14h6M9 8h6M17 16h6"/>',
    "tag": '<path d="M20.6 13.4l-7.2 7.2a2 2 0 0 1-2.8 0L2 12V2h10l8.6 8.6a2 2 0 0 1 0 2.8z"/>'
    '<circle cx="7" cy="7" r="1"/>',
    "swap": '<path d="M16 3l4 4-4 4M20 7H4M8 21l-4-4 4-4M4 17h16"/>',
    "history": '<path d="M3 3v5h5"/><path d="M3.05 13A9 9 0 1 0 6 5.3L3 8"/><path d="M12 7v5l4 2"/>',
    "bell": '<path d="M18 8A6 6 0 0 0 6 8c0 7-3 9-3 9h18s-3-2-3-9"/><path d="M13.7 21a2 2 0 0 1-3.4 0"/>',
    "search": '<circle cx="11" cy="11" r="8"/><path d="M21 21l-4.35-4.35"/>',
    "menu": '<path d="M3 12h18M3 6h18M3 18h18"/>',
    "home": '<path d="M3 9l9-7 9 7v11a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z"/>',
    "plus": '<path d="M12 5v14M5 12h14"/>',
    "phone": '<path d="M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2'
    " 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1.9.3 1.8.6 2.7a2 2 0 0 1-.5 2.1L8 9.8a16 16 0 0 0 6 6l1.3-1.3a2 2 0"
    ' 0 1 2.1-.4c.9.3 1.8.5 2.7.6a2 2 0 0 1 1.7 2z"/>',
    "mail": '<path d="M4 4h16a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/>'
    '<path d="M22 6l-10 7L2 6"/>',
    "map": '<path d="M21 10c0 7-9 13-9 13s-9-6-9-13a9 9 0 0 1 18 0z"/><circle cx="12" cy="10" r="3"/>',
}
