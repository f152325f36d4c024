"""How the service app's models are secured (registry) and what it contributes to other apps' pages.

Scope (ADR 0008):
- Tickets are owned by their assignee (`owner`). Beyond the assignee scope a user also reaches, through
  `extra_scope`, the *unassigned* tickets of the queues they work in (to take them; read and write) and,
  read-only, the tickets of the customers they may see (the 360° page shows the whole history).
- Messages, attachments and SLA events inherit the ticket's scope (`via="ticket"`).
- Work orders are owned by their engineer, service contracts by their account manager.
- Configuration (categories, canned answers, calendars, policies, queues, skills, agent profiles, routing
  rules, IVR menus, parts, warehouses, knowledge base, discussion board, surveys, care plans) has no owner:
  visible with the view right, changed with the change right.
- Customer-level records (survey responses, care actions) inherit the customer's scope.
"""

from __future__ import annotations

import dataclasses

from django.db.models import Q

from kehu.core import registry
from kehu.core.models import Scope

_KNOWN = {f.name for f in dataclasses.fields(registry.SecuredModel)}


def _register(model, **options):
    # `attribution` (who wrote/logged: set from the request) and `assigned` (users set on purpose) are read by
    # the platform's attribution rules where the registry knows them; older registries ignore them.
    for key in ("attribution", "assigned"):
        if key in options and key not in _KNOWN:
            options.pop(key)
    return registry.register(model, **options)


def ticket_extra_scope(access, mode: str, scope, prefix: str) -> Q | None:
    """Tickets beyond the assignee scope: unassigned ones in the user's queues (read and write, so that an
    agent can take them) and, for reading, those of the customers the user may see."""
    if Scope(scope) == Scope.NONE:
        return None
    from .models import AgentProfile

    user_queues = AgentProfile.queues.through.objects.filter(agentprofile__user_id=access.user.pk).values(
        "queue_id"
    )
    condition = Q(**{f"{prefix}owner__isnull": True, f"{prefix}queue_id__in": user_queues})
    if mode == "read" and access.can("view", "customers.customer"):
        owners = access.owner_ids(Scope(access.grant("customers.customer").read_scope))
        if owners is None:
            condition |= Q(**{f"{prefix}customer__isnull": False})
        elif owners:
            condition |= Q(**{f"{prefix}customer__owner_id__in": sorted(owners)})
    return condition


def register_all() -> None:
    from kehu.customers import panels
    from kehu.ui.views import HOME_WIDGETS

    from . import models as m
    from . import search, widgets  # noqa: F401 - search registers its provider

    url = lambda o: o.get_absolute_url()  # noqa: E731
    # tickets and their conversation
    _register(
        m.Ticket,
        owner_field="owner",
        url=url,
        extra_scope=ticket_extra_scope,
        transfer=False,  # a departing agent's *active* tickets go back to their queues (services.tickets)
        assigned=("watchers",),
    )
    _register(m.TicketMessage, owner_field=None, via="ticket", nav=False, attribution=("author",))
    _register(m.TicketAttachment, owner_field=None, via="ticket", nav=False, attribution=("uploaded_by",))
    _register(m.SlaEvent, owner_field=None, via="ticket", nav=False)
    _register(m.TicketCategory, owner_field=None)
    _register(m.CannedResponse, owner_field=None)
    _register(m.InboundMessage, owner_field=None, nav=False)
    # SLAs
    _register(m.BusinessCalendar, owner_field=None)
    _register(m.WorkingHours, owner_field=None, via="calendar", nav=False)
    _register(m.CalendarDay, owner_field=None, via="calendar", nav=False)
    _register(m.SlaPolicy, owner_field=None)
    _register(m.SlaTarget, owner_field=None, via="policy", nav=False)
    # queues and routing
    _register(m.Queue, owner_field=None, assigned=("manager",))
    _register(m.Skill, owner_field=None)
    _register(m.AgentProfile, owner_field=None, assigned=("user",))
    _register(m.RoutingRule, owner_field=None)
    # call centre
    _register(m.IvrMenu, owner_field=None)
    _register(m.IvrNode, owner_field=None, via="menu", nav=False)
    _register(m.CallLog, owner_field=None, assigned=("agent",))
    _register(m.CallList, owner_field=None)
    _register(m.CallListEntry, owner_field=None, via="call_list", nav=False, assigned=("agent",))
    # field service and parts
    _register(m.WorkOrder, owner_field="owner", url=url)
    _register(m.SparePart, owner_field=None)
    _register(m.Warehouse, owner_field=None, assigned=("engineer",))
    _register(m.StockLevel, owner_field=None, via="warehouse", nav=False)
    _register(m.StockMove, owner_field=None, attribution=("by",))
    # contracts
    _register(m.ServiceContract, owner_field="owner", url=url)
    # knowledge base and discussion board
    _register(m.KbCategory, owner_field=None)
    _register(m.Article, owner_field=None, url=url, attribution=("author",))
    _register(m.ArticleVersion, owner_field=None, via="article", nav=False, attribution=("author",))
    _register(m.ArticleAttachment, owner_field=None, via="article", nav=False, attribution=("uploaded_by",))
    _register(
        m.ArticleFeedback, owner_field=None, via="article", own_actions=True, nav=False, attribution=("user",)
    )
    _register(m.DiscussionThread, owner_field=None, attribution=("author",))
    _register(
        m.DiscussionReply,
        owner_field=None,
        via="thread",
        own_actions=True,
        nav=False,
        attribution=("author",),
    )
    # satisfaction and care
    _register(m.Survey, owner_field=None)
    _register(m.SurveyResponse, owner_field=None, via="customer", own_actions=True, assigned=("agent",))
    _register(m.CarePlan, owner_field=None)
    _register(m.CareAction, owner_field=None, via="customer", nav=False)

    from kehu.core.services import TRANSFER_HOOKS

    from .services.tickets import tickets_transfer

    TRANSFER_HOOKS.append(tickets_transfer)
    panels.register_panel(
        "tickets",
        template="service/panel_tickets.html",
        render=widgets.tickets_panel,
        order=15,
        column="main",
    )
    panels.FIGURES.append(widgets.figures)
    HOME_WIDGETS.append(widgets.home)
