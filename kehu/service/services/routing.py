"""Routing (ACD): which queue a ticket goes to, and which available agent of that queue gets it.

Queue: the first active routing rule (by position) whose conditions hold — customer class (customer type),
customer tags (VIP, key account: usually a fast-lane queue), category, product of the installed unit,
language, channel — else the default queue. Agent: among the queue's agents who are online, below their
capacity and hold the rule's required skills (and the ticket's language skill when they declare languages),
round robin (longest since their last assignment) or least loaded (fewest active tickets, then longest
waiting). The candidates' profiles are locked in a fixed order while one is chosen, so concurrent routings
spread over agents instead of all picking the same one.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.exceptions import BusinessRuleError
from kehu.core.models import AuditAction, User

from ..models import (
    ACTIVE_STATUSES,
    PRIORITY_RANK,
    AgentProfile,
    Availability,
    Queue,
    RoutingMethod,
    RoutingRule,
    Skill,
    SkillKind,
    Ticket,
    TicketPriority,
)


def _rule_matches(rule: RoutingRule, ticket: Ticket, tag_ids: set[int]) -> bool:
    customer = ticket.customer if ticket.customer_id else None
    if rule.customer_types and (customer is None or customer.customer_type not in rule.customer_types):
        return False
    tags = {t.pk for t in rule.customer_tags.all()}
    if tags and not tags & tag_ids:
        return False
    categories = {c.pk for c in rule.categories.all()}
    if categories and ticket.category_id not in categories:
        return False
    products = {p.pk for p in rule.products.all()}
    unit = ticket.installed_product if ticket.installed_product_id else None
    if products and (unit is None or unit.product_id not in products):
        return False
    if rule.languages and ticket.language not in rule.languages:
        return False
    return not (rule.channels and ticket.channel not in rule.channels)


def route(ticket: Ticket) -> tuple[Queue | None, RoutingRule | None]:
    """The queue a new ticket goes to and the rule that chose it (None: the default queue)."""
    customer = ticket.customer if ticket.customer_id else None
    tag_ids = set(customer.tags.values_list("pk", flat=True)) if customer is not None else set()
    rules = (
        RoutingRule.objects.filter(active=True, queue__active=True)
        .select_related("queue")
        .prefetch_related("customer_tags", "categories", "products", "required_skills")
        .order_by("position", "id")
    )
    for rule in rules:
        if _rule_matches(rule, ticket, tag_ids):
            return rule.queue, rule
    return Queue.objects.filter(is_default=True, active=True).first(), None


def apply_route(ticket: Ticket) -> RoutingRule | None:
    """Put a new ticket (not saved yet) in its queue; a rule may raise its priority."""
    queue, rule = route(ticket)
    if ticket.queue_id is None and queue is not None:
        ticket.queue = queue
    if rule is not None and rule.set_priority:
        if PRIORITY_RANK[TicketPriority(rule.set_priority)] > PRIORITY_RANK[TicketPriority(ticket.priority)]:
            ticket.priority = rule.set_priority
    return rule


def _required_skills(ticket: Ticket, rule: RoutingRule | None) -> set[int]:
    return {s.pk for s in rule.required_skills.all()} if rule is not None else set()


def agent_loads(user_ids) -> dict[int, int]:
    """Active tickets per agent (one grouped query over ix_ticket_owner_active)."""
    rows = (
        Ticket.objects.filter(owner_id__in=list(user_ids), status__in=ACTIVE_STATUSES)
        .values("owner_id")
        .annotate(n=Count("id"))
    )
    return {r["owner_id"]: r["n"] for r in rows}


def assign_next_agent(
    ticket: Ticket, *, exclude=(), rule: RoutingRule | None = None, save: bool = True
) -> User | None:
    """Give the ticket (locked by the caller, unassigned) to the next available agent of its queue, by the
    queue's method. Returns the agent, or None when nobody is available (the ticket waits in the queue)."""
    queue = ticket.queue if ticket.queue_id else None
    if queue is None or queue.method == RoutingMethod.MANUAL or ticket.owner_id is not None:
        return None
    profiles = AgentProfile.objects.filter(
        queues=queue, availability=Availability.ONLINE, user__is_active=True, capacity__gt=0
    ).exclude(user_id__in=list(exclude))
    for skill_id in _required_skills(ticket, rule):
        profiles = profiles.filter(skills=skill_id)
    if ticket.language:
        # agents who declare languages must speak the ticket's; agents who declare none take any
        languages = Skill.objects.filter(kind=SkillKind.LANGUAGE)
        speaks = Q(skills__kind=SkillKind.LANGUAGE, skills__code=ticket.language)
        declares = Q(
            pk__in=AgentProfile.skills.through.objects.filter(skill__in=languages).values("agentprofile_id")
        )
        profiles = profiles.filter(speaks | ~declares)
    candidate_ids = sorted(set(profiles.values_list("pk", flat=True)))
    if not candidate_ids:
        return None
    with transaction.atomic():
        locked = list(AgentProfile.objects.select_for_update().filter(pk__in=candidate_ids).order_by("pk"))
        loads = agent_loads(p.user_id for p in locked)
        available = [p for p in locked if loads.get(p.user_id, 0) < p.capacity]
        if not available:
            return None
        epoch = timezone.now().replace(year=1970, month=1, day=1)
        if queue.method == RoutingMethod.ROUND_ROBIN:
            chosen = min(available, key=lambda p: (p.last_assigned_at or epoch, p.pk))
        else:
            chosen = min(
                available, key=lambda p: (loads.get(p.user_id, 0), p.last_assigned_at or epoch, p.pk)
            )
        now = timezone.now()
        AgentProfile.objects.filter(pk=chosen.pk).update(last_assigned_at=now)
        ticket.owner_id = chosen.user_id
        ticket.taken_at = now
        if ticket.status == "new":
            ticket.status = "open"
        if save:
            ticket.version += 1
            ticket.updated_at = now
            ticket.save(update_fields=["owner", "taken_at", "status", "version", "updated_at"])
            audit.log(
                actor=None,
                action=AuditAction.UPDATE,
                instance=ticket,
                changes={"owner": [None, str(chosen.user)]},
                note=_("Routed by queue %(queue)s") % {"queue": queue.name},
            )
    return User.objects.get(pk=chosen.user_id)


def agent_availability_set(*, user: User, availability: str, by: User) -> AgentProfile:
    """An agent sets their own availability (online / away / offline); supervisors with the change right on
    agent profiles may set anyone's."""
    from kehu.core.access import Access

    if availability not in Availability.values:
        raise BusinessRuleError(_("Unknown availability."), field="availability")
    if user.pk != by.pk and not Access.of(by).can("change", AgentProfile):
        raise BusinessRuleError(_("You may only change your own availability."))
    with transaction.atomic():
        profile, _created = AgentProfile.objects.select_for_update().get_or_create(user=user)
        if profile.availability != availability:
            before = profile.availability
            profile.availability = availability
            profile.availability_changed_at = profile.updated_at = timezone.now()
            profile.version += 1
            profile.save(update_fields=["availability", "availability_changed_at", "version", "updated_at"])
            audit.log(
                actor=by,
                action=AuditAction.UPDATE,
                instance=profile,
                changes={"availability": [before, availability]},
            )
    return profile
