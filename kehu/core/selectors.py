"""Reads that respect the caller's access. Views and APIs start every query here."""

from __future__ import annotations

from typing import TypeVar, overload

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.http import Http404

from . import registry
from .access import Access
from .models import AuditEntry, Notification, SavedView, User

M = TypeVar("M", bound=Model)


@overload
def scoped(queryset_or_model: QuerySet[M], *, user, mode: str = "read", owners=None) -> QuerySet[M]: ...
@overload
def scoped(queryset_or_model: type[M], *, user, mode: str = "read", owners=None) -> QuerySet[M]: ...
def scoped(queryset_or_model, *, user, mode: str = "read", owners=None):
    """The records of a model (or queryset) that `user` may read (or write); `owners`: only those owners'
    (a team filter, intersected with the scope: see Access.filter)."""
    qs = (
        queryset_or_model
        if isinstance(queryset_or_model, QuerySet)
        else queryset_or_model._default_manager.all()
    )
    return Access.of(user).filter(qs, mode=mode, owners=owners)


def get_visible(queryset_or_model: QuerySet[M] | type[M], *, user, **lookup) -> M:
    """One record the user may read, or Http404 — the same answer whether it is missing or out of scope."""
    qs = scoped(queryset_or_model, user=user)
    try:
        return qs.get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404 from None


def mask_hidden(objs: list[M], *, user) -> list[M]:
    """Blank the fields `user` may not see on records loaded for display (panels and partials that render
    model instances directly): hidden values never reach a template. Relations are left alone (their display
    is the related record's title); the instances must not be saved afterwards."""
    if not objs:
        return objs
    model = type(objs[0])
    hidden = Access.of(user).hidden_fields(model)
    fields = [
        f for f in model._meta.concrete_fields if f.name in hidden and not f.is_relation and not f.primary_key
    ]
    for obj in objs:
        for f in fields:
            setattr(obj, f.attname, "" if f.empty_strings_allowed and not f.null else None)
    return objs


def record_history(instance: Model, *, user, extra_ids=()) -> QuerySet:
    """Audit entries of one record, for a user who can see the record; hidden fields are removed by the
    caller (ui/templatetags) using Access.hidden_fields."""
    entry = registry.get(instance)
    label = instance._meta.label_lower
    ids = [str(instance.pk), *[str(i) for i in extra_ids]]
    if entry is None:
        return AuditEntry.objects.none()
    return AuditEntry.objects.filter(model=label, object_id__in=ids).select_related("actor")


def audit_search(*, user, filters: dict) -> QuerySet:
    """The administrators' audit query (superusers, or holders of view on core.auditentry)."""
    access = Access.of(user)
    if not (access.is_superuser or access.can("view", "core.auditentry")):
        return AuditEntry.objects.none()
    qs = AuditEntry.objects.select_related("actor")
    if filters.get("model"):
        qs = qs.filter(model=filters["model"])
    if filters.get("object_id"):
        qs = qs.filter(object_id=str(filters["object_id"]))
    if filters.get("actor"):
        qs = qs.filter(actor_id=filters["actor"])
    if filters.get("action"):
        qs = qs.filter(action=filters["action"])
    if filters.get("since"):
        qs = qs.filter(at__gte=filters["since"])
    if filters.get("until"):
        qs = qs.filter(at__lte=filters["until"])
    return qs


def saved_views(*, user, list_key: str) -> QuerySet:
    from django.db.models import Q

    return SavedView.objects.filter(list_key=list_key).filter(Q(user=user) | Q(shared=True))


def unread_notifications(*, user) -> QuerySet:
    return Notification.objects.filter(user=user, read_at__isnull=True)


def active_users() -> QuerySet:
    return User.objects.filter(is_active=True).order_by("username")
