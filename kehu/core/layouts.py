"""Configurable forms and lists (issue #13 item 3, ADR 0025): one `FormLayout` per record type and role.

A layout orders a record type's fields in sections, makes fields required or read-only, adds help texts, and
picks a list's columns and default filters. It is layout, not security: field rights (`FieldGrant`, ADR 0001)
stay the one mechanism that hides data, and every function here works on what the rights left — a field the
reader may not see is never shown by a layout, and a layout can never make a field writable that the rights
make read-only (it can only add read-only fields).

Which layout: the user's roles' layouts of the record type by priority (then id), else the layout for
everyone (no role), else none. Read once per user object and record type (one query).

Where it applies: the generic form view (kehu.ui.generic.RecordFormView: order, sections, required, read-only,
help), the generic detail view (order and sections of the field rows), the generic list view (columns, default
filters when the list is opened without any), and the API's validation (kehu.core.api.AccessAwareSerializer:
a required field must be given on create and cannot be emptied, a read-only one cannot be changed).
Administrators keep them at /admin/layouts/ (audited: create, change, delete with the differences)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from . import audit, registry
from .access import Access
from .models import Action, AuditAction, FieldAccess, FieldGrant, FormLayout, Role

MAX_SECTIONS = 20
MAX_HELP = 300
MAX_TITLE = 80


@dataclass
class Layout:
    sections: list[dict] = field(default_factory=list)
    required: set[str] = field(default_factory=set)
    readonly: set[str] = field(default_factory=set)
    help_texts: dict[str, str] = field(default_factory=dict)
    list_columns: list[str] = field(default_factory=list)
    default_filters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, row: FormLayout) -> Layout:
        return cls(
            sections=list(row.sections or []),
            required=set(row.required or []),
            readonly=set(row.readonly or []),
            help_texts=dict(row.help_texts or {}),
            list_columns=list(row.list_columns or []),
            default_filters=dict(row.default_filters or {}),
        )

    def order(self) -> list[str]:
        return [name for section in self.sections for name in section.get("fields", [])]


def _label(model_or_label) -> str:
    return model_or_label if isinstance(model_or_label, str) else model_or_label._meta.label_lower


def layout_for(user, model_or_label) -> Layout | None:
    """The layout that applies to the user for the record type (cached on the user object)."""
    label = _label(model_or_label)
    cache = getattr(user, "_kehu_layouts", None)
    if cache is None:
        cache = {}
        try:
            user._kehu_layouts = cache
        except AttributeError:
            return None
    if label not in cache:
        role_ids = [] if not getattr(user, "is_authenticated", False) else [r.pk for r in _roles(user)]
        rows = [
            r for r in FormLayout.objects.filter(model=label) if r.role_id is None or r.role_id in role_ids
        ]
        rows.sort(key=lambda r: (r.role_id is None, r.priority, r.pk))
        cache[label] = Layout.of(rows[0]) if rows else None
    return cache[label]


def _roles(user):
    return list(user.roles.all()) if hasattr(user, "roles") else []


def forget(user) -> None:
    if hasattr(user, "_kehu_layouts"):
        del user._kehu_layouts


# ------------------------------------------------------------------------------------------ applying
def apply_to_form(form, layout: Layout | None, *, hidden: set[str]) -> None:
    """After the field rights (hidden fields are already gone from `form.fields`): read-only fields disabled,
    required fields required (unless disabled), help texts, fields ordered by the sections;
    `form.layout_sections` = [(title, [bound fields])] for the template (fields no section names go last)."""
    form.layout_sections = None
    if layout is None:
        return
    for name in layout.readonly:
        if name in form.fields:
            form.fields[name].disabled = True
            form.fields[name].required = False
    for name in layout.required:
        if name in form.fields and not form.fields[name].disabled:
            form.fields[name].required = True
    for name, text in layout.help_texts.items():
        if name in form.fields and name not in hidden:
            form.fields[name].help_text = text
    order = [n for n in layout.order() if n in form.fields]
    if not order:
        return
    rest = [n for n in form.fields if n not in order]
    form.order_fields(order + rest)
    sections = []
    for section in layout.sections:
        names = [n for n in section.get("fields", []) if n in form.fields and n != "version"]
        if names:
            sections.append((section.get("title", ""), [form[n] for n in names]))
    others = [form[n] for n in rest if not form.fields[n].widget.is_hidden]
    if others:
        sections.append((_("Other fields"), others))
    form.layout_sections = sections


def detail_sections(rows_by_name: dict[str, tuple], layout: Layout | None) -> list[tuple[str, list]] | None:
    """The detail page's rows (already cut by the field rights) in the layout's sections, or None."""
    if layout is None or not layout.order():
        return None
    used: set[str] = set()
    sections = []
    for section in layout.sections:
        rows = [rows_by_name[n] for n in section.get("fields", []) if n in rows_by_name and n not in used]
        used.update(section.get("fields", []))
        if rows:
            sections.append((section.get("title", ""), rows))
    rest = [row for name, row in rows_by_name.items() if name not in used]
    if rest:
        sections.append((_("Other fields"), rest))
    return sections


def list_columns(columns: list, layout: Layout | None) -> list:
    """The list's columns (already cut by the field rights) in the layout's choice and order; a column the
    layout does not know (or an empty choice) keeps the view's own."""
    if layout is None or not layout.list_columns:
        return columns
    by_name = {}
    for c in columns:
        by_name.setdefault(c.name, c)
        by_name.setdefault(c.field or c.name.removesuffix("_display"), c)
    chosen: list = []
    for n in layout.list_columns:
        if n in by_name and all(c is not by_name[n] for c in chosen):
            chosen.append(by_name[n])
    return chosen or columns


