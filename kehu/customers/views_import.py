"""Import pages: history, upload, column mapping, preview, progress, results, error report, template.
Thin: every read starts from the imports selector (import right + scope), every change calls a service."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core.access import Access
from kehu.core.models import Action, Role

from . import normalize
from .imports import mapping, reader, report, selectors, services
from .imports.forms import FileSettingsForm, MappingForm, UploadForm, ValueMappingForm
from .imports.models import EDITABLE, WORKING, ImportMode, ImportStatus, IssuePhase
from .models import Customer

FORMATS = {"csv", "xlsx"}
DELIMITER_NAMES = {",": ",", ";": ";", "\t": gettext_lazy("Tab"), "|": "|"}


def _require_import(request) -> None:
    if not Access.of(request.user).can(Action.IMPORT, Customer):
        raise PermissionDenied(_("You do not have the import right on customers."))


def _job(request, pk):
    _require_import(request)
    return selectors.import_job(user=request.user, pk=pk)


def _errors(exc) -> list[str]:
    if isinstance(exc, ValidationError):
        return exc.messages
    return [str(exc) or _("You may not do this.")]


def import_list(request):
    _require_import(request)
    page = Paginator(selectors.import_jobs(user=request.user), 25).get_page(request.GET.get("page"))
    return render(request, "customers/imports/list.html", {"page_obj": page, "title": _("Imports")})


def import_new(request):
    _require_import(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = services.import_upload(
                by=request.user,
                file_name=upload.name,
                data=upload.read(),
                encoding=form.cleaned_data["encoding"],
                delimiter=form.cleaned_data["delimiter"],
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error("file", _errors(exc))
        else:
            return redirect("customers:import_mapping", pk=job.pk)
    context = {
        "form": form,
        "title": _("Import customers"),
        "max_mb": reader.max_bytes() // 1048576,
        "max_rows": reader.max_rows(),
    }
    return render(request, "customers/imports/new.html", context, status=400 if form.errors else 200)


def _samples(job) -> list[list[str]]:
    """The first values of each column, to help mapping: kept on the job when the file was read (this page
    never reads the file itself)."""
    samples = job.samples or []
    return [samples[i] if i < len(samples) else [] for i in range(len(job.headers))]


def import_mapping(request, pk):
    job = _job(request, pk)
    if job.status not in EDITABLE:
        messages.info(request, _("The mapping of this import can no longer be changed."))
        return redirect(job)
    if not selectors.contents_visible(user=request.user, job=job):  # the page shows the file's values
        messages.info(request, _("Only the user who uploaded this import can map its columns."))
        return redirect(job)
    targets = mapping.targets_for(request.user)
    initial = (
        {f"col_{i}": key for i, key in enumerate(job.mapping)} | dict(services.DEFAULT_OPTIONS) | job.options
    )
    initial |= {f"date_order_{i}": order for i, order in (job.options.get("date_orders") or {}).items()}
    form = MappingForm(
        request.POST or None,
        headers=job.headers,
        targets=targets,
        date_orders=job.date_orders,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.import_configure(
                job=job, by=request.user, mapping_=form.mapping(), options=form.options()
            )
            if mapping.needs_values(job, targets):
                return redirect("customers:import_values", pk=job.pk)
            services.import_preview(job=job, by=request.user)
        except (ValidationError, PermissionDenied) as exc:
            for message in _errors(exc):
                form.add_error(None, message)
        else:
            return redirect(job)
    context = {
        "job": job,
        "form": form,
        "columns": list(zip(form.column_fields(), _samples(job), form.date_order_fields(), strict=True)),
        "settings_form": FileSettingsForm(
            initial={
                "encoding": "auto",
                "delimiter": next((k for k, v in reader.DELIMITERS.items() if v == job.delimiter), "auto"),
                "sheet": job.sheet,
                "header_row": job.header_row or None,
            }
        ),
        "title": _("Map the columns"),
        "delimiter_name": DELIMITER_NAMES.get(job.delimiter, job.delimiter),
    }
    return render(request, "customers/imports/mapping.html", context, status=400 if form.errors else 200)


def import_values(request, pk):
    """The value-mapping step: for each choice column, its distinct values with the Kehu choice each is read
    as (suggested by similarity; leave empty; administrators: create a custom field's new option)."""
    job = _job(request, pk)
    if job.status not in EDITABLE or job.status == ImportStatus.UPLOADED:
        return redirect(job)
    if not selectors.contents_visible(user=request.user, job=job):
        messages.info(request, _("Only the user who uploaded this import can map its columns."))
        return redirect(job)
    access = Access.of(request.user)
    form = ValueMappingForm(
        request.POST or None,
        columns=mapping.value_columns(job, mapping.targets_for(request.user)),
        chosen=(job.options or {}).get("value_maps") or {},
        may_create=access.is_superuser or access.can(Action.CHANGE, Role),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.import_map_values(job=job, by=request.user, value_maps=form.value_maps())
            services.import_preview(job=job, by=request.user)
        except (ValidationError, PermissionDenied) as exc:
            for message in _errors(exc):
                form.add_error(None, message)
        else:
            return redirect(job)
    context = {"job": job, "form": form, "title": _("Map the values")}
    return render(request, "customers/imports/values.html", context, status=400 if form.errors else 200)


@require_POST
def import_reread(request, pk):
    job = _job(request, pk)
    form = FileSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.import_reread(
                job=job,
                by=request.user,
                encoding=form.cleaned_data["encoding"] or "auto",
                delimiter=form.cleaned_data["delimiter"] or "auto",
                sheet=form.cleaned_data["sheet"],
                header_row=form.cleaned_data["header_row"] or 0,
            )
            messages.success(request, _("The file was read again."))
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, "; ".join(_errors(exc)))
    return redirect("customers:import_mapping", pk=job.pk)


ACTIONS = {
    "preview": services.import_preview,
    "start": services.import_start,
    "cancel": services.import_cancel,
    "resume": services.import_resume,
    "undo": services.import_undo,
}


@require_POST
def import_act(request, pk, action):
    job = _job(request, pk)
    try:
        ACTIONS[action](job=job, by=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "; ".join(_errors(exc)))
    else:
        messages.success(
            request,
            {
                "preview": _("Checking the rows…"),
                "start": _("The import has started."),
                "cancel": _("The import is being cancelled; rows already imported stay and can be undone."),
                "resume": _("The import continues after the last saved row."),
                "undo": _("Undoing the import…"),
            }[action],
        )
    return redirect(job)


def _context(request, job) -> dict:
    user = request.user
    phase = IssuePhase.PREVIEW if job.phase == IssuePhase.PREVIEW else IssuePhase.RUN
    issues = selectors.import_issues(user=user, job=job, phase=phase)
    written, written_count = selectors.import_written(user=user, job=job)
    preview = selectors.import_preview(user=user, job=job)
    return {
        "job": job,
        "title": _("Import #%(id)d") % {"id": job.pk},
        "phase": phase,
        "contents_visible": selectors.contents_visible(user=user, job=job),
        "issues": list(issues[:50]),
        "issue_count": issues.count(),
        "written": written,
        "written_count": written_count,
        "headers": job.headers,
        "mapped": [
            (job.headers[i], key) for i, key in enumerate(job.mapping) if key and i < len(job.headers)
        ],
        "preview_counts": preview.get("counts", {}),
        "date_formats": _date_formats(job, preview),
        "sample": [
            {**row, "pairs": list(zip(row["cells"], row["errors"], strict=False))}
            for row in preview.get("sample", [])
        ],
        "mode_label": ImportMode(job.options.get("mode", ImportMode.CREATE)).label,
        "target_labels": {t.key: t.label for t in mapping.targets_for(request.user)},
        "mapped_headers": [mapping.column_name(job.headers, i) for i, key in enumerate(job.mapping) if key],
        "can_act": job.owner_id == request.user.pk or Access.of(request.user).is_superuser,
        "changed_since": services.changed_since_import(job)
        if job.status in (ImportStatus.DONE, ImportStatus.CANCELLED)
        else 0,
        "editable": job.status in EDITABLE,
        "cancellable": (job.status in (*EDITABLE, *WORKING) and job.status != ImportStatus.UNDOING)
        or (job.status == ImportStatus.FAILED and job.phase != "undo"),
    }


def _date_formats(job, preview: dict) -> list[tuple[str, str]]:
    """Per date column of the preview, the forms its values were written in (“YYYY/M/D (120), YYYYMMDD (3)”)."""
    result = []
    for index, seen in sorted((preview.get("formats") or {}).items(), key=lambda item: int(item[0])):
        forms_seen = ", ".join(
            f"{normalize.DATE_FORMATS.get(code, code)} ({n})"
            for code, n in sorted(seen.items(), key=lambda item: -item[1])
        )
        result.append((mapping.column_name(job.headers, int(index)), forms_seen))
    return result


def import_detail(request, pk):
    job = _job(request, pk)
    if job.status == ImportStatus.UPLOADED and selectors.contents_visible(user=request.user, job=job):
        return redirect("customers:import_mapping", pk=job.pk)
    return render(request, "customers/imports/detail.html", _context(request, job))


def import_progress(request, pk):
    """The progress panel for htmx polling; once the job stops working the page reloads to show results."""
    job = _job(request, pk)
    response = render(request, "customers/imports/_progress.html", {"job": job})
    if not job.is_working and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


def import_errors(request, pk, fmt):
    _require_import(request)
    job = selectors.import_job_contents(user=request.user, pk=pk)
    phase = request.GET.get("phase", IssuePhase.RUN)
    if fmt not in FORMATS or phase not in IssuePhase.values:
        raise Http404
    return report.error_report(job, phase, fmt, f"import-{job.pk}-{phase}-errors")


def import_template(request, fmt):
    _require_import(request)
    if fmt not in FORMATS:
        raise Http404
    return report.response(report.template(request.user, fmt), fmt, "kehu-customer-import-template")
