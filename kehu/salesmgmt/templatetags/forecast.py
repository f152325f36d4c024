"""`{% forecast_category opportunity %}` on a deal's page: the rep's forecast category and, for whoever may
change the deal, the form that sets it (ADR 0014)."""

from __future__ import annotations

from django import template

from kehu.core.access import Access

from ..models import ForecastCategory, ForecastEntry

register = template.Library()


@register.inclusion_tag("salesmgmt/forecast/deal_category.html", takes_context=True)
def forecast_category(context, opportunity):
    user = context["request"].user
    entry = ForecastEntry.objects.filter(opportunity=opportunity).first()
    access = Access.of(user)
    return {
        "opportunity": opportunity,
        "category": entry.category if entry else ForecastCategory.PIPELINE,
        "categories": ForecastCategory.choices,
        "can_set": opportunity.status == "open"
        and access.can("change", "sales.opportunity")
        and access.can_write_record(opportunity),
        "csrf_token": context.get("csrf_token"),
    }


@register.simple_tag(takes_context=True)
def forecast_deal_rows(context, deals, categories, amount_hidden):
    """The forecast page's deal rows (up to 500, each with its category select) in one pass: the markup the
    template loop gave — values localised and escaped as `{{ }}` does — at a fraction of the template engine's
    cost (the loop was ~70 % of the manager's forecast page; tests/salesmgmt/test_forecast_pages.py compares
    both)."""
    from django.template.base import render_value_in_context as show
    from django.template.defaultfilters import floatformat
    from django.utils.html import conditional_escape
    from django.utils.safestring import mark_safe
    from django.utils.translation import gettext as _

    from kehu.ui.templatetags.kehu_ui import _row_url

    url_of = _row_url("sales:opportunity")
    won_label = conditional_escape(_("Won"))
    aria = conditional_escape(_("Forecast category"))
    choices = [(value, show(value, context), show(label, context)) for value, label in categories]
    parts = []
    for d in deals:
        pk = show(d.pk, context)
        parts.append(
            f'<tr data-testid="deal-{pk}">\n<td><a href="{conditional_escape(url_of(d.pk))}">'
            f"{show(d.name, context)}</a></td><td>{show(d.owner, context)}</td>"
            f"<td>{show(d.expected_close_date or '', context)}</td>\n"
        )
        if not amount_hidden:
            parts.append(f'<td class="num">{show(floatformat(d.amount, "2g"), context)}</td>')
        probability = won_label if d.status == "won" else show(d.probability, context)
        parts.append(f'<td class="num">{probability}</td>\n<td>')
        if d.fc_editable:
            parts.append(f'<select name="category-{pk}" data-testid="category-{pk}" aria-label="{aria}">')
            for value, shown_value, shown_label in choices:
                mark = " selected" if value == d.fc_category else ""
                parts.append(f'<option value="{shown_value}"{mark}>{shown_label}</option>')
            parts.append("</select>\n")
            if d.fc_error:
                parts.append(
                    f'<div class="msg msg-error small" data-testid="category-error-{pk}">'
                    f"{show(d.fc_error, context)}</div>"
                )
            parts.append("\n")
        elif d.status == "open":
            parts.extend(shown_label for value, _v, shown_label in choices if value == d.fc_category)
        else:
            parts.append("—")
        parts.append("</td></tr>\n")
    return mark_safe("".join(parts))  # noqa: S308 - every value is escaped above (render_value_in_context) # nosec B308 B703
