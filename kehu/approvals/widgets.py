"""The approvals' home-page figure: how many requests wait for my decision (one query)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .selectors import pending_count


def home(request) -> dict:
    waiting = pending_count(user=request.user)
    if not waiting:
        return {}
    return {
        "kpis": [
            {"label": _("Approvals waiting for me"), "value": waiting, "url": reverse("approvals:inbox")}
        ]
    }
