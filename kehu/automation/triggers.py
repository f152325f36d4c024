"""Which writes may trigger rules — decided cheaply inside the writer's transaction — and, in the task, which
rules a written record triggers.

The hook (`on_written`, listening on kehu.core.events) costs a dictionary lookup per write: an in-process index
{record type: triggers with an active rule}, reloaded from the database at most every
`KEHU_AUTOMATION_INDEX_SECONDS` (default 5; at once in the process that changed a rule). When a write may
matter, one background task per write batch is enqueued on commit (a 1,000-row import batch is one task);
conditions and actions are evaluated there, never in the request (ADR 0019).
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction

from .models import Trigger

logger = logging.getLogger(__name__)

_index: dict[str, frozenset[str]] = {}
_loaded_at = float("-inf")

#: how deep the current code runs inside rule actions (0 = a person's or a job's write)
depth: contextvars.ContextVar[int] = contextvars.ContextVar("kehu_automation_depth", default=0)

#: created records that count as an inbound message, per record type
INBOUND = {
    "interactions.interaction": {"direction": "in"},
    "service.ticketmessage": {"inbound__isnull": False},
}

_FK_ID = re.compile(r"\(#(\d+)\)$")


def index() -> dict[str, frozenset[str]]:
    global _index, _loaded_at
    ttl = float(getattr(settings, "KEHU_AUTOMATION_INDEX_SECONDS", 5))
    now = time.monotonic()
    if now - _loaded_at > ttl:
        from .models import Rule

        found: dict[str, set[str]] = {}
        for model, trigger in Rule.objects.filter(active=True).values_list("model", "trigger").distinct():
            found.setdefault(model, set()).add(trigger)
        _index = {k: frozenset(v) for k, v in found.items()}
        _loaded_at = now
    return _index


def invalidate() -> None:
    global _loaded_at
    _loaded_at = float("-inf")


def on_written(model: str, action: str, rows: Sequence[tuple], actor) -> None:
    triggers = index().get(model)
    if not triggers:
        return
    if action == "create":
        if not triggers & {Trigger.CREATED, Trigger.INBOUND}:
            return
        payload_rows = [[str(pk), None] for pk, _changes in rows]
    else:
        if not triggers & {Trigger.FIELD_CHANGED, Trigger.STAGE_ENTERED}:
            return
        payload_rows = [[str(pk), changes] for pk, changes in rows if changes]
        if not payload_rows:
            return
    payload = {
        "model": model,
        "action": action,
        "rows": payload_rows,
        "actor": getattr(actor, "pk", None),
        "depth": depth.get(),
    }
    transaction.on_commit(lambda: _enqueue(payload))


def _enqueue(payload: dict) -> None:
    from . import tasks

    try:
        tasks.process_writes.enqueue(payload)
    except Exception:  # the write is committed; a lost evaluation is logged, never raised at the writer
        logger.exception("could not enqueue the rule evaluation for %s", payload["model"])


# ------------------------------------------------------------------------------------------ in the task
def value_id(value) -> str | None:
    """An audit value as comparable text: a foreign key "name (#12)" as "12", others as text."""
    if value is None:
        return None
    text = str(value)
    match = _FK_ID.search(text)
    return match.group(1) if match else text


def _matches(expected, actual) -> bool:
    if expected in (None, ""):
        return True
    wanted = expected if isinstance(expected, list) else [expected]
    return value_id(actual) in {str(w) for w in wanted}


def selects(rule, action: str, changes: dict | None) -> bool:
    """Does this write fire `rule`? (created: any create; field changed: the field changed, from and to as
    configured; stage entered: the stage changed into one of the configured stages)."""
    config = rule.trigger_config or {}
    if rule.trigger in (Trigger.CREATED, Trigger.INBOUND):
        return action == "create"
    if action == "create" or not changes:
        return False
    if rule.trigger == Trigger.FIELD_CHANGED:
        field = config.get("field") or ""
        key = field if field.startswith("custom.") else field
        if key not in changes:
            return False
        before, after = changes[key]
        return _matches(config.get("from"), before) and _matches(config.get("to"), after)
    if rule.trigger == Trigger.STAGE_ENTERED:
        field = config.get("field") or "stage"
        if field not in changes:
            return False
        return _matches(config.get("stages"), changes[field][1])
    return False
