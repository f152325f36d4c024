"""Lead assignment rules: which rule matches a lead, and which of its candidates gets it.

Round-robin moves the rule's cursor (`last_assignee`) under the rule's row lock, so concurrent leads are dealt
out in turn; "by load" picks the candidate with the fewest open, not yet contacted leads (ties: lowest id)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from kehu.core.access import department_subtree_ids
from kehu.core.models import Team, User
from kehu.products.models import ProductCategory

from ..models import OPEN_LEAD_STATUSES, AssignmentMethod, AssignmentRule, Lead


@dataclass(frozen=True)
class Assignment:
    user: User
    rule: AssignmentRule | None
    due: dt.datetime


def _category_subtree(root_id: int) -> set[int]:
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in ProductCategory.objects.values_list("id", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    result, stack = set(), [root_id]
    while stack:
        node = stack.pop()
        if node not in result:
            result.add(node)
            stack.extend(children.get(node, []))
    return result


def rule_matches(rule: AssignmentRule, lead: Lead) -> bool:
    """Every criterion the rule sets must hold (a region or product line matches its whole subtree)."""
    if rule.region_id and (
        lead.region_id is None or lead.region_id not in department_subtree_ids(rule.region_id)
    ):
        return False
    if rule.product_line_id and (
        lead.product_line_id is None or lead.product_line_id not in _category_subtree(rule.product_line_id)
    ):
        return False
    if rule.source and rule.source != lead.source:
        return False
    return not (rule.city and rule.city.casefold() != (lead.city or "").casefold())


def candidates(rule: AssignmentRule) -> list[User]:
    """Active users of the rule: listed users, members of its team, members of its department subtree."""
    condition = Q(pk__in=rule.users.values("pk"))
    if rule.team_id:
        condition |= Q(pk__in=Team.members.through.objects.filter(team_id=rule.team_id).values("user_id"))
    if rule.department_id:
        condition |= Q(department_id__in=department_subtree_ids(rule.department_id))
    return list(User.objects.filter(condition, is_active=True).order_by("pk"))


def open_load(user_ids: list[int]) -> dict[int, int]:
    """Open leads not yet contacted per user (the 'current load')."""
    rows = (
        Lead.objects.filter(
            owner_id__in=user_ids, status__in=OPEN_LEAD_STATUSES, first_contacted_at__isnull=True
        )
        .values("owner_id")
        .annotate(n=Count("pk"))
    )
    load = dict.fromkeys(user_ids, 0)
    load.update({row["owner_id"]: row["n"] for row in rows})
    return load


def sla_hours(rule: AssignmentRule | None) -> int:
    return (rule.sla_hours if rule and rule.sla_hours else None) or settings.KEHU_LEAD_SLA_HOURS


def pick(*, lead: Lead, now: dt.datetime | None = None) -> Assignment | None:
    """The assignee for `lead` by the first matching active rule that has candidates, or None. Must run inside
    the caller's transaction: the rule row is locked (select_for_update) while its cursor moves."""
    now = now or timezone.now()
    for rule in AssignmentRule.objects.filter(active=True).order_by("priority", "id"):
        if not rule_matches(rule, lead):
            continue
        locked = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
        people = candidates(locked)
        if not people:
            continue
        if locked.method == AssignmentMethod.FIXED:
            chosen = people[0]
        elif locked.method == AssignmentMethod.LEAST_LOADED:
            load = open_load([u.pk for u in people])
            chosen = min(people, key=lambda u: (load[u.pk], u.pk))
        else:
            after = [
                u for u in people if locked.last_assignee_id is not None and u.pk > locked.last_assignee_id
            ]
            chosen = after[0] if after else people[0]
        AssignmentRule.objects.filter(pk=locked.pk).update(last_assignee=chosen)
        return Assignment(user=chosen, rule=locked, due=now + dt.timedelta(hours=sla_hours(locked)))
    return None
