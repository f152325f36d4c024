"""Contributions of the service app to the customer 360° page and the home page."""

from __future__ import annotations

from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.access import Access

from . import selectors
from .forms import QuickTicketForm
from .models import ACTIVE_STATUSES, Ticket


def tickets_panel(request, customer) -> dict | None:
    """Recent tickets and the quick form: opening a ticket for this customer is two clicks ("New ticket",
    then "Open ticket" after typing the subject)."""
    access = Access.of(request.user)
    if not access.can("view", Ticket):
        return None
    from kehu.products.selectors import units_of

    can_add = access.can("add", Ticket)
    units = (
        list(units_of(user=request.user, customer=customer).select_related("product")[:100])
        if can_add
        else []
    )
    return {
        "customer": customer,
        "tickets": [
            (t, selectors.sla_state(t))
            for t in selectors.customer_tickets(user=request.user, customer=customer)
        ],
        "can_add": can_add,
        "form": QuickTicketForm(units=units),
    }


def figures(request, customer) -> list[tuple]:
    if not Access.of(request.user).can("view", Ticket):
        return []
    qs = selectors.ticket_list(user=request.user)
    qs = qs.filter(Q(customer=customer) | Q(contact=customer))
    counts = qs.aggregate(
        open=Count("id", filter=Q(status__in=ACTIVE_STATUSES)),
        complaints=Count("id", filter=Q(kind="complaint")),
    )
    return [(_("Open tickets"), counts["open"]), (_("Complaints"), counts["complaints"])]


def home(request) -> dict:
    access = Access.of(request.user)
    if not access.can("view", Ticket):
        return {}
    counts = selectors.queue_counts(user=request.user)
    url = reverse("service:queue")
    return {
        "kpis": [
            {"label": _("My open tickets"), "value": counts["mine"], "url": url + "?view=mine"},
            {"label": _("Unassigned in my queues"), "value": sum(counts["unassigned"].values()), "url": url},
        ]
    }
