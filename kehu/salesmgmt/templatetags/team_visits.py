"""The team-visits page's rows and grid points in one pass each (ADR 0017 "one-pass rows"): the markup the
template loops gave — values localised and escaped as `{{ }}` does — at a fraction of the template engine's
cost (a department's day is ~150 visits; the page's target is p95 < 100 ms). tests/salesmgmt/
test_visit_photos_and_map.py compares the rows with the loop's output."""

from __future__ import annotations

from django import template
from django.template.base import render_value_in_context as show
from django.template.defaultfilters import floatformat, time_format
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime

register = template.Library()
COLOURS = {"done": "#15803d", "in": "#2563eb"}


@register.simple_tag(takes_context=True)
def team_visit_rows(context, visits):
    from django.urls import reverse

    # one reverse for the pattern, the id substituted per row (reverse() per row was ~15 % of the page)
    url = reverse("salesmgmt:visit", args=[987654321]).replace("987654321", "{}")
    parts = []
    for v in visits:
        pk = show(v.pk, context)
        status = show(v.get_status_display(), context)
        if v.checkin_at:
            status += " " + show(time_format(localtime(v.checkin_at), "H:i"), context)
        distance = f"{show(v.checkin_distance, context)} m" if v.checkin_distance is not None else "—"
        parts.append(
            f'<tr data-testid="visit-{pk}"><td>{show(time_format(localtime(v.planned_start), "H:i"), context)}</td>'
            f'<td>{show(v.owner, context)}</td><td><a href="{conditional_escape(url.format(v.pk))}">'
            f'{show(v.customer, context)}</a></td><td>{status}</td><td class="num">{distance}</td></tr>\n'
        )
    return mark_safe("".join(parts))  # noqa: S308 - every value is escaped above (render_value_in_context) # nosec B308 B703


@register.simple_tag(takes_context=True)
def team_map_points(context, points):
    parts = []
    for p in points:
        v = p["visit"]
        x, y = p["x"], p["y"]
        title = (
            f"{show(v.owner, context)} · {show(v.customer, context)} "
            f"({show(floatformat(p['lat'], 4), context)}, {show(floatformat(p['lon'], 4), context)})"
        )
        parts.append(
            f'<g data-testid="point-{show(v.pk, context)}"><circle cx="{x}" cy="{y}" r="9" '
            f'fill="{COLOURS.get(v.status, "#94a3b8")}"><title>{title}</title></circle>'
            f'<text x="{x + 12}" y="{y + 4}" font-size="14">{show(v.owner, context)}</text></g>'
        )
    return mark_safe("".join(parts))  # noqa: S308 - every value is escaped above (render_value_in_context) # nosec B308 B703
