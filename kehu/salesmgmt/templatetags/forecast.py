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
