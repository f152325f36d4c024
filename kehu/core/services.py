"""Use cases of the organisation layer: roles and grants, sharing, ownership transfer, notifications."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit, registry
from .access import Access
from .models import (
    Action,
    AuditAction,
    FieldAccess,
    FieldGrant,
    ModelGrant,
    Notification,
    RecordShare,
    Role,
    User,
)

# Apps add work to a user's departure (e.g. reassign open tasks): callable(from_user, to_user, by) -> int
TRANSFER_HOOKS: list[Callable] = []


def _require_admin(by) -> None:
    if not Access.of(by).is_superuser and not Access.of(by).can(Action.CHANGE, Role):
        raise PermissionDenied(_("Only administrators may change roles and permissions."))


def _log_role_change(role: Role, by, changes: dict) -> None:
    """A permission change is audited on the role it was made to."""
    audit.log(
        actor=by,
        action=AuditAction.PERMISSION,
        model="core.role",
        object_id=role.pk,
        object_repr=str(role),
        changes=changes,
    )


def role_field_access_set(*, role: Role, model_label: str, values: dict[str, str], by) -> int:
    """Set a role's field restrictions on one model: field name -> "edit" | "readonly" | "hidden".

    Only the fields the security editor offers (registry `security_fields`, plus `custom`) are accepted;
    "edit" removes the restriction. Each change is audited as a permission change. Returns how many changed."""
    _require_admin(by)
    entry = registry.get(model_label)
    if entry is None:
        raise ValidationError(_("Unknown model: %(m)s") % {"m": model_label})
    allowed = {f.name for f in entry.security_fields()} | (
        {"custom"} if hasattr(entry.model, "custom") else set()
    )
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(unknown)})
    bad = sorted(name for name, value in values.items() if value not in FieldAccess.values)
    if bad:
        raise ValidationError(_("Invalid field access for: %(fields)s") % {"fields": ", ".join(bad)})
    changed = 0
    with transaction.atomic():
        current = {
            fg.field: fg for fg in FieldGrant.objects.select_for_update().filter(role=role, model=model_label)
        }
        for name, value in values.items():
            grant = current.get(name)
            old = grant.access if grant else FieldAccess.EDIT
            if value == old:
                continue
            if grant is not None and value == FieldAccess.EDIT:
                grant.delete()
            elif grant is not None:
                grant.access = value
                grant.save(update_fields=["access"])
            else:
                FieldGrant.objects.create(role=role, model=model_label, field=name, access=value)
            _log_role_change(role, by, {f"{model_label}.{name}": [old, value]})
            changed += 1
    return changed


def role_grants_set(*, role: Role, grants: list[dict], by) -> None:
    """Replace a role's model grants. Each dict: model, can_<action>..., read_scope, write_scope.
    Every change is written to the audit trail as a permission change."""
    _require_admin(by)
    with transaction.atomic():
        existing = {g.model: g for g in ModelGrant.objects.select_for_update().filter(role=role)}
        seen = set()
        for data in grants:
            label = data["model"]
            if registry.get(label) is None:
                raise ValidationError(_("Unknown model: %(m)s") % {"m": label})
            seen.add(label)
            grant = existing.get(label) or ModelGrant(role=role, model=label)
            before = {k: getattr(grant, k) for k in data if k != "model"} if grant.pk else {}
            for key, value in data.items():
                if key != "model":
                    setattr(grant, key, value)
            grant.full_clean(validate_constraints=False, validate_unique=False)
            after = {k: getattr(grant, k) for k in data if k != "model"}
            if before != after:
                if grant.pk:
                    grant.version += 1
                grant.save()
                _log_role_change(
                    role,
                    by,
                    {f"{label}.{k}": [before.get(k), v] for k, v in after.items() if before.get(k) != v},
                )
        for label, grant in existing.items():
            if label not in seen:
                grant.delete()
                _log_role_change(role, by, {label: ["granted", "revoked"]})


def user_roles_set(*, user: User, roles: list[Role], by) -> None:
    _require_admin(by)
    with transaction.atomic():
        before = sorted(r.code for r in user.roles.all())
        user.roles.set(roles)
        after = sorted(r.code for r in roles)
        if before != after:
            audit.log(
                actor=by,
                action=AuditAction.PERMISSION,
                model="core.user",
                object_id=user.pk,
                object_repr=str(user),
                changes={"roles": [before, after]},
            )
    Access.forget(user)


def record_share(*, instance, by, user: User | None = None, team=None, access: str = "view") -> RecordShare:
    """Share one record with a user or team. Needs write access to the record (owners share their own)."""
    from .records import lock_for_write

    label = registry.require(instance).grant_label()
    with transaction.atomic():
        lock_for_write(instance, by)
        share, _created = RecordShare.objects.update_or_create(
            model=label,
            object_id=instance.pk,
            user=user,
            team=team,
            defaults={"access": access, "created_by": by},
        )
        audit.log(
            actor=by,
            action=AuditAction.SHARE,
            instance=instance,
            changes={"shared_with": [None, str(user or team)], "access": [None, access]},
        )
    return share


def record_unshare(*, share: RecordShare, instance, by) -> None:
    from .records import lock_for_write

    with transaction.atomic():
        lock_for_write(instance, by)
        target = str(share.user or share.team)
        share.delete()
        audit.log(
            actor=by, action=AuditAction.UNSHARE, instance=instance, changes={"shared_with": [target, None]}
        )


def ownership_transfer(*, from_user: User, to_user: User, by, deactivate: bool = False) -> dict[str, int]:
    """Hand every record owned by `from_user` to `to_user` (a departing rep's book of business), keeping
    history (the records stay the same rows; each gets an audit entry) and running the apps' transfer hooks
    (open tasks, ...). Needs the transfer right on every model that has records to move."""
    if from_user.pk == to_user.pk:
        raise ValidationError(_("Choose a different user to receive the records."))
    if not to_user.is_active:
        raise ValidationError(_("The receiving user is inactive."))
    access = Access.of(by)
    moved: dict[str, int] = {}
    with transaction.atomic():
        for entry in registry.grantable_models():
            if not entry.owner_field or not entry.transfer:
                continue
            qs = entry.model._default_manager.filter(**{entry.owner_field: from_user})
            rows = list(qs.values_list("pk", flat=True)[:1])
            if not rows:
                continue
            if not access.can(Action.TRANSFER, entry.model):
                raise PermissionDenied(
                    _("You do not have the transfer right on %(m)s.") % {"m": entry.verbose_name}
                )
            pks_reprs = [(o.pk, str(o)) for o in qs.only("pk", *_repr_fields(entry.model))]
            update: dict[str, object] = {entry.owner_field: to_user}
            if hasattr(entry.model, "version"):
                from django.db.models import F

                update["version"] = F("version") + 1
            if hasattr(entry.model, "updated_at"):
                update["updated_at"] = timezone.now()
            count = entry.model._default_manager.filter(pk__in=[p for p, _ in pks_reprs]).update(**update)
            audit.log_many(
                actor=by,
                action=AuditAction.TRANSFER,
                model=entry.label,
                rows=[
                    (pk, text, {entry.owner_field: [str(from_user), str(to_user)]}) for pk, text in pks_reprs
                ],
            )
            moved[entry.label] = count
        for hook in TRANSFER_HOOKS:
            result = hook(from_user=from_user, to_user=to_user, by=by)
            if result:
                moved.update(result)
        if deactivate:
            from_user.is_active = False
            from_user.save(update_fields=["is_active"])
            audit.log(
                actor=by, action=AuditAction.UPDATE, instance=from_user, changes={"is_active": [True, False]}
            )
    return moved


def _repr_fields(model) -> list[str]:
    names = [
        f.name for f in model._meta.concrete_fields if f.name in {"name", "title", "subject", "username"}
    ]
    return names


def notify(
    *, user: User, title: str, body: str = "", url: str = "", dedup_key: str = ""
) -> Notification | None:
    """Create an in-app notification; with a dedup_key, at most one per user and key (idempotent)."""
    if dedup_key:
        obj, created = Notification.objects.get_or_create(
            user=user, dedup_key=dedup_key, defaults={"title": title[:200], "body": body, "url": url}
        )
        return obj if created else None
    return Notification.objects.create(user=user, title=title[:200], body=body, url=url)


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
