"""The life of an import job: upload, mapping, preview (dry run), run, cancel, resume, undo.

These services check rights and the job's status and change its state; the passes themselves run in a
worker (worker.py), started through django-tasks after the transaction commits.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.access import Access
from kehu.core.models import Action, AuditAction, CustomField, Role

from .. import normalize
from ..models import Customer, Kind
from . import mapping, reader
from .models import (
    EDITABLE,
    WORKING,
    DuplicatePolicy,
    ImportFile,
    ImportIssue,
    ImportJob,
    ImportMode,
    ImportRow,
    ImportStatus,
    IssuePhase,
    MatchOn,
    RowAction,
    lease,
)

log = logging.getLogger(__name__)

DEFAULT_OPTIONS = {
    "mode": ImportMode.CREATE,
    "match_on": MatchOn.PHONE_OR_EMAIL,
    "duplicates": DuplicatePolicy.SKIP,
    "default_kind": Kind.ORGANIZATION,
}
OPTION_CHOICES = {
    "mode": ImportMode,
    "match_on": MatchOn,
    "duplicates": DuplicatePolicy,
    "default_kind": Kind,
}


# ------------------------------------------------------------------------------------------- rights
def check_rights(user, options: dict | None = None) -> None:
    access = Access.of(user)
    if not access.can(Action.IMPORT, Customer):
        raise PermissionDenied(_("You do not have the import right on customers."))
    mode = (options or {}).get("mode")
    if mode in (ImportMode.CREATE, ImportMode.UPSERT) and not access.can(Action.ADD, Customer):
        raise PermissionDenied(_("Creating customers needs the add right on customers."))
    if mode in (ImportMode.UPSERT, ImportMode.UPDATE) and not access.can(Action.CHANGE, Customer):
        raise PermissionDenied(_("Updating customers needs the change right on customers."))


def _require_actor(job: ImportJob, by) -> None:
    check_rights(by)
    if job.owner_id != by.pk and not Access.of(by).is_superuser:
        raise PermissionDenied(_("Only the user who uploaded this import can change it."))


def _require_status(job: ImportJob, allowed, message: str) -> None:
    if job.status not in allowed:
        raise ValidationError(message % {"status": job.get_status_display()})


def _enqueue(job: ImportJob) -> None:
    from .tasks import import_work

    job_id = job.pk
    transaction.on_commit(lambda: import_work.enqueue(job_id))


def _locked(job: ImportJob) -> ImportJob:
    return ImportJob.objects.select_for_update().get(pk=job.pk)


def _refresh(job: ImportJob, locked: ImportJob) -> ImportJob:
    job.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return job


def _close(job: ImportJob, status: str) -> None:
    job.status, job.finished_at = status, timezone.now()
    job.lease_token, job.lease_until, job.cancel_requested = "", None, False


# ------------------------------------------------------------------------------------------- upload
def _describe(
    data: bytes, file_name: str, encoding: str, delimiter: str, sheet: str, header_row: int = 0
) -> reader.FileInfo:
    try:
        return reader.inspect(
            data, file_name, encoding=encoding, delimiter=delimiter, sheet=sheet, header_row=header_row
        )
    except reader.FileProblem as exc:
        raise ValidationError({"file": [str(exc)]}) from None


def import_upload(
    *, by, file_name: str, data: bytes, encoding: str = "auto", delimiter: str = "auto", sheet: str = ""
) -> ImportJob:
    """Check a file completely and keep it with a new job; columns get suggested targets. FileProblems
    become ValidationError({"file": [message]})."""
    check_rights(by)
    info = _describe(data, file_name, encoding, delimiter, sheet)
    targets = mapping.targets_for(by)
    suggested, options = _last_mapping(by, info.headers, targets)
    with transaction.atomic():
        job = ImportJob.objects.create(
            owner=by,
            file_name=(file_name or "import")[:255],
            file_format=info.fmt,
            file_size=len(data),
            encoding=info.encoding,
            delimiter=info.delimiter,
            sheets=info.sheets,
            sheet=info.sheet,
            headers=info.headers,
            total_rows=info.total_rows,
            samples=info.samples,
            header_row=info.header_row,
            date_orders=info.date_orders,
            distinct_values=info.distinct,
            mapping=suggested,
            options=options,
            language=translation.get_language() or settings.LANGUAGE_CODE,
        )
        ImportFile.objects.create(job=job, content=data, sha256=hashlib.sha256(data).hexdigest())
    return job


def _last_mapping(user, headers: list[str], targets) -> tuple[list[str], dict]:
    """The mapping template of a file: the mapping, options and value maps of the user's last import of a file
    with the same columns (what they may still write), else the suggestions from the header names."""
    previous = (
        ImportJob.objects.filter(owner=user, headers=headers)
        .exclude(status__in=(ImportStatus.UPLOADED, ImportStatus.CANCELLED))
        .exclude(mapping=[])
        .order_by("-created_at", "-pk")
        .only("mapping", "options")
        .first()
        if headers
        else None
    )
    if previous is None or len(previous.mapping) != len(headers):
        return mapping.suggest(headers, targets), dict(DEFAULT_OPTIONS)
    allowed = {t.key for t in targets}
    kept = [key if key in allowed else "" for key in previous.mapping]
    options = {k: v for k, v in (previous.options or {}).items() if k in (*DEFAULT_OPTIONS, "value_maps")}
    options["value_maps"] = {k: v for k, v in (options.get("value_maps") or {}).items() if k in allowed}
    return kept, {**DEFAULT_OPTIONS, **options}


def file_info(job: ImportJob) -> reader.FileInfo:
    return reader.FileInfo(
        fmt=job.file_format,
        encoding=job.encoding,
        delimiter=job.delimiter,
        sheets=job.sheets,
        sheet=job.sheet,
        headers=job.headers,
        total_rows=job.total_rows,
        header_row=job.header_row,
    )


def file_content(job: ImportJob) -> bytes:
    return bytes(ImportFile.objects.values_list("content", flat=True).get(job_id=job.pk))


def import_reread(
    *,
    job: ImportJob,
    by,
    encoding: str = "auto",
    delimiter: str = "auto",
    sheet: str = "",
    header_row: int = 0,
) -> ImportJob:
    """Read the file again with another encoding, delimiter, sheet or header row (0: detect it) — new
    headers, new suggestions."""
    _require_actor(job, by)
    info = _describe(file_content(job), job.file_name, encoding, delimiter, sheet, header_row)
    with transaction.atomic():
        locked = _locked(job)
        _require_status(locked, EDITABLE, _("The file can no longer be changed: the import is %(status)s."))
        same = info.headers == locked.headers
        locked.encoding, locked.delimiter, locked.sheet = info.encoding, info.delimiter, info.sheet
        locked.headers, locked.total_rows, locked.samples = info.headers, info.total_rows, info.samples
        locked.header_row, locked.date_orders = info.header_row, info.date_orders
        locked.distinct_values = info.distinct
        if not same:
            locked.mapping = mapping.suggest(info.headers, mapping.targets_for(by))
        locked.status, locked.preview, locked.updated_at = ImportStatus.UPLOADED, {}, timezone.now()
        locked.save()
    return _refresh(job, locked)


def clean_options(options: dict) -> dict:
    result: dict[str, Any] = dict(DEFAULT_OPTIONS)
    errors: dict[str, list] = {}
    for key, choices in OPTION_CHOICES.items():
        value = options.get(key, result[key])
        if value not in choices.values:
            errors[key] = [
                _("“%(value)s” is not one of: %(choices)s.")
                % {"value": value, "choices": ", ".join(choices.values)}
            ]
        result[key] = value
    orders = options.get("date_orders") or {}
    if not isinstance(orders, dict) or any(v not in ("", *normalize.DATE_ORDERS) for v in orders.values()):
        errors["date_orders"] = [
            _("The day/month order of a column is one of: %(choices)s.")
            % {"choices": ", ".join(normalize.DATE_ORDERS)}
        ]
    else:
        result["date_orders"] = {str(k): v for k, v in orders.items() if v}
    if isinstance(options.get("value_maps"), dict):
        result["value_maps"] = options["value_maps"]  # checked against the targets by import_configure
    if errors:
        raise ValidationError(errors)
    return result


def import_configure(*, job: ImportJob, by, mapping_: list[str], options: dict) -> ImportJob:
    """Save the column mapping and options after checking them against the user's field rights."""
    _require_actor(job, by)
    options = clean_options(options)
    check_rights(by, options)
    mapping_ = [str(m or "") for m in mapping_]
    targets = mapping.targets_for(by)
    problems = mapping.validate(mapping_, job.headers, targets, options)
    if problems:
        raise ValidationError({"mapping": problems})
    if "value_maps" not in options:  # the mapping page keeps the values mapped before
        options["value_maps"] = (job.options or {}).get("value_maps") or {}
    try:
        options["value_maps"], _created = mapping.clean_value_maps(
            options["value_maps"], targets, may_create=False
        )
    except ValidationError as exc:
        raise ValidationError({"value_maps": exc.messages}) from None
    with transaction.atomic():
        locked = _locked(job)
        _require_status(
            locked, EDITABLE, _("The mapping can no longer be changed: the import is %(status)s.")
        )
        locked.mapping, locked.options = mapping_, options
        locked.status, locked.preview, locked.updated_at = ImportStatus.MAPPED, {}, timezone.now()
        locked.save()
    return _refresh(job, locked)


