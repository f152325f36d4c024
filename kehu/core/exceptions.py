"""Errors services raise; views and the API translate them into messages and status codes."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _


class StaleRecordError(Exception):
    """A save carried an older version than the stored record (optimistic locking)."""

    def __init__(self, instance, expected_version: int, entries: list, *, user=None) -> None:
        self.instance = instance
        self.expected_version = expected_version
        self.entries = entries
        self.user = user
        super().__init__(self.message)

    @property
    def message(self) -> str:
        from .history import Presenter

        parts = []
        presenter = Presenter(type(self.instance), self.user)
        for e in self.entries:
            # the fields a person changed, as the reader knows them: labels, no internal or hidden fields,
            # no phantom changes
            labels = list(dict.fromkeys(presenter.changed_labels(e)))
            fields = ", ".join(labels) if labels else e.get_action_display()
            parts.append(
                _("%(who)s changed %(fields)s at %(when)s")
                % {
                    "who": e.actor_name,
                    "fields": fields,
                    "when": timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M:%S"),
                }
            )
        who = "; ".join(parts) or _("someone else changed it")
        return _(
            "This record was changed while you were editing it (%(who)s). Your changes were not saved: "
            "reload the record and apply them again."
        ) % {"who": who}


class FieldNotWritable(PermissionDenied):
    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        super().__init__(_("You may not change these fields: %(fields)s") % {"fields": ", ".join(fields)})


class BusinessRuleError(Exception):
    """A rule of the domain refused the operation; the message is shown to the user as is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class ConflictError(BusinessRuleError):
    """The operation conflicts with the record's current state (e.g. it was merged away meanwhile); the API
    answers 409 with the message."""
