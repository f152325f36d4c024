"""Reads of the sign-in history: a user sees their own, administrators everybody's."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from kehu.core.access import Access
from kehu.core.models import Action, Role, User

from .models import LoginEvent, LoginResult


def login_history(*, user: User, of: User | None, failed_only: bool = False) -> QuerySet[LoginEvent]:
    """Sign-ins of `of` (everybody's when None), newest first; only administrators read another's."""
    if of is None or of.pk != user.pk:
        access = Access.of(user)
        if not (access.is_superuser or access.can(Action.CHANGE, Role)):
            raise PermissionDenied
    events = LoginEvent.objects.select_related("user").order_by("-at", "-id")
    if of is not None:
        events = events.filter(user=of)
    if failed_only:
        events = events.exclude(result__in=(LoginResult.SUCCESS, LoginResult.RECOVERY))
    return events
