"""Webhook events (ADR 0022): which record writes become which events, the hook on kehu.core.events, and the
fan-out task that turns a committed write into one delivery per interested subscription.

Events: `<type>.created`, `<type>.changed`, `<type>.deleted` for the types of TYPES; `<type>.stage_changed`
(opportunities: the stage changed) and `<type>.status_changed` (leads, quotes, orders, contracts, tickets);
`message.sent` (an outbound interaction: email, text message, call logged…). A write of a contact (a person
with an account) is a `contact.*` event, other customers `customer.*`.

Payload (version "2026-12"; `api_version` in every payload, changes only with a new version):
    {"id": "<event uuid>", "type": "order.status_changed", "api_version": "2026-12", "created": "<RFC 3339>",
     "data": {"object": {"type": "order", "id": 7, "fields": {...}}, "changed_fields": ["status"]}}
`fields` are the record's values the subscription owner may see (hidden fields never leave, with what they
govern); a record outside the owner's read scope produces no delivery at all. A deleted record's payload has
only its type and id, and is sent only when the subscription had an earlier event of that record (or its owner
is a superuser): a deletion outside the owner's sight stays unknown to them."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

PAYLOAD_VERSION = "2026-12"

#: record type label → event type name
TYPES = {
    "customers.customer": "customer",
    "sales.lead": "lead",
    "sales.opportunity": "opportunity",
    "sales.quote": "quote",
    "sales.order": "order",
    "sales.contract": "contract",
    "service.ticket": "ticket",
}
STAGE_FIELD = {"sales.opportunity": "stage"}
STATUS_FIELD = {
    "sales.lead": "status",
    "sales.quote": "status",
    "sales.order": "status",
    "sales.contract": "status",
    "service.ticket": "status",
}
MESSAGE_MODEL = "interactions.interaction"


def event_catalogue() -> list[tuple[str, str]]:
    """(event, label) of every event a subscription may ask for."""
    result = []
    names = sorted(set(TYPES.values()) | {"contact"})
    for name in names:
        for verb, label in (("created", _("created")), ("changed", _("changed")), ("deleted", _("deleted"))):
            result.append((f"{name}.{verb}", f"{name} {label}"))
    for label, _field in STAGE_FIELD.items():
        result.append((f"{TYPES[label]}.stage_changed", f"{TYPES[label]} {_('stage changed')}"))
    for label in STATUS_FIELD:
        result.append((f"{TYPES[label]}.status_changed", f"{TYPES[label]} {_('status changed')}"))
    result.append(("message.sent", str(_("message sent"))))
    return sorted(result)


def event_names() -> set[str]:
    return {name for name, _label in event_catalogue()}


def model_of_event(event: str) -> str:
    kind = event.split(".", 1)[0]
    if kind == "message":
        return MESSAGE_MODEL
    if kind == "contact":
        return "customers.customer"
    return next(label for label, name in TYPES.items() if name == kind)


# ------------------------------------------------------------------------------ the hook (in the transaction)
_index: frozenset[str] = frozenset()
_loaded_at = float("-inf")


def index() -> frozenset[str]:
    """The record types some active subscription listens to (reloaded every few seconds, at once after a
    change of a subscription in this process)."""
    global _index, _loaded_at
    ttl = float(getattr(settings, "KEHU_WEBHOOK_INDEX_SECONDS", 5))
    now = time.monotonic()
    if now - _loaded_at > ttl:
        from .models import Subscription

        labels = set()
        for events in Subscription.objects.filter(active=True).values_list("events", flat=True):
            for event in events or ():
                try:
                    labels.add(model_of_event(event))
                except StopIteration:
                    continue
        _index, _loaded_at = frozenset(labels), now
    return _index


def invalidate() -> None:
    global _loaded_at
    _loaded_at = float("-inf")


def on_written(model: str, action: str, rows: Sequence[tuple], actor) -> None:
    if model not in index():
        return
    payload = {
        "model": model,
        "action": action,
        "at": timezone.now().isoformat(),
        # changed field names only (values are read again, with the owner's rights, in the task)
        "rows": [
            [
                str(pk),
                sorted((changes or {}).keys())
                if action != "delete"
                else bool((changes or {}).get("account")),
            ]
            for pk, changes in rows
        ],  # fmt: skip
    }
    transaction.on_commit(lambda: _enqueue(payload))


on_written.actions = frozenset({"create", "update", "transfer", "delete"})  # type: ignore[attr-defined]


def _enqueue(payload: dict) -> None:
    from . import tasks

    try:
        tasks.fan_out.enqueue(payload)
    except Exception:  # the write is committed; a lost event is logged, never raised at the writer
        logger.exception("could not enqueue the webhook fan-out for %s", payload["model"])


# ------------------------------------------------------------------------------------------- in the task
def _events_for(model: str, action: str, record, changed) -> list[str]:
    if model == MESSAGE_MODEL:
        return ["message.sent"] if action == "create" and getattr(record, "direction", "") == "out" else []
    kind = TYPES[model]
    if model == "customers.customer":
        is_contact = changed if action == "delete" else bool(record is not None and record.account_id)
        kind = "contact" if is_contact else "customer"
    if action == "create":
        return [f"{kind}.created"]
    if action == "delete":
        return [f"{kind}.deleted"]
    events = [f"{kind}.changed"]
    if STAGE_FIELD.get(model) in changed:
        events.append(f"{kind}.stage_changed")
    if STATUS_FIELD.get(model) in changed:
        events.append(f"{kind}.status_changed")
    return events


def fan_out(payload: dict) -> int:
    """Create the deliveries of one committed write batch; returns how many. Then dispatch."""
    from kehu.automation.actions import visible_values
    from kehu.core.access import Access

    from .models import Delivery, Subscription

    model_label, action = payload["model"], payload["action"]
    known = event_names()
    subscriptions = [s for s in Subscription.objects.filter(active=True).select_related("owner")
                     if any(model_of_event(e) == model_label for e in s.events if e in known)]  # fmt: skip
    if not subscriptions:
        return 0
    model = apps.get_model(model_label)
    ids = [row[0] for row in payload["rows"]]
    records = {} if action == "delete" else {str(r.pk): r for r in model._default_manager.filter(pk__in=ids)}
    created = timezone.now().isoformat()
    deliveries = []
    for sub in subscriptions:
        wanted = set(sub.events)
        owner = sub.owner
        access = Access.of(owner)
        if action == "delete":
            seen = set(Delivery.objects.filter(subscription=sub, object_key__in=[f"{model_label}:{i}" for i in ids])
                       .values_list("object_key", flat=True))  # fmt: skip
        else:
            visible = {str(pk) for pk in access.filter(model._default_manager.filter(pk__in=ids)).values_list("pk", flat=True)}  # fmt: skip
            hidden = set(access.hidden_fields(model))
        for pk, changed in payload["rows"]:
            key = f"{model_label}:{pk}"
            record = records.get(pk)
            if action == "delete":
                if not (owner.is_superuser or key in seen):
                    continue
                fields = None
            else:
                if record is None or pk not in visible:
                    continue
                fields = visible_values(record, [owner])
            for event in _events_for(model_label, action, record, changed):
                if event not in wanted:
                    continue
                kind = event.split(".", 1)[0]
                data: dict = {"object": {"type": kind, "id": _id(pk)}}
                if fields is not None:
                    data["object"]["fields"] = fields
                if action in ("update", "transfer"):
                    # only fields the payload may carry (no hidden ones, no internal search keys)
                    data["changed_fields"] = [
                        c for c in changed if c in fields and c.split(".", 1)[0] not in hidden
                    ]
                event_id = uuid.uuid4()
                body = {"id": str(event_id), "type": event, "api_version": sub.payload_version,
                        "created": created, "data": data}  # fmt: skip
                deliveries.append(
                    Delivery(
                        subscription=sub, event_id=event_id, event=event, object_key=key, body=_json(body)
                    )
                )
    if deliveries:
        Delivery.objects.bulk_create(deliveries, batch_size=500)
        from . import delivery

        transaction.on_commit(delivery.kick)
    return len(deliveries)


def _id(pk: str):
    return int(pk) if pk.isdigit() else pk


def _json(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