def import_map_values(*, job: ImportJob, by, value_maps: dict) -> ImportJob:
    """Save how the values of the choice columns are read: {target: {file value: Kehu choice, '' to leave it
    empty, or '+' to create it as a new option of a custom choice field (administrators)}}. Merged into the
    values mapped before; the preview has to be made again."""
    _require_actor(job, by)
    targets = mapping.targets_for(by)
    access = Access.of(by)
    may_create = access.is_superuser or access.can(Action.CHANGE, Role)
    cleaned, created = mapping.clean_value_maps(value_maps, targets, may_create=may_create)
    with transaction.atomic():
        locked = _locked(job)
        _require_status(
            locked, EDITABLE, _("The mapping can no longer be changed: the import is %(status)s.")
        )
        if locked.status == ImportStatus.UPLOADED:
            raise ValidationError(_("Save the mapping of the columns first."))
        for key, options in created.items():
            definition = CustomField.objects.select_for_update().get(model="customers.customer", key=key)
            before = audit.snapshot(definition)
            definition.choices = [*definition.choices, *(o for o in options if o not in definition.choices)]
            definition.save(update_fields=["choices"])
            audit.log(
                actor=by,
                action=AuditAction.UPDATE,
                instance=definition,
                changes=audit.diff(before, audit.snapshot(definition)),
                note=locked.note,
            )
        maps = dict((locked.options or {}).get("value_maps") or {})
        for key, values in cleaned.items():
            maps[key] = {**maps.get(key, {}), **values}
        locked.options = {**(locked.options or {}), "value_maps": maps}
        locked.status, locked.preview, locked.updated_at = ImportStatus.MAPPED, {}, timezone.now()
        locked.save()
    return _refresh(job, locked)


