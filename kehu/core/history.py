"""The one presenter of change history: every history view (record pages, the ticket page, the audit trail,
its API, the stale-save message) turns audit entries into what a person reads here.

- field names → their verbose names (translated); custom fields → their labels;
- values → choice labels, Yes/No, local dates, FK display names (a record's name instead of "#3");
- only real changes: a pair whose two sides read the same (e.g. an FK stored once as "#3" and once as
  "张伟 (#3)", which older entries hold) is no change;
- internal fields are never shown (ids, versions, timestamps, derived keys such as the search bags: every
  non-editable field without a verbose name of its own);
- fields hidden from the reader are never shown (Access.hidden_fields, also for child rows and JSON keys that
  belong to a field: `register_keys`);
- a creation is summarised as the values the record started with, an import as its counts.

Audit entries stay as they were written (append-only); presenting never changes them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import AuditAction

#: never shown, whatever the model
NEVER_SHOWN = frozenset({"id", "pk", "version", "created_at", "updated_at", "password", "last_login"})
_FK_TEXT = re.compile(r"^(?:(?P<text>.*) )?\(?#(?P<id>\d+)\)?$", re.S)
#: keys of summary entries (imports, undo) that are counts, not field changes
SUMMARY_KEYS = {
    "created": gettext_lazy("created"),
    "updated": gettext_lazy("updated"),
    "unchanged": gettext_lazy("unchanged"),
    "skipped": gettext_lazy("skipped"),
    "failed": gettext_lazy("with errors"),
    "flagged": gettext_lazy("flagged as possible duplicates"),
    "undone": gettext_lazy("deleted by the undo"),
    "kept": gettext_lazy("kept"),
}


@dataclass(frozen=True)
class KeyInfo:
    """How a change key that is not a plain field of the model reads and which field governs it."""

    label: object
    #: the model field whose rights apply (hidden field → the key is hidden too); None: always shown
    governed_by: str | None = None
    #: callable(raw value) -> display text
    value: object = None
    #: for "head.*" keys: callable(the part after the dot) -> its label
    sub: object = None


_KEYS: dict[str, dict[str, KeyInfo]] = {}


def register_keys(model_label: str, keys: dict[str, KeyInfo]) -> None:
    """Change keys of a model that are not its fields: child rows ("phones"), JSON parts ("consent.sms" is
    registered as "consent.*"), merge summaries. Apps call this in ready()."""
    _KEYS.setdefault(model_label.lower(), {}).update(keys)


@dataclass
class Change:
    key: str
    label: str
    before: str
    after: str
    #: a creation's starting value or a count: only `after` is shown
    single: bool = False


@dataclass
class Item:
    entry: object
    changes: list[Change] = field(default_factory=list)

    @property
    def at(self):
        return self.entry.at

    @property
    def actor_name(self) -> str:
        return self.entry.actor_name

    @property
    def action(self) -> str:
        return self.entry.action

    @property
    def action_label(self) -> str:
        return self.entry.get_action_display()

    @property
    def note(self) -> str:
        return self.entry.note

    @property
    def model_label(self) -> str:
        """The record type in the reader's language ("customer", not "customers.customer")."""
        try:
            return str(apps.get_model(self.entry.model)._meta.verbose_name)
        except (LookupError, ValueError):
            return self.entry.model


def is_internal(f) -> bool:
    """Ids, versions, timestamps and derived columns (search bags, hashes, name keys): never shown to people
    nor sent out (history, workflow texts, webhook payloads)."""
    if f.name in NEVER_SHOWN or getattr(f, "primary_key", False):
        return True
    # derived columns (name_key, search_text, ...) are not editable and carry no verbose name of their own
    return not getattr(f, "editable", True) and getattr(f, "_verbose_name", None) is None