def default_filters(layout: Layout | None, *, hidden: set[str]) -> dict[str, str]:
    """The list's filters when it is opened without any, without those on a field the reader may not see."""
    if layout is None:
        return {}
    return {k: v for k, v in layout.default_filters.items() if k.split("__")[0] not in hidden}


# ------------------------------------------------------------------------------------------ configuration
def model_fields(label: str) -> list:
    entry = registry.get(label)
    if entry is None:
        return []
    return [f for f in entry.security_fields() if f.name not in ("version",)]


def role_field_access(role: Role | None, label: str) -> dict[str, str]:
    """The field rights of one role on one record type (what a preview and the validation work against)."""
    if role is None:
        return {}
    return dict(FieldGrant.objects.filter(role=role, model=label).values_list("field", "access"))


def layout_models() -> list:
    """The record types a layout may be made for: registry models with editable fields."""
    return [e for e in registry.grantable_models() if e.security_fields()]


def clean_layout(label: str, role: Role | None, data: dict) -> dict:
    """Validate a layout's data; errors name the input field. Returns the normalised data."""
    errors: dict[str, list] = {}
    entry = registry.get(label)
    if entry is None:
        raise ValidationError({"model": [_("Choose a record type.")]})
    names = {f.name for f in model_fields(label)}
    rights = role_field_access(role, label)
    hidden = {f for f, a in rights.items() if a == FieldAccess.HIDDEN}
    locked = {f for f, a in rights.items() if a == FieldAccess.READONLY}

    sections = []
    seen: set[str] = set()
    for i, section in enumerate(data.get("sections") or []):
        title = str(section.get("title", "")).strip()[:MAX_TITLE]
        fields_ = [str(n) for n in section.get("fields", [])]
        unknown = [n for n in fields_ if n not in names]
        if unknown:
            errors.setdefault("sections", []).append(_("Unknown fields: %(f)s.") % {"f": ", ".join(unknown)})
        twice = [n for n in fields_ if n in seen]
        if twice:
            errors.setdefault("sections", []).append(
                _("A field is in one section only: %(f)s.") % {"f": ", ".join(twice)}
            )
        seen.update(fields_)
        if fields_:
            sections.append({"title": title or _("Section %(n)d") % {"n": i + 1}, "fields": fields_})
    if len(sections) > MAX_SECTIONS:
        errors.setdefault("sections", []).append(_("At most %(n)d sections.") % {"n": MAX_SECTIONS})

    required = sorted({str(n) for n in data.get("required") or []})
    readonly = sorted({str(n) for n in data.get("readonly") or []})
    for key, values in (("required", required), ("readonly", readonly)):
        unknown = [n for n in values if n not in names]
        if unknown:
            errors.setdefault(key, []).append(_("Unknown fields: %(f)s.") % {"f": ", ".join(unknown)})
    both = sorted(set(required) & set(readonly))
    if both:
        errors.setdefault("required", []).append(
            _("A field cannot be both required and read-only: %(f)s.") % {"f": ", ".join(both)}
        )
    cannot = sorted(set(required) & (hidden | locked))
    if cannot:
        errors.setdefault("required", []).append(
            _("The role may not see or change these fields, so they cannot be required: %(f)s.")
            % {"f": ", ".join(cannot)}
        )
    if entry.owner_field in required:
        pass  # the owner defaults to the creator; requiring it is allowed

    help_texts = {}
    for name, text in (data.get("help_texts") or {}).items():
        text = str(text).strip()
        if not text:
            continue
        if name not in names:
            errors.setdefault("help_texts", []).append(_("Unknown fields: %(f)s.") % {"f": name})
        elif len(text) > MAX_HELP:
            errors.setdefault("help_texts", []).append(
                _("A help text has at most %(n)d characters (%(f)s).") % {"n": MAX_HELP, "f": name}
            )
        else:
            help_texts[name] = text

    columns = [str(n) for n in data.get("list_columns") or []]
    unknown = [n for n in columns if n not in names]
    if unknown:
        errors.setdefault("list_columns", []).append(_("Unknown fields: %(f)s.") % {"f": ", ".join(unknown)})

    filters = {}
    for key, value in (data.get("default_filters") or {}).items():
        key, value = str(key).strip(), str(value).strip()
        if not key:
            continue
        base = key.split("__")[0]
        if base not in names and key not in ("q", "sort"):
            errors.setdefault("default_filters", []).append(_("Unknown fields: %(f)s.") % {"f": key})
        elif base in hidden:
            errors.setdefault("default_filters", []).append(
                _("The role may not see %(f)s: a filter on it would reveal its values.") % {"f": key}
            )
        else:
            filters[key] = value[:200]
    if errors:
        raise ValidationError(errors)
    return {
        "sections": sections,
        "required": required,
        "readonly": readonly,
        "help_texts": help_texts,
        "list_columns": list(dict.fromkeys(columns)),
        "default_filters": filters,
    }


