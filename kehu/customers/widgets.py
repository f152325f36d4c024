"""Customer contributions to the home page and the 360° page (registered in CustomersConfig.ready)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.access import Access

from . import selectors

CAP = 10_000


def _capped(qs) -> str:
    n = qs.order_by()[: CAP + 1].count()
    return f"{CAP:,}+" if n > CAP else f"{n:,}"


def home(request) -> dict:
    if not Access.of(request.user).can("view", "customers.customer"):
        return {}
    mine = selectors.customer_list(user=request.user)
    month_start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    url = reverse("customers:list")
    return {
        "kpis": [
            {"label": _("Customers I can see"), "value": _capped(mine), "url": url},
            {
                "label": _("New this month"),
                "value": _capped(mine.filter(created_at__gte=month_start)),
                "url": url + f"?created_after={month_start:%Y-%m-%d}&sort=-created_at",
            },
            {
                "label": _("At risk"),
                "value": _capped(mine.filter(lifecycle_stage="at_risk")),
                "url": url + "?lifecycle_stage=at_risk",
            },
        ]
    }


def figures(request, customer) -> list[tuple]:
    return [(_("Customer since"), timezone.localtime(customer.created_at).date())]


def pipeline_placeholder(request, customer) -> dict:
    """Opportunities, orders and tickets arrive with the sales and service modules; the layout has their place."""
    return {"sections": [_("Open opportunities"), _("Orders"), _("Open service tickets")]}
