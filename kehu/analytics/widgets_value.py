"""The 360° page: the customer's value segment, its relationship strategy, churn risk and the top reasons."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from . import selectors_value
from .models_value import ValueSettings


def value_panel(request, customer) -> dict | None:
    value = selectors_value.value_for(user=request.user, customer=customer)
    if value is None:
        return None
    return {
        "value": value,
        "hidden": selectors_value.hidden(request.user),
        "strategy": selectors_value.strategies()[value.segment],
        "reasons": selectors_value.churn_reason_labels(value.churn_reasons),
        "at_risk": value.churn_risk >= (value.at_risk_threshold or ValueSettings().at_risk_threshold),
    }


def figures(request, customer) -> list[tuple]:
    value = selectors_value.value_for(user=request.user, customer=customer)
    if value is None or "segment" in selectors_value.hidden(request.user):
        return []
    return [(_("Value segment"), value.get_segment_display())]
