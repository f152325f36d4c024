"""The worker side of an import: one pass (preview, run or undo) of a job, batch by batch.

Workers claim a job with one conditional UPDATE (a lease: token + expiry), so two workers never work on the
same job; each batch is one transaction that first re-reads the job row under a row lock and checks the lease
is still its own, then writes the batch's rows, their ImportRow entries (unique per job and row number: the
idempotency key) and the advanced cursor together. A worker killed mid-batch leaves nothing of that batch; the
next worker (after the lease ran out, or `import_resume`) continues after the last committed row, so no row is
lost and none is written twice. Row errors are collected, never raised: they do not stop the file.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit, records
from kehu.core.access import Access
from kehu.core.exceptions import StaleRecordError
from kehu.core.models import Action, AuditAction
from kehu.core.services import notify

from ..models import Customer
from . import mapping, reader, writer
from .models import WORKING, ImportIssue, ImportJob, ImportRow, ImportStatus, RowAction, lease
from .rows import Planner
from .services import _close, check_rights, file_content, file_info

log = logging.getLogger(__name__)

PREVIEW_ROWS = 20


def batch_size() -> int:
    return getattr(settings, "KEHU_IMPORT_BATCH", 500)


def row_seconds() -> float:
    """Time allowed per row written one by one (updates, undo's deletes; about 0.05 s each on PostgreSQL):
    a batch's lease grows by it, so a slow batch is never taken for a dead worker."""
    return float(getattr(settings, "KEHU_IMPORT_ROW_SECONDS", 1))


class LeaseLost(Exception):
    """Another worker took the job over (this one was too slow or presumed dead): stop without writing."""


# ------------------------------------------------------------------------------------------- worker
def import_job_work(job_id: int, *, max_batches: int | None = None) -> str:
    """Run the job's current pass (preview, run or undo) if no other worker holds it. Returns what happened:
    done, paused (max_batches reached), cancelled, not claimed, lease lost, failed."""
    token = uuid.uuid4().hex
    if not claim(job_id, token):
        return "not claimed"
    job = ImportJob.objects.select_related("owner", "undo_by").get(pk=job_id)
    with translation.override(job.language or settings.LANGUAGE_CODE):
        try:
            if job.status == ImportStatus.UNDOING:
                return _undo_pass(job, token, max_batches)
            return _import_pass(job, token, max_batches)
        except LeaseLost:
            return "lease lost"
        except Exception as exc:  # noqa: BLE001 - recorded on the job; the pass can be resumed
            reference = uuid.uuid4().hex[:8]
            log.exception("import %s failed (reference %s)", job_id, reference)
            if isinstance(exc, ValidationError):
                message = "; ".join(exc.messages)
            elif isinstance(exc, PermissionDenied):
                message = str(exc)
            else:
                # the exception's text may hold SQL, values or paths: it goes to the log, the user gets a
                # reference to it
                message = _(
                    "The import stopped because of an unexpected error (%(type)s, reference %(ref)s). The "
                    "rows before it are saved: resume the import, or give the reference to an administrator."
                ) % {"type": type(exc).__name__, "ref": reference}
            ImportJob.objects.filter(pk=job_id, lease_token=token).update(
                status=ImportStatus.FAILED,
                error=message[:2000],
                lease_token="",
                lease_until=None,
                updated_at=timezone.now(),
            )  # nosec B106 - reviewed: an empty value, not a password
            return "failed"


def claim(job_id: int, token: str) -> bool:
    """Take a job nobody holds (or whose holder's lease ran out) with one conditional UPDATE."""
    now = timezone.now()
    return bool(
        ImportJob.objects.filter(pk=job_id, status__in=WORKING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_token=token, lease_until=now + lease(), updated_at=now)
    )


def _extend(job_id: int, token: str, slow_rows: int) -> None:
    """Before a batch's transaction, in a committed UPDATE of its own: hold the job for as long as the batch
    may take (the lease plus `row_seconds` per row written one by one), so that pages, `resume_imports` and
    other workers see a live worker while it writes; a renewal inside the batch's transaction would stay
    invisible until it commits. Stops here if another worker holds the job now; the batch still re-checks the
    token under the job's row lock."""
    until = timezone.now() + lease() + dt.timedelta(seconds=row_seconds() * slow_rows)
    if not ImportJob.objects.filter(pk=job_id, lease_token=token).update(lease_until=until):
        raise LeaseLost


def _lock(job_id: int, token: str, cursor: int | None = None) -> ImportJob:
    """The job row, locked, if this worker still holds it (and, given `cursor`, nobody moved it since)."""
    locked = ImportJob.objects.select_for_update().get(pk=job_id)
    if locked.lease_token != token or (cursor is not None and locked.cursor != cursor):
        raise LeaseLost
    return locked


def _summary(job: ImportJob) -> str:
    return _(
        "%(created)d created, %(updated)d updated, %(unchanged)d unchanged, %(skipped)d skipped, "
        "%(failed)d with errors"
    ) % {
        "created": job.created,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "skipped": job.skipped,
        "failed": job.failed,
    }


def _announce(job: ImportJob, title: str, body: str, note: str, changes: dict, *, undo: bool = False) -> None:
    audit.log(
        actor=job.undo_by if undo else job.owner,
        action=AuditAction.IMPORT,
        model="customers.customer",
        object_id="*",
        object_repr=job.file_name[:200],
        changes=changes,
        note=note,
    )
    notify(
        user=job.owner,
        title=title,
        body=body,
        url=job.get_absolute_url(),
        dedup_key=f"import-{job.pk}:{job.status}",
    )


def _chunks(iterable, size: int):
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _sample(planner: Planner, plans) -> list[dict]:
    mapped = [i for i, key in enumerate(planner.mapping) if key]
    sample = []
    for plan in plans:
        errors: dict[str, list[str]] = {}
        messages = []
        for problem in plan.problems:
            if problem.column is not None:
                errors.setdefault(str(problem.column), []).append(problem.message)
            else:
                messages.append(problem.message)
        if plan.note:
            messages.append(plan.note)
        messages += [w.message for w in plan.warnings]
        for found in plan.duplicates:
            messages.append(_("Will be flagged for duplicate review.") + " " + Planner.describe(found))
        sample.append(
            {
                "row": plan.number,
                "action": plan.action,
                "cells": [plan.cells[i] if i < len(plan.cells) else "" for i in mapped],
                "errors": [errors.get(str(i), []) for i in mapped],
                "messages": messages,
            }
        )
    return sample


def _import_pass(job: ImportJob, token: str, max_batches: int | None) -> str:
    dry = job.status == ImportStatus.PREVIEWING
    if job.status == ImportStatus.QUEUED:
        ImportJob.objects.filter(pk=job.pk, lease_token=token).update(
            status=ImportStatus.RUNNING, started_at=timezone.now()
        )
        job.status = ImportStatus.RUNNING
    user = job.owner
    check_rights(user, job.options)
    problems = mapping.validate(job.mapping, job.headers, mapping.targets_for(user), job.options)
    if problems:
        raise ValidationError(problems)
    planner = Planner(job, user)
    cursor = job.cursor
    content, info = file_content(job), file_info(job)
    if dry and cursor:
        # a resumed preview: plan the rows before the cursor again (nothing is written) so that the planner
        # knows what they do; a resumed run finds them through their ImportRow (earlier.py)
        done = itertools.islice(reader.iter_rows(content, info), cursor)
        for chunk in _chunks(done, batch_size()):
            planner.plan(chunk)
            _extend(job.pk, token, 0)
        planner.take_formats()  # counted when those rows were previewed
    rows = reader.iter_rows(content, info, skip=cursor)
    for batches, chunk in enumerate(_chunks(rows, batch_size()), start=1):
        plans = planner.plan(chunk)
        _extend(job.pk, token, 0 if dry else sum(p.action == "update" for p in plans))
        with transaction.atomic():
            locked = _lock(job.pk, token, cursor)
            if locked.cancel_requested:
                if dry:
                    locked.status, locked.cursor, locked.preview = ImportStatus.MAPPED, 0, {}
                    locked.lease_token, locked.lease_until, locked.cancel_requested = "", None, False
                else:
                    _close(locked, ImportStatus.CANCELLED)
                    _announce(
                        locked,
                        _("Import #%(id)d cancelled") % {"id": locked.pk},
                        _summary(locked),
                        locked.note,
                        _counts(locked),
                    )
                locked.save()
                return "cancelled"
            if dry:
                result = writer.dry_run(planner, plans)
                preview = locked.preview or {}
                counts = preview.get("counts", {})
                for key, n in result.counts.items():
                    counts[key] = counts.get(key, 0) + n
                sample = preview.get("sample", [])
                room = PREVIEW_ROWS - len(sample)
                if room > 0:
                    sample += _sample(planner, plans[:room])
                formats = preview.get("formats", {})
                for index, seen in planner.take_formats().items():
                    column = formats.setdefault(str(index), {})
                    for code, n in seen.items():
                        column[code] = column.get(code, 0) + n
                locked.preview = {"counts": counts, "sample": sample, "formats": formats}
            else:
                result = writer.write(planner, plans)
                for key, n in result.counts.items():
                    setattr(locked, key, getattr(locked, key) + n)
            ImportIssue.objects.bulk_create(result.issues)
            locked.cursor = cursor = cursor + len(chunk)
            locked.lease_until = timezone.now() + lease()
            locked.updated_at = timezone.now()
            locked.save()
        if max_batches and batches >= max_batches and locked.cursor < job.total_rows:
            ImportJob.objects.filter(pk=job.pk, lease_token=token).update(lease_token="", lease_until=None)  # nosec B106 - reviewed: an empty value, not a password
            return "paused"
    with transaction.atomic():
        locked = _lock(job.pk, token)
        if dry:
            locked.status = ImportStatus.READY
            locked.lease_token, locked.lease_until = "", None
        else:
            _close(locked, ImportStatus.DONE)
            _announce(
                locked,
                _("Import #%(id)d finished: %(file)s") % {"id": locked.pk, "file": locked.file_name},
                _summary(locked),
                locked.note,
                _counts(locked),
            )
        locked.updated_at = timezone.now()
        locked.save()
    return "done"


def _counts(job: ImportJob) -> dict:
    return {k: getattr(job, k) for k in ("created", "updated", "unchanged", "skipped", "flagged", "failed")}


# ------------------------------------------------------------------------------------------- undo
# rows the import wrote together with each customer: deleted with it
OWN_ROWS = {
    "customers.customerphone",
    "customers.customeremail",
    "customers.customeraddress",
    "customers.socialidentity",
    "customers.consentevent",
    "customers.lifecyclechange",
    "customers.customer_tags",
    "customers.duplicatecandidate",
    "customers.importrow",
}


def _references(ids: list[int]) -> tuple[dict[int, str], dict[int, set[int]]]:
    """Who points at the customers `ids`: other kinds of records (an interaction, a product unit...) by
    customer, and customers (contacts of an account, branches) as {customer: {ids of the referring ones}}."""
    from ..merge import _customer_fks

    others: dict[int, str] = {}
    referrers: dict[int, set[int]] = {}
    for model, fk in _customer_fks():
        label = model._meta.label_lower
        if label in OWN_ROWS:
            continue
        qs = model._base_manager.filter(**{f"{fk.name}__in": ids})
        if model is Customer:
            for referrer, pk in qs.values_list("pk", fk.attname):
                referrers.setdefault(pk, set()).add(referrer)
            continue
        for pk in qs.values_list(fk.attname, flat=True).distinct():
            others.setdefault(pk, str(model._meta.verbose_name_plural))
    return others, referrers


def _undo_pass(job: ImportJob, token: str, max_batches: int | None) -> str:
    user = job.undo_by or job.owner
    if not Access.of(user).can(Action.DELETE, Customer):
        raise PermissionDenied(_("Undoing an import needs the delete right on customers."))
    batches = 0
    note = _("undo of %(import)s") % {"import": job.note}
    customers_label = str(Customer._meta.verbose_name_plural)
    while True:
        # the last rows first: a contact names an account that existed when its row was planned (an earlier
        # row), so whoever refers to a created customer comes before it and is deleted (or kept) first
        rows = list(
            ImportRow.objects.filter(
                job=job, action=RowAction.CREATED, customer__isnull=False, kept_reason=""
            ).order_by("-row_number")[: batch_size()]
        )
        if not rows:
            break
        _extend(job.pk, token, len(rows))
        with transaction.atomic():
            locked = _lock(job.pk, token)
            ids = [r.customer_id for r in rows]
            # lock them all, in id order (no deadlock with another undo or a merge), before looking for references
            customers = {
                c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk")
            }
            others, referrers = _references(ids)
            deleted: set[int] = set()
            for row in rows:
                customer = customers.get(row.customer_id)
                reason = ""
                if customer is None:  # deleted meanwhile by someone else: nothing left to undo
                    ImportRow.objects.filter(pk=row.pk).update(customer=None)
                    continue
                # only the customers this undo deletes may refer to it: deleting it under a kept contact (or
                # an existing customer the import updated) would change that one without audit or version
                kept_referrers = referrers.get(customer.pk, set()) - deleted
                if customer.merged_into_id:  # (a merge changes the version too: say the specific reason)
                    reason = _("merged into another customer since the import")
                elif customer.version != row.version_after:
                    reason = _(
                        "changed since the import (version %(now)d; the import left version %(then)d)"
                    ) % {
                        "now": customer.version,
                        "then": row.version_after,
                    }
                elif customer.pk in others:
                    reason = _("other records refer to it (%(what)s)") % {"what": others[customer.pk]}
                elif kept_referrers:
                    reason = _("other records refer to it (%(what)s)") % {"what": customers_label}
                if not reason:
                    try:
                        with transaction.atomic():
                            records.record_delete(
                                instance=customer, by=user, expected_version=row.version_after, note=note
                            )
                        locked.undone += 1
                        deleted.add(customer.pk)
                        continue
                    except StaleRecordError:
                        reason = _("changed since the import")
                    except Http404:
                        reason = _("not visible to you")
                    except (ValidationError, PermissionDenied) as exc:
                        reason = "; ".join(getattr(exc, "messages", [str(exc)]))
                # never empty: an empty reason would leave the row in the queue and the loop would not end
                reason = reason.strip() or _("it could not be deleted")
                ImportRow.objects.filter(pk=row.pk).update(kept_reason=reason[:300])
                locked.kept += 1
            locked.cursor += len(rows)
            locked.lease_until = timezone.now() + lease()
            locked.save()
        batches += 1
        if max_batches and batches >= max_batches:
            ImportJob.objects.filter(pk=job.pk, lease_token=token).update(lease_token="", lease_until=None)  # nosec B106 - reviewed: an empty value, not a password
            return "paused"
    with transaction.atomic():
        locked = _lock(job.pk, token)
        _close(locked, ImportStatus.UNDONE)
        _announce(
            locked,
            _("Import #%(id)d undone") % {"id": locked.pk},
            _("%(undone)d customers deleted, %(kept)d kept") % {"undone": locked.undone, "kept": locked.kept},
            note,
            {"undone": locked.undone, "kept": locked.kept},
            undo=True,
        )
        locked.save()
    return "done"
