"""The record service: the one write path for business records (UI forms, API, imports, bulk actions).

Each function checks object-level rights, record scope and field-level restrictions *before* it writes,
takes a row lock, refuses stale versions (optimistic locking), saves, and appends to the audit trail in the
same transaction. Specific use cases (merge, convert, transfer) live in their apps' services and reuse the
pieces here (`ensure`, `audit.log`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import models, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit, customfields, registry
from .access import Access
from .exceptions import FieldNotWritable, StaleRecordError
from .models import Action, AuditAction

if TYPE_CHECKING:
    from .models import CustomFieldsModel


M = TypeVar("M", bound=models.Model)  # the record service returns the caller's own model type


def ensure(user, action: str, model) -> Access:
    access = Access.of(user)
    if not access.can(action, model):
        raise PermissionDenied(
            _("You do not have the right to %(action)s %(model)s.")
            % {"action": Action(action).label.lower(), "model": model._meta.verbose_name_plural}
        )
    return access


def _split(model, data: dict) -> tuple[dict, dict, dict | None]:
    """Separate plain fields, many-to-many fields and custom values."""
    plain, m2m, custom = {}, {}, None
    m2m_names = {f.name for f in model._meta.many_to_many}
    for key, value in data.items():
        if key == "custom":
            custom = value
        elif key in m2m_names:
            m2m[key] = value
        else:
            plain[key] = value
    return plain, m2m, custom


def _m2m_names(instance, name) -> list[str]:
    return sorted(str(o) for o in getattr(instance, name).all())


def _check_fields(access: Access, model, changed: list[str]) -> None:
    readonly = access.readonly_fields(model) | access.hidden_fields(model)
    refused = sorted(set(changed) & readonly)
    if refused:
        raise FieldNotWritable(refused)


def _check_parent_writable(access: Access, entry, instance) -> None:
    """A record that inherits its scope (`via`) may only hang under a parent the user may write."""
    if not entry.via:
        return
    parent_id = getattr(instance, f"{entry.via}_id", None)
    if parent_id is None:
        return
    parent_model = type(instance)._meta.get_field(entry.via).related_model
    base = parent_model._default_manager.filter(pk=parent_id)
    if not access.filter(base).exists():
        raise Http404
    if not access.filter(base, mode="write").exists():
        raise PermissionDenied(_("You may see %(parent)s but not add to it.") % {"parent": base.first()})


def record_create(*, model: type[M], data: dict, by, note: str = "") -> M:
    """Create a record as `by`. The owner defaults to `by`; another owner needs the transfer right. The
    model's attribution fields (registry) are set to `by` whatever `data` says."""
    access = ensure(by, Action.ADD, model)
    entry = registry.require(model)
    plain, m2m, custom = _split(model, data)
    for name in entry.attribution:  # who did it comes from the request, never from input
        plain[name] = by
    owner_field = entry.owner_field
    if owner_field and plain.get(owner_field) not in (None, by):
        _check_fields(access, model, [owner_field])
    _check_fields(
        access, model, [k for k in plain if k != owner_field and k not in entry.attribution] + list(m2m)
    )
    with transaction.atomic():
        instance = model(**plain)
        _check_parent_writable(access, entry, instance)
        if owner_field and getattr(instance, f"{owner_field}_id") is None:
            setattr(instance, owner_field, by)
        if custom is not None or hasattr(instance, "custom"):
            if hasattr(instance, "custom"):
                instance.custom = customfields.clean_values(model, custom)
        instance.full_clean(validate_unique=False, validate_constraints=False)
        # uniqueness on the normalised values (a SKU "abc-1" is "ABC-1" by now): a 400, not an IntegrityError
        instance.validate_unique()
        instance.save()
        for name, values in m2m.items():
            getattr(instance, name).set(values)
        after = audit.snapshot(instance)
        for name in m2m:
            after[name] = _m2m_names(instance, name)
        audit.log(
            actor=by,
            action=AuditAction.CREATE,
            instance=instance,
            changes={k: [None, v] for k, v in after.items() if v not in (None, "", [], {})},
            note=note,
        )
    return instance