# ------------------------------------------------------------------------------------------- passes
def import_preview(*, job: ImportJob, by) -> ImportJob:
    """Start the dry run: every row is validated as the run would, nothing is written but the findings."""
    _require_actor(job, by)
    with transaction.atomic():
        locked = _locked(job)
        _require_status(
            locked,
            (ImportStatus.MAPPED, ImportStatus.READY),
            _("Save the mapping first (the import is %(status)s)."),
        )
        ImportIssue.objects.filter(job=locked, phase=IssuePhase.PREVIEW).delete()
        locked.status, locked.phase, locked.cursor = ImportStatus.PREVIEWING, IssuePhase.PREVIEW, 0
        locked.preview, locked.error, locked.cancel_requested = {}, "", False
        locked.lease_token, locked.lease_until, locked.updated_at = "", None, timezone.now()
        locked.save()
        _enqueue(locked)
    return _refresh(job, locked)


def import_start(*, job: ImportJob, by) -> ImportJob:
    """Queue the real run (the worker re-checks rights and mapping when it starts)."""
    _require_actor(job, by)
    check_rights(by, job.options)
    problems = mapping.validate(job.mapping, job.headers, mapping.targets_for(by), job.options)
    if problems:
        raise ValidationError({"mapping": problems})
    with transaction.atomic():
        locked = _locked(job)
        _require_status(
            locked,
            (ImportStatus.MAPPED, ImportStatus.READY),
            _("This import cannot be started: it is %(status)s."),
        )
        locked.status, locked.phase, locked.cursor = ImportStatus.QUEUED, IssuePhase.RUN, 0
        locked.error, locked.cancel_requested = "", False
        locked.lease_token, locked.lease_until, locked.updated_at = "", None, timezone.now()
        locked.save()
        _enqueue(locked)
    return _refresh(job, locked)


