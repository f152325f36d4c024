"""Import jobs, their uploaded file, the rows they wrote and the rows they could not import.

An ImportJob is an operation record (like a MergeRecord), not a business record: who may see it follows from
the customers grant — the import right, and the customers read scope applied to the job's owner
(selectors.import_jobs). The records it writes are ordinary customers, written through the customer services.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


def lease() -> dt.timedelta:
    """How long a worker's claim on a job lasts without progress before another worker may take it over."""
    return dt.timedelta(seconds=getattr(settings, "KEHU_IMPORT_LEASE_SECONDS", 300))


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Waiting for the column mapping")
    MAPPED = "mapped", _("Mapped")
    PREVIEWING = "previewing", _("Checking")
    READY = "ready", _("Ready to import")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")
    FAILED = "failed", _("Failed")
    UNDOING = "undoing", _("Undoing")
    UNDONE = "undone", _("Undone")


#: statuses in which a worker has something to do
WORKING = (ImportStatus.PREVIEWING, ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.UNDOING)
#: statuses in which the mapping and options may still change
EDITABLE = (ImportStatus.UPLOADED, ImportStatus.MAPPED, ImportStatus.READY)


class ImportMode(models.TextChoices):
    CREATE = "create", _("Create new customers only")
    UPSERT = "upsert", _("Create new customers and update matching ones")
    UPDATE = "update", _("Only update matching customers")


class MatchOn(models.TextChoices):
    ID = "id", _("Customer id")
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    PHONE_OR_EMAIL = "phone_email", _("Phone, then email")


class DuplicatePolicy(models.TextChoices):
    SKIP = "skip", _("Skip rows that look like an existing customer")
    FLAG = "flag", _("Import them and flag them for duplicate review")
    ALLOW = "allow", _("Import them anyway")


class ImportJob(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("imported by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    # the file
    file_name = models.CharField(_("file name"), max_length=255)
    file_format = models.CharField(_("format"), max_length=4)  # csv | xlsx
    file_size = models.PositiveIntegerField(_("size"), default=0)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=2, blank=True)
    sheet = models.CharField(_("sheet"), max_length=100, blank=True)
    sheets = models.JSONField(default=list, blank=True)
    headers = models.JSONField(default=list, blank=True)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    #: kept when the file is read, so that the mapping page never reads the file again
    samples = models.JSONField(default=list, blank=True, help_text="the first values of each column")
    #: the row that names the columns, as the spreadsheet numbers it (0: the first non-blank row, old jobs)
    header_row = models.PositiveIntegerField(_("header row"), default=0)
    #: per column, what its day/month dates say: dmy, mdy, ask, mixed or '' (reader._column_order)
    date_orders = models.JSONField(default=list, blank=True)
    #: per column, its distinct values and counts (the first reader.DISTINCT_VALUES): the value-mapping step
    distinct_values = models.JSONField(default=list, blank=True)
    # what to do with it
    mapping = models.JSONField(default=list, blank=True, help_text="one target key (or '') per column")
    options = models.JSONField(default=dict, blank=True)
    language = models.CharField(max_length=10, blank=True)
    #: the pass a worker runs or last ran: preview (dry run), run, undo
    phase = models.CharField(max_length=8, blank=True)
    undo_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # progress of the current pass (preview, run or undo); a pass commits `cursor` with each batch
    cursor = models.PositiveIntegerField(default=0)
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    preview = models.JSONField(default=dict, blank=True)
    # results of the run
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    flagged = models.PositiveIntegerField(_("flagged as possible duplicates"), default=0)
    failed = models.PositiveIntegerField(_("rows with errors"), default=0)
    undone = models.PositiveIntegerField(_("deleted by undo"), default=0)
    kept = models.PositiveIntegerField(_("kept by undo"), default=0)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.file_name}"

    def get_absolute_url(self) -> str:
        return reverse("customers:import_detail", args=[self.pk])

    @property
    def note(self) -> str:
        """The audit note of every record this import writes (in the active language: the worker runs in
        the importer's)."""
        return gettext("import #%(id)d") % {"id": self.pk}

    @property
    def is_working(self) -> bool:
        return self.status in WORKING

    @property
    def is_stalled(self) -> bool:
        """Claimed by a worker whose lease ran out (killed), or waiting longer than a lease for a worker."""
        if self.status not in WORKING:
            return False
        now = timezone.now()
        if self.lease_until is not None:
            return self.lease_until < now
        return self.updated_at < now - lease()

    @property
    def progress_total(self) -> int:
        if self.status in (ImportStatus.UNDOING, ImportStatus.UNDONE):
            return self.created
        return self.total_rows

    @property
    def percent(self) -> int:
        total = self.progress_total
        if self.status in (ImportStatus.DONE, ImportStatus.READY, ImportStatus.UNDONE):
            return 100
        return min(100, round(self.cursor * 100 / total)) if total else 0


class ImportFile(models.Model):
    """The uploaded bytes, kept in the database: web and worker processes on any host read the same file, it
    commits with its job, and it is kept so that nothing the user sent is lost."""

    job = models.OneToOneField(ImportJob, on_delete=models.CASCADE, primary_key=True, related_name="file")
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"file of import {self.job_id}"


class RowAction(models.TextChoices):
    CREATED = "created", _("Created")
    UPDATED = "updated", _("Updated")
    UNCHANGED = "unchanged", _("Unchanged")


class ImportRow(models.Model):
    """A row the import wrote. (job, row number) is unique: the idempotency key of the import — a row can be
    written once, whatever happens to workers."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows")
    row_number = models.PositiveIntegerField()
    action = models.CharField(max_length=10, choices=RowAction.choices)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version_after = models.PositiveIntegerField(default=1)
    #: set by undo when the record had changed since the import and was kept
    kept_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "row_number"], name="uniq_import_row"),
        ]
        indexes = [models.Index(fields=["job", "action", "row_number"])]

    def __str__(self) -> str:
        return f"import {self.job_id} row {self.row_number}: {self.action}"


class IssuePhase(models.TextChoices):
    PREVIEW = "preview", _("Preview")
    RUN = "run", _("Import")


class IssueLevel(models.TextChoices):
    ERROR = "error", _("Error")
    SKIPPED = "skipped", _("Skipped")
    #: the row was imported, but part of it was left out (the messages say what and why)
    WARNING = "warning", _("Partly imported")


class ImportIssue(models.Model):
    """A row that was not imported (or only in part): its cells as read from the file and every reason, per
    column."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="issues")
    phase = models.CharField(max_length=8, choices=IssuePhase.choices)
    row_number = models.PositiveIntegerField()
    level = models.CharField(max_length=8, choices=IssueLevel.choices)
    messages = models.JSONField(default=list, help_text="[{column, field, message}]")
    values = models.JSONField(default=list)

    class Meta:
        ordering = ["row_number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "phase", "row_number"], name="uniq_import_issue"),
        ]

    def __str__(self) -> str:
        return f"import {self.job_id} row {self.row_number}: {self.level}"

    @property
    def text(self) -> str:
        return "; ".join(
            f"{m['column']}: {m['message']}" if m.get("column") else m["message"] for m in self.messages
        )