def lock_for_write(instance: M, by, action: str = Action.CHANGE) -> tuple[M, Access]:
    """Check rights on an existing record and return it locked (select_for_update) inside the caller's
    transaction. Records outside the user's read scope raise Http404; readable but not writable raise
    PermissionDenied."""
    model = type(instance)
    access = ensure(by, action, model)
    base = model._default_manager.filter(pk=instance.pk)
    if not access.filter(base).exists():
        raise Http404
    if not access.filter(base, mode="write").exists():
        raise PermissionDenied(_("You may see this record but not change it."))
    try:
        return base.select_for_update().get(), access
    except ObjectDoesNotExist:
        raise Http404 from None


def record_update(
    *,
    instance: M,
    data: dict,
    by,
    expected_version: int | None,
    note: str = "",
    children: Callable[[M], dict] | None = None,
) -> M:
    """Apply `data` to a record. `expected_version` is the version the user edited; a newer stored version
    raises StaleRecordError naming who changed what. Unchanged fields are ignored (so read-only fields that a
    form re-posts unchanged are fine); a change to a read-only/hidden field raises FieldNotWritable.

    `children(locked)` (optional) writes rows that belong to the record (contact points, consent events) in
    the same transaction, after the rights and version checks and before the save; it may set attributes of
    `locked`, and returns audit changes for those rows, recorded in the record's one audit entry (a non-empty
    result counts as a change: new version, audit entry)."""
    model = type(instance)
    plain, m2m, custom = _split(model, data)
    with transaction.atomic():
        locked, access = lock_for_write(instance, by)
        if expected_version is not None and getattr(locked, "version", expected_version) != expected_version:
            raise StaleRecordError(
                locked,
                expected_version,
                audit.changes_since(model._meta.label_lower, locked.pk, expected_version),
                user=by,
            )
        before = audit.snapshot(locked)
        before_plain = dict(before)
        for name in m2m:
            before[name] = _m2m_names(locked, name)
        changed = []
        for key, value in plain.items():
            field = model._meta.get_field(key)
            current = getattr(locked, field.attname if isinstance(field, models.ForeignKey) else key)
            new = (
                value.pk
                if isinstance(field, models.ForeignKey) and isinstance(value, models.Model)
                else value
            )
            if current != new:
                changed.append(key)
        for name, values in m2m.items():
            if sorted(getattr(v, "pk", v) for v in values) != sorted(
                getattr(locked, name).values_list("pk", flat=True)
            ):
                changed.append(name)
        _check_fields(access, model, changed)
        attributed = sorted(set(changed) & set(registry.require(model).attribution))
        if attributed:
            raise FieldNotWritable(attributed)  # who wrote a record is not rewritten later
        if custom is not None:
            holder = cast("CustomFieldsModel", locked)  # only models with custom fields receive values
            hidden_or_ro = access.readonly_fields(model) | access.hidden_fields(model)
            if "custom" in hidden_or_ro and custom != holder.custom:
                raise FieldNotWritable(["custom"])
            holder.custom = customfields.clean_values(model, custom, current=holder.custom, partial=True)
        child_changes = children(locked) if children is not None else {}
        # nothing changed: neither a field, nor a custom value (compared through the snapshot: the custom
        # values were already applied to `locked` above), nor a child row
        if not changed and not child_changes and audit.snapshot(locked) == before_plain:
            # nothing to write: no new version, no audit entry
            instance.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
            return locked
        for key in plain:
            setattr(locked, key, plain[key])
        entry = registry.require(model)
        if entry.via and entry.via in changed:
            _check_parent_writable(access, entry, locked)
        if hasattr(locked, "version"):
            locked.version += 1
        if hasattr(locked, "updated_at"):
            locked.updated_at = timezone.now()
        locked.full_clean(validate_unique=False, validate_constraints=False)
        locked.validate_unique()
        locked.save()
        for name, values in m2m.items():
            getattr(locked, name).set(values)
        after = audit.snapshot(locked)
        for name in m2m:
            after[name] = _m2m_names(locked, name)
        changes = audit.diff(before, after)
        changes.update(child_changes)
        if changes:
            audit.log(actor=by, action=AuditAction.UPDATE, instance=locked, changes=changes, note=note)
    # keep the caller's object in sync
    instance.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return locked