def _require_admin(by) -> None:
    access = Access.of(by)
    if not (access.is_superuser or access.can(Action.CHANGE, Role)):
        raise PermissionDenied(_("Administrators only."))


def layout_save(
    *, model: str, role: Role | None, data: dict, by, priority: int = 100, instance: FormLayout | None = None
) -> FormLayout:
    """Create or change a layout (administrators only; audited with the differences)."""
    _require_admin(by)
    clean = clean_layout(model, role, data)
    with transaction.atomic():
        if instance is None:
            if FormLayout.objects.filter(model=model, role=role).exists():
                raise ValidationError({"role": [_("This role already has a layout for this record type.")]})
            row = FormLayout(model=model, role=role, priority=priority, **clean)
            row.save()
            audit.log(actor=by, action=AuditAction.CREATE, instance=row, changes=audit.diff({}, _snap(row)))
            return row
        row = FormLayout.objects.select_for_update().get(pk=instance.pk)
        before = _snap(row)
        for key, value in clean.items():
            setattr(row, key, value)
        row.priority = priority
        row.version += 1
        row.save()
        audit.log(actor=by, action=AuditAction.UPDATE, instance=row, changes=audit.diff(before, _snap(row)))
        return row


def layout_delete(*, layout: FormLayout, by) -> None:
    _require_admin(by)
    with transaction.atomic():
        audit.log(actor=by, action=AuditAction.DELETE, instance=layout, changes=audit.diff(_snap(layout), {}))
        layout.delete()


def _snap(row: FormLayout) -> dict:
    return {
        "model": row.model,
        "role": str(row.role) if row.role_id else None,
        "priority": row.priority,
        "sections": row.sections,
        "required": row.required,
        "readonly": row.readonly,
        "help_texts": row.help_texts,
        "list_columns": row.list_columns,
        "default_filters": row.default_filters,
    }


def preview(label: str, role: Role | None, data: dict) -> dict:
    """What a user of `role` would see with this layout (not saved): the form's sections with each field's
    label, required / read-only flags and help text, and the list's columns — hidden fields left out."""
    rights = role_field_access(role, label)
    hidden = {f for f, a in rights.items() if a == FieldAccess.HIDDEN}
    locked = {f for f, a in rights.items() if a == FieldAccess.READONLY}
    fields_ = {f.name: f for f in model_fields(label) if f.name not in hidden}
    layout = Layout(
        sections=data.get("sections") or [],
        required=set(data.get("required") or []),
        readonly=set(data.get("readonly") or []),
        help_texts=data.get("help_texts") or {},
        list_columns=data.get("list_columns") or [],
        default_filters=data.get("default_filters") or {},
    )

    def row(name):
        f = fields_[name]
        ro = name in locked or name in layout.readonly
        return {
            "name": name,
            "label": f.verbose_name,
            "readonly": ro,
            "required": (name in layout.required or not f.blank) and not ro,
            "help": layout.help_texts.get(name) or f.help_text,
        }

    sections, used = [], set()
    for section in layout.sections:
        rows = [row(n) for n in section.get("fields", []) if n in fields_ and n not in used]
        used.update(section.get("fields", []))
        if rows:
            sections.append({"title": section.get("title", ""), "fields": rows})
    rest = [row(n) for n in fields_ if n not in used]
    if rest:
        sections.append({"title": _("Other fields") if sections else "", "fields": rest})
    columns = [fields_[n].verbose_name for n in layout.list_columns if n in fields_]
    return {
        "sections": sections,
        "columns": columns,
        "filters": default_filters(layout, hidden=hidden),
        "hidden": sorted(hidden),
    }