def import_cancel(*, job: ImportJob, by) -> ImportJob:
    """Stop an import. Rows already imported stay (and can be undone); a worker stops after its batch."""
    _require_actor(job, by)
    with transaction.atomic():
        locked = _locked(job)
        status, phase = locked.status, locked.phase
        if status in EDITABLE:
            locked.status = ImportStatus.CANCELLED  # nothing was written
        elif status == ImportStatus.PREVIEWING or (
            status == ImportStatus.FAILED and phase == IssuePhase.PREVIEW
        ):
            if locked.is_stalled or status == ImportStatus.FAILED:
                locked.status, locked.lease_token, locked.lease_until = ImportStatus.MAPPED, "", None
            else:
                locked.cancel_requested = True
        elif status in (ImportStatus.QUEUED, ImportStatus.RUNNING) or (
            status == ImportStatus.FAILED and phase == IssuePhase.RUN
        ):
            if locked.is_stalled or status == ImportStatus.FAILED:
                _close(locked, ImportStatus.CANCELLED)
            else:
                locked.cancel_requested = True
        else:
            raise ValidationError(
                _("This import cannot be cancelled: it is %(status)s.")
                % {"status": locked.get_status_display()}
            )
        locked.updated_at = timezone.now()
        locked.save()
    return _refresh(job, locked)


def import_resume(*, job: ImportJob, by) -> ImportJob:
    """Continue a failed pass, or one whose worker died (its lease ran out), after the last committed row."""
    _require_actor(job, by)
    with transaction.atomic():
        locked = _locked(job)
        if locked.status == ImportStatus.FAILED:
            locked.status = {
                IssuePhase.PREVIEW: ImportStatus.PREVIEWING,
                "undo": ImportStatus.UNDOING,
            }.get(locked.phase, ImportStatus.RUNNING)
            locked.error = ""
        elif not locked.is_stalled:
            raise ValidationError(
                _("This import is not stalled: it is %(status)s.") % {"status": locked.get_status_display()}
            )
        locked.lease_token, locked.lease_until, locked.updated_at = "", None, timezone.now()
        locked.save()
        _enqueue(locked)
    return _refresh(job, locked)


def imports_resume_stalled() -> int:
    """Re-enqueue every job whose worker died (for `manage.py resume_imports`, e.g. every few minutes)."""
    now = timezone.now()
    stalled = list(
        ImportJob.objects.filter(status__in=WORKING).filter(
            Q(lease_until__lt=now) | Q(lease_until__isnull=True, updated_at__lt=now - lease())
        )
    )
    from .tasks import import_work

    for job in stalled:
        import_work.enqueue(job.pk)
    return len(stalled)


def import_undo(*, job: ImportJob, by) -> ImportJob:
    """Delete the customers this import created, through the record service (audited), except those changed
    or referenced since — those are kept and listed with the reason."""
    _require_actor(job, by)
    if not Access.of(by).can(Action.DELETE, Customer):
        raise PermissionDenied(_("Undoing an import needs the delete right on customers."))
    with transaction.atomic():
        locked = _locked(job)
        _require_status(
            locked,
            (ImportStatus.DONE, ImportStatus.CANCELLED, ImportStatus.FAILED),
            _("Only a finished or cancelled import can be undone (this one is %(status)s)."),
        )
        if locked.status == ImportStatus.FAILED and locked.phase != IssuePhase.RUN:
            raise ValidationError(
                _("Only a finished or cancelled import can be undone (this one is %(status)s).")
                % {"status": locked.get_status_display()}
            )
        locked.status, locked.phase, locked.cursor, locked.undo_by = ImportStatus.UNDOING, "undo", 0, by
        locked.error, locked.lease_token, locked.lease_until, locked.updated_at = "", "", None, timezone.now()
        locked.save()
        _enqueue(locked)
    return _refresh(job, locked)


def changed_since_import(job: ImportJob) -> int:
    """Customers this import created that were changed since (an undo keeps them)."""
    return (
        ImportRow.objects.filter(job=job, action=RowAction.CREATED, customer__isnull=False)
        .exclude(customer__version=F("version_after"))
        .count()
    )


__all__ = [
    "import_upload",
    "import_reread",
    "import_map_values",
    "import_configure",
    "import_preview",
    "import_start",
    "import_cancel",
    "import_resume",
    "import_undo",
    "imports_resume_stalled",
]