def record_delete(*, instance: models.Model, by, expected_version: int | None = None, note: str = "") -> None:
    model = type(instance)
    with transaction.atomic():
        locked, _access = lock_for_write(instance, by, Action.DELETE)
        if expected_version is not None and getattr(locked, "version", expected_version) != expected_version:
            raise StaleRecordError(
                locked,
                expected_version,
                audit.changes_since(model._meta.label_lower, locked.pk, expected_version),
                user=by,
            )
        before = audit.snapshot(locked)
        pk, text = locked.pk, str(locked)
        try:
            locked.delete()
        except models.ProtectedError as exc:
            raise ValidationError(
                _("This record cannot be deleted while other records refer to it (%(n)d).")
                % {"n": len(exc.protected_objects)}
            ) from exc
        audit.log(
            actor=by,
            action=AuditAction.DELETE,
            model=model._meta.label_lower,
            object_id=pk,
            object_repr=text,
            changes={k: [v, None] for k, v in before.items() if v not in (None, "", [], {})},
            note=note,
        )


def record_owner_set(*, instance: M, owner, by, note: str = "") -> M:
    """Give a record a new owner (or none) as a decision of a use case that checked its own rules (pool
    claims, releases, recycling): the row is locked, its version bumped and the change audited as a TRANSFER
    by `by` (None = the system). Scope follows the owner at once, since scope is computed from it."""
    model = type(instance)
    owner_field = registry.require(model).owner_field
    if not owner_field:
        raise ValueError(f"{model._meta.label} has no owner")
    with transaction.atomic():
        locked = model._default_manager.select_for_update().get(pk=instance.pk)
        previous = getattr(locked, owner_field)
        if getattr(previous, "pk", None) == getattr(owner, "pk", None):
            return locked
        setattr(locked, owner_field, owner)
        update = [owner_field]
        if hasattr(locked, "version"):
            locked.version += 1
            update.append("version")
        if hasattr(locked, "updated_at"):
            locked.updated_at = timezone.now()
            update.append("updated_at")
        locked.save(update_fields=update)
        audit.log(
            actor=by,
            action=AuditAction.TRANSFER,
            instance=locked,
            changes={owner_field: [str(previous) if previous else None, str(owner) if owner else None]},
            note=note,
        )
    instance.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return locked


def records_owner_clear(*, model: type[models.Model], rows: list[tuple], by, note: str = "") -> list[int]:
    """Set-based owner removal for a batch (recycling): `rows` are (pk, expected owner id, repr). Locks the
    rows, skips those whose owner changed meanwhile, clears the owner with one UPDATE (version bumped) and
    writes one TRANSFER audit entry per record in one INSERT. Returns the pks changed."""
    owner_field = registry.require(model).owner_field
    if not owner_field:
        raise ValueError(f"{model._meta.label} has no owner")
    expected = {pk: (owner_id, text) for pk, owner_id, text in rows}
    with transaction.atomic():
        current = dict(
            model._default_manager.select_for_update()
            .filter(pk__in=list(expected))
            .values_list("pk", f"{owner_field}_id")
        )
        pks = [pk for pk, (owner_id, _t) in expected.items() if current.get(pk) == owner_id]
        if not pks:
            return []
        update: dict = {owner_field: None}
        if hasattr(model, "version"):
            update["version"] = models.F("version") + 1
        if hasattr(model, "updated_at"):
            update["updated_at"] = timezone.now()
        model._default_manager.filter(pk__in=pks).update(**update)
        owner_model = cast("type[models.Model]", model._meta.get_field(owner_field).related_model)
        names = {
            u.pk: str(u) for u in owner_model._default_manager.filter(pk__in={expected[pk][0] for pk in pks})
        }
        audit.log_many(
            actor=by,
            action=AuditAction.TRANSFER,
            model=model._meta.label_lower,
            rows=[(pk, expected[pk][1], {owner_field: [names.get(expected[pk][0]), None]}) for pk in pks],
            note=note,
        )
    return pks
