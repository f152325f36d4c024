"""Form and list layouts per record type and role (ADR 0025): the administrators' list and editor, with a
preview of what a user of the role would see (the role's field rights applied) before saving."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from . import layouts, registry
from .models import FormLayout, Role
from .views import _require_admin


def layout_list(request):
    _require_admin(request)
    names = {e.label: e.model._meta.verbose_name_plural for e in layouts.layout_models()}
    items = [
        (row, names.get(row.model, row.model)) for row in FormLayout.objects.select_related("role").all()
    ]
    return render(
        request,
        "core/layouts.html",
        {
            "title": _("Form layouts"),
            "items": items,
            "models": sorted(names.items(), key=lambda kv: str(kv[1])),
        },
    )


def _int(value, default=None):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def parse_editor(post, label: str) -> dict:
    """The editor's table (one row per field: section, position, required, read-only, help, list column
    position) and the default filters (one `field=value` a line) as layout data."""
    fields_ = [f.name for f in layouts.model_fields(label)]
    rows = []
    for index, name in enumerate(fields_):
        rows.append(
            {
                "name": name,
                "section": post.get(f"section:{name}", "").strip(),
                "pos": _int(post.get(f"pos:{name}"), 1000 + index),
                "index": index,
            }
        )
    grouped: dict[str, list] = {}
    first: dict[str, tuple] = {}
    for row in sorted(rows, key=lambda r: (r["pos"], r["index"])):
        if not row["section"]:
            continue
        grouped.setdefault(row["section"], []).append(row["name"])
        first.setdefault(row["section"], (row["pos"], row["index"]))
    sections = [{"title": t, "fields": grouped[t]} for t in sorted(grouped, key=lambda t: first[t])]
    columns = sorted(
        ((_int(post.get(f"col:{n}")), i, n) for i, n in enumerate(fields_) if _int(post.get(f"col:{n}"))),
    )
    filters = {}
    for line in post.get("default_filters", "").splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            filters[key.strip()] = value.strip()
        elif line.strip():
            filters[line.strip()] = ""
    return {
        "sections": sections,
        "required": [n for n in fields_ if post.get(f"req:{n}")],
        "readonly": [n for n in fields_ if post.get(f"ro:{n}")],
        "help_texts": {n: post.get(f"help:{n}", "") for n in fields_ if post.get(f"help:{n}", "").strip()},
        "list_columns": [n for _p, _i, n in columns],
        "default_filters": filters,
    }


def _editor_rows(label: str, data: dict, role) -> list[dict]:
    """One row per field for the editor, with the layout's values and the role's field right."""
    rights = layouts.role_field_access(role, label)
    where = {}
    position = 0
    for section in data.get("sections") or []:
        for name in section.get("fields", []):
            position += 1
            where[name] = (section.get("title", ""), position)
    columns = {n: i for i, n in enumerate(data.get("list_columns") or [], start=1)}
    rows = []
    for f in layouts.model_fields(label):
        section, pos = where.get(f.name, ("", ""))
        rows.append(
            {
                "name": f.name,
                "label": f.verbose_name,
                "right": rights.get(f.name, ""),
                "section": section,
                "pos": pos,
                "required": f.name in (data.get("required") or []),
                "readonly": f.name in (data.get("readonly") or []),
                "help": (data.get("help_texts") or {}).get(f.name, ""),
                "col": columns.get(f.name, ""),
            }
        )
    return rows


def layout_edit(request, pk=None):
    """New (`?model=`) or existing layout: POST `preview` shows the result for the role without saving;
    `save` validates (errors per input) and saves, audited; `delete` removes it."""
    _require_admin(request)
    row = get_object_or_404(FormLayout.objects.select_related("role"), pk=pk) if pk else None
    label = row.model if row else (request.POST.get("model") or request.GET.get("model", ""))
    entry = registry.get(label)
    if entry is None or not layouts.model_fields(label):
        messages.error(request, _("Choose a record type."))
        return redirect("core:layouts")
    role_id = request.POST.get("role", request.GET.get("role", "")) if row is None else row.role_id
    role = Role.objects.filter(pk=_int(role_id)).first() if role_id else None
    priority = _int(request.POST.get("priority"), row.priority if row else 100)
    errors: dict = {}
    preview = None
    if request.method == "POST":
        if row is not None and request.POST.get("delete"):
            layouts.layout_delete(layout=row, by=request.user)
            messages.success(request, _("Layout deleted."))
            return redirect("core:layouts")
        data = parse_editor(request.POST, label)
        if request.POST.get("save"):
            try:
                saved = layouts.layout_save(
                    model=label, role=role, data=data, by=request.user, priority=priority or 100, instance=row
                )
                messages.success(request, _("Layout saved."))
                return redirect("core:layout_edit", pk=saved.pk)
            except ValidationError as exc:
                errors = exc.message_dict
        preview = layouts.preview(label, role, data)
    else:
        data = (
            {
                "sections": row.sections,
                "required": row.required,
                "readonly": row.readonly,
                "help_texts": row.help_texts,
                "list_columns": row.list_columns,
                "default_filters": row.default_filters,
            }
            if row
            else {}
        )
        preview = layouts.preview(label, role, data)
    return render(
        request,
        "core/layout_edit.html",
        {
            "title": _("Form layout: %(model)s") % {"model": entry.model._meta.verbose_name},
            "layout": row,
            "label": label,
            "role": role,
            "roles": Role.objects.order_by("name"),
            "priority": priority or 100,
            "rows": _editor_rows(label, data, role),
            "filters_text": "\n".join(f"{k}={v}" for k, v in (data.get("default_filters") or {}).items()),
            "errors": errors,
            "preview": preview,
        },
        status=400 if errors else 200,
    )
