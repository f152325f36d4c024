"""What a portal user may see and do: the one place where portal isolation is decided.

The access engine (kehu.core.access) asks `resolve(user)` for every signed-in user; for a portal user it gets a
`PortalScope`, which then replaces the role grants: every scoped selector, the record service and the
services the portal calls (tickets, consent, profile edits) see exactly the rows below and nothing else.

- A **customer user** reaches the rows of their own customer: the account (or B2C person) and its contacts.
- A **partner user** reaches the same for the partner's own account, and additionally *reads* the orders of
  the partner's customers (PartnerLink, and the customers their registered deals became) and the leads the
  partner registered.
- Models not listed are out of reach (empty querysets, no object rights).
- Conversation rows are limited to what the customer was meant to read: their own messages and public
  replies, never internal notes or system notes, and only attachments of those messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q, QuerySet

from kehu.core.access import EffectiveGrant
from kehu.core.models import FieldAccess, Scope

#: ticket messages a customer may read
PUBLIC_MESSAGE_KINDS = ("customer", "reply")
#: the customer fields a portal user may change on their own record (directly or through a change request)
PROFILE_EDITABLE = ("name", "phone", "email", "job_title", "city", "preferred_language")


@dataclass(frozen=True)
class Rule:
    #: lookup from the model to the customer the row belongs to ("" = the customer itself, None = not
    #: customer-bound: `where` alone decides)
    path: str | None
    actions: frozenset[str] = frozenset({"view"})
    #: may the portal user's services write such rows (tickets: reply, close; their own customer record)
    write: bool = False
    #: partner users also read these rows of the partner's customers
    partner_reach: bool = False
    #: only partner users
    partner_only: bool = False
    #: an extra condition, ANDed: callable(scope) -> Q
    where: Callable[[PortalScope], Q] | None = None
    #: with `editable`: every other field of the model is read-only for the portal user
    editable: tuple[str, ...] | None = None
    extra: dict = field(default_factory=dict)


def _public_articles(scope: PortalScope) -> Q:
    return Q(visibility="public", status="published")


def _registered_leads(scope: PortalScope) -> Q:
    from .models import DealRegistration

    return Q(pk__in=DealRegistration.objects.filter(partner_id=scope.profile.customer_id).values("lead_id"))


RULES: dict[str, Rule] = {
    "customers.customer": Rule(
        path="",
        actions=frozenset({"view", "change"}),
        write=True,
        partner_reach=True,
        editable=PROFILE_EDITABLE,
    ),
    "customers.consentevent": Rule(path="customer"),
    "sales.order": Rule(path="customer", partner_reach=True),
    "sales.orderline": Rule(path="order__customer", partner_reach=True),
    "sales.orderstatuschange": Rule(path="order__customer", partner_reach=True),
    "sales.contract": Rule(path="customer"),
    "sales.instalment": Rule(path="contract__customer"),
    "sales.payment": Rule(path="contract__customer"),
    "sales.invoicerequest": Rule(path="contract__customer"),
    "products.installedproduct": Rule(path="customer"),
    "service.workorder": Rule(path="customer"),
    "service.ticket": Rule(path="customer", actions=frozenset({"view", "add", "change"}), write=True),
    "service.ticketmessage": Rule(path="ticket__customer", where=lambda s: Q(kind__in=PUBLIC_MESSAGE_KINDS)),
    "service.ticketattachment": Rule(
        path="ticket__customer", where=lambda s: Q(message__kind__in=PUBLIC_MESSAGE_KINDS)
    ),
    "service.article": Rule(path=None, where=_public_articles),
    "sales.lead": Rule(
        path=None, actions=frozenset({"view", "add"}), partner_only=True, where=_registered_leads
    ),
}


class PortalScope:
    """The reach of one portal user (built once per request with the access engine)."""

    def __init__(self, profile) -> None:
        self.profile = profile

    @cached_property
    def own_customer_ids(self) -> QuerySet:
        """The account and its contacts (a subquery, evaluated inside the caller's query)."""
        from kehu.customers.models import Customer

        cid = self.profile.customer_id
        return Customer.objects.filter(Q(pk=cid) | Q(account_id=cid), merged_into__isnull=True).values("pk")

    @cached_property
    def partner_customer_ids(self) -> QuerySet:
        """Customers served through the partner: linked by staff, or the customers its deals became."""
        from kehu.customers.models import Customer

        from .models import DealRegistration, PartnerLink

        pid = self.profile.customer_id
        return Customer.objects.filter(
            Q(pk__in=PartnerLink.objects.filter(partner_id=pid).values("customer_id"))
            | Q(
                pk__in=DealRegistration.objects.filter(
                    partner_id=pid, lead__converted_customer__isnull=False
                ).values("lead__converted_customer_id")
            )
        ).values("pk")

    def _rule(self, label: str) -> Rule | None:
        rule = RULES.get(label)
        if rule is None or (rule.partner_only and not self.profile.is_partner):
            return None
        return rule

    def grant(self, label: str) -> EffectiveGrant:
        rule = self._rule(label)
        if rule is None:
            return EffectiveGrant()
        return EffectiveGrant(set(rule.actions), Scope.OWN, Scope.OWN if rule.write else Scope.NONE)

    def filter(self, qs: QuerySet, mode: str = "read") -> QuerySet:
        rule = self._rule(qs.model._meta.label_lower)
        if rule is None or (mode == "write" and not rule.write):
            return qs.none()
        condition = Q()
        if rule.path is not None:
            key = f"{rule.path}__in" if rule.path else "pk__in"
            reach = Q(**{key: self.own_customer_ids})
            if rule.partner_reach and mode == "read" and self.profile.is_partner:
                reach |= Q(**{key: self.partner_customer_ids})
            condition &= reach
        if rule.where is not None:
            condition &= rule.where(self)
        return qs.filter(condition)

    def field_access(self, label: str) -> dict[str, str]:
        rule = self._rule(label)
        if rule is None or rule.editable is None:
            return {}
        from kehu.core import registry

        entry = registry.get(label)
        if entry is None:
            return {}
        return {f.name: FieldAccess.READONLY for f in entry.security_fields() if f.name not in rule.editable}


def profile_of(user):
    """The portal profile of a user, or None for staff. The sign-in backend loads it with the user (one
    join, no extra query per request); a user loaded elsewhere costs one query."""
    if not getattr(user, "pk", None):
        return None
    try:
        return user.portal_profile
    except ObjectDoesNotExist:
        return None


def resolve(user) -> PortalScope | None:
    profile = profile_of(user)
    return PortalScope(profile) if profile is not None else None
