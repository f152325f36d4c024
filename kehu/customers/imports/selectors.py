"""Imports a user may see, and what of them.

A job — file name, size, counts, status, who and when — is visible with the import right on customers to users
whose customers read scope covers the job's owner (own → their imports, team → their team's, all → every
import). Its contents are the owner's (and superusers'): the rows of the file (issues, the preview sample, the
error report, the first values of each column) and the customers it wrote were checked against what the owner
may see — "Looks like “…” (#1)" may name a customer shared with the owner alone — so a team lead sees the job,
not its rows. Pages and API read both through these selectors.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from kehu.core.access import Access
from kehu.core.models import Action, Scope

from ..models import Customer
from ..selectors import customer_list
from .models import ImportIssue, ImportJob, ImportRow


def import_jobs(*, user) -> QuerySet[ImportJob]:
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


# ------------------------------------------------------------------------------------------- contents
def contents_visible(*, user, job: ImportJob) -> bool:
    """May the user see the rows of this (visible) job and the customers it wrote?"""
    return job.owner_id == user.pk or Access.of(user).is_superuser


def import_job_contents(*, user, pk) -> ImportJob:
    """One import whose rows the user may see: Http404 out of scope, PermissionDenied for the job of someone
    else in scope (they see that it exists, with its counts)."""
    job = import_job(user=user, pk=pk)
    if not contents_visible(user=user, job=job):
        raise PermissionDenied(_("Only the user who uploaded this import can see its rows."))
    return job


def import_issues(*, user, job: ImportJob, phase: str) -> QuerySet[ImportIssue]:
    """The rows not imported (or in part) in this phase, in file order; none for other viewers."""
    if not contents_visible(user=user, job=job):
        return ImportIssue.objects.none()
    return job.issues.filter(phase=phase).order_by("row_number")


def import_preview(*, user, job: ImportJob) -> dict:
    """The preview: its counts for every viewer, its sample of rows for those who may see the contents."""
    preview = job.preview or {}
    if contents_visible(user=user, job=job):
        return preview
    return {"counts": preview.get("counts", {})} if preview else {}


def import_written(*, user, job: ImportJob, limit: int = 20) -> tuple[list[ImportRow], int]:
    """The first customers the job wrote that the user may (still) see, and how many it wrote."""
    if not contents_visible(user=user, job=job):
        return [], 0
    written = ImportRow.objects.filter(job=job, customer__isnull=False)
    # ids first: a join with the scope is slow at scale
    rows = list(written.select_related("customer").order_by("row_number")[:limit])
    visible = set(
        customer_list(user=user).filter(pk__in=[r.customer_id for r in rows]).values_list("pk", flat=True)
    )
    return [r for r in rows if r.customer_id in visible], written.count()


def written_customer_ids(*, user, job_id) -> QuerySet:
    """Ids of the customers an import wrote, for the customer list's "import" filter (the list applies the
    user's scope); none unless the user may see the job's contents."""
    job = import_jobs(user=user).filter(pk=job_id).first()
    if job is None or not contents_visible(user=user, job=job):
        return ImportRow.objects.none().values("customer_id")
    return ImportRow.objects.filter(job=job).values("customer_id")
