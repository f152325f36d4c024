"""Which models are secured business records, and how their record scope is computed.

Every app registers its models in AppConfig.ready(). The access layer (access.py), the record service
(records.py), the admin UI for grants and the audit view all read this registry, so a new model gets
object-, record- and field-level security by registering, not by writing checks in views.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import models


@dataclass(frozen=True)
class SecuredModel:
    model: type[models.Model]
    #: name of the FK to the owning user, or None when the record has no owner (visibility then is
    #: "all or nothing" per the role's grant) or when `via` delegates to a parent.
    owner_field: str | None = "owner"
    #: lookup path to a parent record whose scope this record inherits, e.g. "customer".
    via: str | None = None
    #: with `via`: object-level actions come from this model's own grant (e.g. "may log interactions"),
    #: record scope still from the parent (e.g. interactions of the customers I may see)
    own_actions: bool = False
    #: moved by the generic ownership transfer (False when an app's transfer hook does it selectively)
    transfer: bool = True
    #: records a user may reach beyond the owner scope, OR-ed into the scope filter like shares:
    #: callable(access, mode, scope, prefix) -> Q | None, where scope is the user's read or write scope on the
    #: model and prefix the lookup path from a `via` child to this record ("" for the record itself), e.g.
    #: unassigned tickets of the queues an agent works in, tickets of the customers one may see. Applies to
    #: the record and its `via` children; the "all" scope never calls it.
    extra_scope: Callable[..., models.Q | None] | None = None
    #: show in the grants editor and navigation
    nav: bool = True
    #: fields that the field-level security editor offers (default: all editable concrete fields)
    fields: tuple[str, ...] | None = None
    #: a callable(instance) -> url of the record's page
    url: Callable[[models.Model], str] | None = None
    #: attribution: fields naming who wrote, logged, uploaded or requested the record (e.g. "user", "author").
    #: The record service sets them to the acting user on create, whatever the input says, and refuses to
    #: change them afterwards; the API shows them read-only and the generic forms leave them out (ADR 0002).
    attribution: tuple[str, ...] = ()
    #: users set on purpose besides the owner (an assignee, a manager, an agent on a call list): ordinary
    #: input, subject to the field rights like any other field. Every foreign key to the user model is the
    #: owner field, an attribution field, an assigned field, or not editable (set only by services, e.g.
    #: approved_by) — tests/core/test_attribution.py checks every registered model.
    assigned: tuple[str, ...] = ()
    #: users written only by the app's services (e.g. the previous owner of a pool entry): read-only in the
    #: API and left out of the generic forms, like non-editable fields (approved_by, converted_by)
    system: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    @property
    def verbose_name(self) -> str:
        return str(self.model._meta.verbose_name_plural)

    def parent(self) -> SecuredModel | None:
        if not self.via:
            return None
        related = self.model._meta.get_field(self.via).related_model
        return get(related)

    def root(self) -> SecuredModel:
        """The record whose owner governs this one's scope (itself unless it has a `via` parent)."""
        parent = self.parent()
        return parent.root() if parent else self

    def grant_label(self) -> str:
        """The model whose grants govern this one (a `via` model is governed by its root parent)."""
        parent = self.parent()
        return parent.grant_label() if parent else self.label

    def scope_path(self) -> tuple[str, str | None]:
        """(prefix to the governing record, owner field there) for building queryset filters."""
        parent = self.parent()
        if parent is None:
            return "", self.owner_field
        prefix, owner = parent.scope_path()
        return f"{self.via}__{prefix}", owner

    def security_fields(self) -> list[models.Field]:
        result = []
        for f in self.model._meta.get_fields():
            if not getattr(f, "concrete", False) or f.auto_created or not getattr(f, "editable", True):
                continue
            if f.name in {"custom", "password"}:
                continue
            if self.fields is not None and f.name not in self.fields:
                continue
            result.append(f)
        return result


_REGISTRY: dict[str, SecuredModel] = {}


def register(model: type[models.Model], **options) -> SecuredModel:
    entry = SecuredModel(model=model, **options)
    _REGISTRY[entry.label] = entry
    return entry


def get(model_or_label) -> SecuredModel | None:
    if isinstance(model_or_label, str):
        return _REGISTRY.get(model_or_label.lower())
    return _REGISTRY.get(model_or_label._meta.label_lower)


def require(model_or_label) -> SecuredModel:
    entry = get(model_or_label)
    if entry is None:
        raise LookupError(f"{model_or_label} is not registered as a secured model")
    return entry


def all_models() -> list[SecuredModel]:
    return list(_REGISTRY.values())


def grantable_models() -> list[SecuredModel]:
    """Models that carry their own grants (not those that inherit a parent's scope)."""
    return [entry for entry in _REGISTRY.values() if entry.via is None or entry.own_actions]