class Presenter:
    """Presents the audit entries of one model to one reader (None: a system view without field rights)."""

    def __init__(self, model, user=None, *, hidden: set[str] | None = None) -> None:
        self.label = model if isinstance(model, str) else model._meta.label_lower
        try:
            self.model = apps.get_model(self.label)
        except (LookupError, ValueError):
            self.model = None
        if hidden is None:
            hidden = set()
            if user is not None and self.model is not None:
                from .access import Access

                hidden = Access.of(user).hidden_fields(self.model)
        self.hidden = hidden
        self._custom: dict | None = None
        self._names: dict[tuple, str] = {}

    # ------------------------------------------------------------------ keys
    def _field(self, name: str):
        if self.model is None:
            return None
        try:
            return self.model._meta.get_field(name)
        except Exception:  # noqa: BLE001 - FieldDoesNotExist and friends: not a field
            return None

    def _key_info(self, key: str) -> KeyInfo | None:
        registered = _KEYS.get(self.label, {})
        if key in registered:
            return registered[key]
        head = key.split(".", 1)[0]
        return registered.get(f"{head}.*")

    def shown(self, key: str) -> bool:
        head = key.split(".", 1)[0]
        info = self._key_info(key)
        if info is not None:
            return info.governed_by is None or info.governed_by not in self.hidden
        if head in self.hidden or head in NEVER_SHOWN:
            return False
        f = self._field(head)
        if f is None:
            return head in SUMMARY_KEYS
        if head == "custom":
            return True
        if getattr(f, "auto_created", False) and not getattr(f, "concrete", False):
            # a reverse relation (child rows): shown unless internal; governed by nothing on this model
            return True
        return not is_internal(f)

    def key_label(self, key: str) -> str:
        info = self._key_info(key)
        if info is not None:
            if key not in _KEYS.get(self.label, {}) and "." in key:  # registered as "head.*"
                sub = key.split(".", 1)[1]
                return f"{info.label}: {info.sub(sub) if info.sub else sub}"
            return str(info.label)
        head, _sep, rest = key.partition(".")
        if head == "custom":
            return str(self._custom_defs().get(rest, (rest, None))[0])
        if head in SUMMARY_KEYS and self._field(head) is None:
            return str(SUMMARY_KEYS[head])
        f = self._field(head)
        if f is None:
            return head.replace("_", " ")
        if getattr(f, "auto_created", False) and not getattr(f, "concrete", False):
            return str(f.related_model._meta.verbose_name_plural)
        return str(f.verbose_name)

    def _custom_defs(self) -> dict:
        if self._custom is None:
            from . import customfields

            self._custom = (
                {d.key: (d.label, d) for d in customfields.definitions(self.label)} if self.model else {}
            )
        return self._custom

    # ------------------------------------------------------------------ values
    def value(self, key: str, raw) -> str:
        if raw is None or raw == "" or raw == [] or raw == {}:
            return "—"
        info = self._key_info(key)
        if info is not None and info.value is not None:
            return str(info.value(raw))
        head, _sep, rest = key.partition(".")
        if head == "custom":
            if isinstance(raw, list):
                return ", ".join(self._plain(v) for v in raw)
            return self._plain(raw)
        f = self._field(head)
        if isinstance(raw, list):
            return ", ".join(self.value(key, v) for v in raw) or "—"
        if f is not None and getattr(f, "choices", None) and not isinstance(f, models.ForeignKey):
            labels = {str(k): v for k, v in f.flatchoices}
            return str(labels.get(str(raw), raw))
        if isinstance(f, models.ForeignKey):
            return self._fk_name(f, raw)
        if isinstance(f, models.DateTimeField) and isinstance(raw, str):
            try:
                moment = dt.datetime.fromisoformat(raw)
            except ValueError:
                return raw
            if timezone.is_aware(moment):
                moment = timezone.localtime(moment)
            return formats.date_format(moment, "Y-m-d H:i")
        return self._plain(raw)

    @staticmethod
    def _plain(raw) -> str:
        if isinstance(raw, bool):
            return _("Yes") if raw else _("No")
        if isinstance(raw, dict):
            return ", ".join(f"{k}: {v}" for k, v in raw.items())
        return str(raw)

    def _fk_name(self, f, raw) -> str:
        match = _FK_TEXT.match(str(raw))
        if not match:
            return str(raw)
        if match.group("text"):
            return match.group("text")
        return self._names.get((f.related_model, match.group("id")), f"#{match.group('id')}")

    def _resolve_names(self, items: list[Item], raw_pairs: list[tuple[str, object]]) -> None:
        """One query per related model for FK values stored as "#id" only (older entries)."""
        wanted: dict[type, set[int]] = {}
        for key, raw in raw_pairs:
            f = self._field(key.split(".", 1)[0])
            if isinstance(f, models.ForeignKey) and raw is not None:
                match = _FK_TEXT.match(str(raw))
                if match and not match.group("text"):
                    wanted.setdefault(f.related_model, set()).add(int(match.group("id")))
        for model, ids in wanted.items():
            for obj in model._default_manager.filter(pk__in=ids):
                self._names[(model, str(obj.pk))] = str(obj)

    # ------------------------------------------------------------------ entries
    @staticmethod
    def _same(f, before, after) -> bool:
        if before == after:
            return True
        if isinstance(f, models.ForeignKey):
            a, b = _FK_TEXT.match(str(before or "")), _FK_TEXT.match(str(after or ""))
            return bool(a and b and a.group("id") == b.group("id"))
        return False

    def changes(self, entry) -> list[Change]:
        result = []
        creation = entry.action == AuditAction.CREATE
        for key, pair in (entry.changes or {}).items():
            if not self.shown(key):
                continue
            label = self.key_label(key)
            if not (isinstance(pair, list) and len(pair) == 2):
                result.append(Change(key, label, "", self.value(key, pair), single=True))  # a count
                continue
            before, after = pair
            if self._same(self._field(key.split(".", 1)[0]), before, after):
                continue
            shown_before, shown_after = self.value(key, before), self.value(key, after)
            if shown_before == shown_after:
                continue
            result.append(Change(key, label, shown_before, shown_after, single=creation and before is None))
        return result

    def items(self, entries) -> list[Item]:
        from . import audit

        entries = audit.reveal(entries)
        pairs = [
            (k, v)
            for e in entries
            for k, pair in (e.changes or {}).items()
            if isinstance(pair, list) and len(pair) == 2
            for v in pair
        ]
        self._resolve_names([], pairs)
        return [Item(entry=e, changes=self.changes(e)) for e in entries]

    def changed_labels(self, entry) -> list[str]:
        """What an entry changed, as a reader may know it (the stale-save message)."""
        return [c.label for c in self.changes(entry)]


def present(entries, *, model, user=None, hidden: set[str] | None = None) -> list[Item]:
    """Audit entries of one model as readable history for `user` (his hidden fields are left out)."""
    return Presenter(model, user, hidden=hidden).items(entries)


def present_mixed(entries, *, user=None) -> list[Item]:
    """Entries of several models (the audit trail), each presented with its own model's rules."""
    presenters: dict[str, Presenter] = {}
    entries = list(entries)
    by_model: dict[str, list] = {}
    for e in entries:
        by_model.setdefault(e.model, []).append(e)
    presented = {}
    for label, group in by_model.items():
        presenters[label] = Presenter(label, user)
        for item in presenters[label].items(group):
            presented[item.entry.pk] = item
    return [presented[e.pk] for e in entries]
