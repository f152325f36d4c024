"""Service reads, scoped to what the user may see (kehu.core.selectors.scoped; ticket scope: registration.py)."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from kehu.core.selectors import get_visible, scoped
from kehu.customers.models import Customer

from .models import (
    ACTIVE_STATUSES,
    AgentProfile,
    CannedResponse,
    InboundMessage,
    InboundStatus,
    Queue,
    SlaEvent,
    Ticket,
    TicketAttachment,
    TicketMessage,
)

QUEUE_PAGE = 25


def ticket_list(*, user) -> QuerySet[Ticket]:
    return scoped(Ticket, user=user).select_related("customer", "contact", "owner", "queue", "category")


def ticket_detail(*, user, pk) -> Ticket:
    qs = scoped(Ticket, user=user).select_related(
        "customer",
        "contact",
        "owner",
        "queue",
        "category",
        "sla_policy",
        "installed_product__product",
        "service_contract",
        "merged_into",
        "split_from",
    )
    return get_visible(qs, user=user, pk=pk)


def conversation(*, ticket: Ticket) -> list[TicketMessage]:
    """The messages of a ticket the caller may see, oldest first, with authors and attachments (3 queries)."""
    return list(
        TicketMessage.objects.filter(ticket=ticket)
        .select_related("author")
        .prefetch_related(
            Prefetch("attachments", queryset=TicketAttachment.objects.order_by("created_at", "id"))
        )
        .order_by("created_at", "id")
    )


def sla_history(*, ticket: Ticket) -> list[SlaEvent]:
    return list(SlaEvent.objects.filter(ticket=ticket).order_by("at", "id"))


def attachment_visible(*, user, pk) -> TicketAttachment:
    return get_visible(scoped(TicketAttachment, user=user).select_related("ticket"), user=user, pk=pk)


def agent_queue_ids(*, user) -> list[int]:
    return list(
        AgentProfile.queues.through.objects.filter(agentprofile__user=user).values_list("queue_id", flat=True)
    )


def agent_queues(*, user) -> list[Queue]:
    """The queues an agent works in (fast lanes first)."""
    return list(
        Queue.objects.filter(pk__in=agent_queue_ids(user=user), active=True).order_by("-fast_lane", "name")
    )


def queue_tickets(*, user, view: str = "unassigned", queue: Queue | None = None) -> QuerySet[Ticket]:
    """The agent's queue page: active tickets, most urgent SLA first (tickets without an SLA last).

    views: "mine" (assigned to me), "unassigned" (waiting in my queues, or in `queue`), "queue" (everything
    active in `queue`). Served by the partial indexes ix_ticket_owner_active / ix_ticket_queue_*."""
    qs = ticket_list(user=user).filter(status__in=ACTIVE_STATUSES, merged_into__isnull=True)
    if view == "mine":
        qs = qs.filter(owner=user)
    elif view == "queue" and queue is not None:
        qs = qs.filter(queue=queue)
    else:
        qs = qs.filter(owner__isnull=True)
        qs = (
            qs.filter(queue=queue)
            if queue is not None
            else qs.filter(queue_id__in=agent_queue_ids(user=user))
        )
    from django.db.models import F

    return qs.order_by(F("sla_next_due").asc(nulls_last=True), "id")


def queue_counts(*, user) -> dict:
    """Badge counts of the queue page: mine, and unassigned per queue of the agent (two queries)."""
    base = ticket_list(user=user).filter(status__in=ACTIVE_STATUSES, merged_into__isnull=True)
    mine = base.filter(owner=user).count()
    per_queue = dict(
        base.filter(owner__isnull=True, queue_id__in=agent_queue_ids(user=user))
        .values("queue_id")
        .annotate(n=Count("id"))
        .values_list("queue_id", "n")
    )
    return {"mine": mine, "unassigned": per_queue}


def customer_tickets(*, user, customer: Customer, limit: int = 10) -> list[Ticket]:
    """Recent tickets of a customer (an account: its own and its contacts'), for the 360° page."""
    qs = ticket_list(user=user)
    if customer.is_organization:
        qs = qs.filter(Q(customer=customer) | Q(contact__account=customer))
    else:
        qs = qs.filter(Q(customer=customer) | Q(contact=customer))
    return list(qs.order_by("-created_at", "-id")[:limit])


def canned_responses(*, user) -> QuerySet[CannedResponse]:
    return scoped(CannedResponse, user=user).filter(active=True).order_by("title")


def inbound_quarantine(*, user) -> QuerySet[InboundMessage]:
    return scoped(InboundMessage, user=user).filter(status=InboundStatus.QUARANTINED).order_by("-received_at")


def sla_state(ticket: Ticket) -> str:
    """ok / warning / breached / paused / none, for badges."""
    if ticket.first_response_breached or ticket.resolution_breached:
        return "breached"
    if ticket.sla_paused_at is not None and ticket.is_active:
        return "paused"
    if ticket.sla_next_due is None:
        return "none"
    if ticket.first_response_warned or ticket.resolution_warned:
        return "warning"
    return "breached" if ticket.sla_next_due <= timezone.now() else "ok"
