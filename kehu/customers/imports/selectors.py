"""Imports a user may see: with the import right on customers, the jobs whose owner lies in the user's read
scope on customers (own → their imports, team → their team's, all → every import)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from kehu.core.access import Access
from kehu.core.models import Action, Scope

from ..models import Customer
from .models import ImportJob


def import_jobs(*, user) -> QuerySet:
    access = Access.of(user)
    qs = ImportJob.objects.select_related("owner")
    if not access.can(Action.IMPORT, Customer):
        return qs.none()
    if access.is_superuser:
        return qs
    owners = access.owner_ids(Scope(access.grant(Customer).read_scope))
    return qs if owners is None else qs.filter(owner_id__in=sorted(owners))


def import_job(*, user, pk) -> ImportJob:
    """One import the user may see, or Http404 (the same for missing and out of scope)."""
    try:
        return import_jobs(user=user).get(pk=pk)
    except (ImportJob.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
