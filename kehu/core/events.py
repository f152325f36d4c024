"""Record-write events: the one hook through which an app learns that business records were written.

The audit step of the write path (`audit.log` / `audit.log_many`, called by the record service and by every
service that writes outside `record_create`/`record_update`: stage moves, imports, transfers) calls
`written(...)` for each created, updated or transferred record. Listeners must be cheap: they run inside the
writer's transaction, before the commit, so they only decide whether anything cares (an in-memory index) and
defer real work to `transaction.on_commit` / a background task (kehu.automation, ADR 0019). A listener that
raises is logged and ignored: an event never breaks the write that produced it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

logger = logging.getLogger(__name__)

#: callables(model_label, action, rows, actor) where rows is a sequence of (object_id, changes) and changes the
#: audit entry's {field: [before, after]}; action is a core.AuditAction value (create, update, transfer).
#: A listener with an `actions` attribute (a set) is told of those actions instead — e.g. with "delete" (the
#: changes are then the deleted record's last values; kehu.integrations' webhooks).
LISTENERS: list[Callable[[str, str, Sequence[tuple], object], None]] = []

WRITE_ACTIONS = frozenset({"create", "update", "transfer"})


def written(model: str, action: str, rows: Sequence[tuple], actor) -> None:
    if not LISTENERS or not model:
        return
    for listener in LISTENERS:
        if action not in getattr(listener, "actions", WRITE_ACTIONS):
            continue
        try:
            listener(model, action, rows, actor)
        except Exception:  # an event never breaks the write that produced it
            logger.exception("write listener %r failed for %s", listener, model)
