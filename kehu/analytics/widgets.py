"""Contributions of analytics to the customer 360° page: the customer value panel and key figures."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kehu.core.access import Access

from . import selectors
from .models import CustomerScore


def score_panel(request, customer) -> dict | None:
    score = selectors.score_for(user=request.user, customer=customer)
    if score is None:
        return None
    return {
        "score": score,
        "hidden": Access.of(request.user).hidden_fields(CustomerScore),
    }


def figures(request, customer) -> list[tuple]:
    score = selectors.score_for(user=request.user, customer=customer)
    if score is None:
        return []
    return [(_("RFM segment"), score.get_segment_display())]
