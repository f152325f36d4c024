"""The audit trail: one function every service calls after it writes.

Entries are append-only (database triggers refuse UPDATE/DELETE). Request metadata (request id, IP) comes
from a context variable set by AuditContextMiddleware, so services need only pass the actor.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models

from . import events
from .models import AuditAction, AuditEntry


@dataclass
class RequestContext:
    request_id: str = ""
    ip_address: str | None = None


_context: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("kehu_audit", default=None)
_EMPTY = RequestContext()

#: Crypto-shredding of personal values (ADR 0024, the privacy app): callables(model_label, rows) -> rows, where
#: rows are [object_id, object_repr, changes (jsonable), instance or None] lists; a hook returns them with the
#: personal values sealed. Listeners (`events.written`) still get the plain changes.
SEAL_HOOKS: list = []
#: callables(entries) -> None that replace sealed values of loaded entries, in memory only, with what can
#: still be read (a value whose key was destroyed reads as erased)
REVEAL_HOOKS: list = []


def _seal(model: str, rows: list[list]) -> list[list]:
    for hook in SEAL_HOOKS:
        rows = hook(model, rows)
    return rows


def reveal(entries):
    """Entries as readers see them: sealed personal values opened where their key still exists."""
    entries = list(entries)
    for hook in REVEAL_HOOKS:
        hook(entries)
    return entries


def set_request_context(ip_address: str | None) -> contextvars.Token:
    return _context.set(RequestContext(request_id=str(uuid.uuid4()), ip_address=ip_address))


def reset_request_context(token: contextvars.Token) -> None:
    _context.reset(token)


def to_jsonable(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return str(value)


def snapshot(instance: models.Model) -> dict:
    """Field values of a record as audit-friendly data (FKs as their text, plus the id)."""
    data: dict = {}
    for f in instance._meta.concrete_fields:
        if f.name in {"version", "updated_at", "created_at", "password", "last_login"}:
            continue
        if isinstance(f, models.ForeignKey):
            raw = getattr(instance, f.attname)
            data[f.name] = None if raw is None else _fk_text(instance, f, raw)
        elif f.name == "custom":
            for key, value in (getattr(instance, "custom", None) or {}).items():
                data[f"custom.{key}"] = to_jsonable(value)
        else:
            data[f.name] = to_jsonable(getattr(instance, f.attname))
    return data


def _fk_text(instance, f, raw) -> str:
    """Always "<name> (#id)", whether or not the related record was loaded: a snapshot taken before a save
    (FK not loaded) and one taken after (FK set from an object) must read the same when the FK did not
    change — otherwise every save recorded a phantom change "owner: #3 → 张伟 (#3)"."""
    cached = f.get_cached_value(instance, default=None) if f.is_cached(instance) else None
    if cached is None or cached.pk != raw:
        cached = f.related_model._base_manager.filter(**{f.target_field.name: raw}).first()
    if cached is not None:
        return f"{cached} (#{raw})"
    return f"#{raw}"


def diff(before: dict, after: dict) -> dict:
    keys = set(before) | set(after)
    return {k: [before.get(k), after.get(k)] for k in sorted(keys) if before.get(k) != after.get(k)}


def log(
    *,
    actor,
    action: str,
    instance: models.Model | None = None,
    model: str | None = None,
    object_id=None,
    object_repr: str = "",
    changes: dict | None = None,
    note: str = "",
    version: int | None = None,
) -> AuditEntry:
    ctx = _context.get() or _EMPTY
    if instance is not None:
        model = model or instance._meta.label_lower
        object_id = instance.pk if object_id is None else object_id
        object_repr = object_repr or str(instance)[:200]
        version = version if version is not None else getattr(instance, "version", None)
    plain = to_jsonable(changes or {})
    original_repr = object_repr
    [[object_id, object_repr, sealed, _instance]] = _seal(
        model or "", [[object_id, object_repr, plain, instance]]
    )
    entry = AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=(str(actor) if getattr(actor, "pk", None) else "system")[:150],
        action=action,
        model=model or "",
        object_id=str(object_id),
        object_repr=object_repr[:200],
        version=version,
        changes=sealed,
        note=note[:300],
        request_id=ctx.request_id,
        ip_address=ctx.ip_address,
    )
    events.written(entry.model, action, ((entry.object_id, plain),), actor)
    entry.changes, entry.object_repr = plain, (original_repr or "")[:200]  # the caller reads what it wrote
    return entry


def log_many(*, actor, action: str, model: str, rows: Iterable[tuple], note: str = "") -> int:
    """Bulk entries: rows of (object_id, object_repr, changes) or (object_id, object_repr, changes, version).
    For transfers, mass updates and imports."""
    ctx = _context.get() or _EMPTY
    rows = [list(row) for row in rows]
    plain = [to_jsonable(row[2] or {}) for row in rows]
    sealed = _seal(model, [[row[0], str(row[1]), p, None] for row, p in zip(rows, plain, strict=True)])
    entries = [
        AuditEntry(
            actor=actor if getattr(actor, "pk", None) else None,
            actor_name=(str(actor) if getattr(actor, "pk", None) else "system")[:150],
            action=action,
            model=model,
            object_id=str(seal[0]),
            object_repr=str(seal[1])[:200],
            changes=seal[2],
            version=row[3] if len(row) > 3 else None,
            note=note[:300],
            request_id=ctx.request_id,
            ip_address=ctx.ip_address,
        )
        for row, seal in zip(rows, sealed, strict=True)
    ]
    AuditEntry.objects.bulk_create(entries, batch_size=1000)
    events.written(model, action, [(e.object_id, p) for e, p in zip(entries, plain, strict=True)], actor)
    return len(entries)


def history(model: str, object_ids: Iterable) -> models.QuerySet:
    return AuditEntry.objects.filter(model=model, object_id__in=[str(i) for i in object_ids]).select_related(
        "actor"
    )


def changes_since(model: str, object_id, version: int) -> list[AuditEntry]:
    """Entries that produced versions newer than `version` (to explain a refused stale save)."""
    return list(
        AuditEntry.objects.filter(model=model, object_id=str(object_id), version__gt=version)
        .exclude(action=AuditAction.CREATE)
        .order_by("at", "id")
    )
