"""Scoped reads of workflow rules and their runs."""

from __future__ import annotations

from django.db.models import QuerySet

from kehu.core.selectors import get_visible, scoped

from .models import Rule, RuleRun


def rule_list(*, user) -> QuerySet[Rule]:
    return scoped(Rule, user=user).select_related("owner")


def rule_get(*, user, pk) -> Rule:
    return get_visible(Rule, user=user, pk=pk)


def rule_runs(*, rule: Rule, limit: int = 50) -> list[RuleRun]:
    return list(RuleRun.objects.filter(rule=rule).order_by("-at", "-id")[:limit])
