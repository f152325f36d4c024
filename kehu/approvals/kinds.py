"""What the engine knows about a record type (ADR 0018): apps register each type that can be approved.

`register_type(ApprovalType(...))` names the model (registry label), how to read the requester, the amount and
the discount (chain conditions; each with the field whose right governs it, so an approver who may not see the
field does not see the figure either), the customer (timeline), the fields the approval page shows, and the
callbacks that write the record's own status when a request ends (called under the record's row lock, inside
the deciding transaction). `register_approver(kind, resolve)` adds how an approver kind finds its users
(sales registers the discount approver)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models


def _none(record) -> Any:
    return None


def _noop(record, request, by, comment) -> None:
    return None


@dataclass
class ApprovalType:
    label: str  # "sales.quote"
    requester: Callable[[Any], Any] = lambda r: getattr(r, "owner", None)
    amount: Callable[[Any], Decimal | None] = _none
    amount_field: str = ""
    discount: Callable[[Any], Decimal | None] = _none
    discount_field: str = ""
    customer: Callable[[Any], Any] = lambda r: getattr(r, "customer", None)
    #: how the record is named in notifications, history and the timeline (no figure a right may hide)
    title: Callable[[Any], str] = str
    #: the fields shown on the approval page, in order (hidden fields are left out per reader)
    summary_fields: list[str] = field(default_factory=list)
    #: the default step when no chain matches: (approver kind, step name)
    default_kind: str = "manager"
    #: refuses a decision the record's own rules forbid (e.g. an expense of a closed month): raises
    check: Callable[[Any], None] = _none
    on_approved: Callable[[Any, Any, Any, str], None] = _noop
    on_rejected: Callable[[Any, Any, Any, str], None] = _noop
    on_step: Callable[[Any, Any, Any, str], None] = _noop
    #: the filter of the records that wait for a decision (their own status): records left waiting without
    #: a request on the engine (by the code before it) get one from `adopt_awaiting` (migration 0003)
    awaiting: dict = field(default_factory=dict)

    @property
    def model(self) -> type[models.Model]:
        from django.apps import apps

        return apps.get_model(self.label)

    @property
    def verbose_name(self) -> str:
        return str(self.model._meta.verbose_name)


_TYPES: dict[str, ApprovalType] = {}
_APPROVERS: dict[str, Callable[..., list]] = {}
_WITH_RECORD: set[str] = set()


def register_type(kind: ApprovalType) -> ApprovalType:
    _TYPES[kind.label] = kind
    return kind


def approval_types() -> dict[str, ApprovalType]:
    return dict(_TYPES)


def type_for(record_or_label) -> ApprovalType:
    """The registered type, or a generic one for any registry model (the workflow rules' "start an approval"
    on a record type without callbacks: the request itself is the outcome)."""
    label = record_or_label if isinstance(record_or_label, str) else record_or_label._meta.label_lower
    if label in _TYPES:
        return _TYPES[label]
    from kehu.core import registry

    if registry.get(label) is None:
        raise LookupError(label)
    return ApprovalType(label=label)


def register_approver(kind: str, resolve: Callable[..., list], *, with_record: bool = False) -> None:
    """`resolve(requester, step_plan) -> [users]` for an approver kind; with `with_record` the resolver is
    called as `resolve(requester, step_plan, record)` (e.g. marketing's campaign approvers: who may write
    that campaign)."""
    _APPROVERS[kind] = resolve
    if with_record:
        _WITH_RECORD.add(kind)
    else:
        _WITH_RECORD.discard(kind)


def approver_resolver(kind: str) -> Callable[..., list] | None:
    return _APPROVERS.get(kind)


def resolver_wants_record(kind: str) -> bool:
    return kind in _WITH_RECORD
