"""Reads of the approval engine, filtered by who may see them.

A request is visible to its requester, to anyone who holds (or held, or is stood in for by) one of its tasks,
to whoever may read its record (the record type's scope selector), and to superusers. What it shows of the
record is cut by the reader's field rights: a hidden field is absent from the summary, the notification and
the API (ADR 0009)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from kehu.core.access import Access
from kehu.core.selectors import scoped

from .kinds import type_for
from .models import ApprovalChain, ApprovalRequest, ApprovalTask, Delegation, RequestStatus, TaskStatus


def pending_tasks(*, user) -> QuerySet[ApprovalTask]:
    """The open tasks of the current steps the user holds (or that a delegate holds for them)."""
    from django.db.models import F

    return (
        ApprovalTask.objects.filter(
            Q(approver=user) | Q(on_behalf_of=user),
            status=TaskStatus.PENDING,
            request__status=RequestStatus.PENDING,
            step=F("request__step"),
        )
        .select_related("request", "request__requester", "on_behalf_of", "approver")
        .order_by("request__created_at", "id")
    )


def pending_count(*, user) -> int:
    return pending_tasks(user=user).count()


def pending_object_ids(*, user, model: str) -> set[str]:
    """Ids of the records of one type awaiting the user's decision (one query)."""
    return set(
        pending_tasks(user=user).filter(request__model=model).values_list("request__object_id", flat=True)
    )


def record_visible(user, request: ApprovalRequest) -> bool:
    kind = type_for(request.model)
    return scoped(kind.model, user=user).filter(pk=request.object_id).exists()


def _involved_q(user) -> Q:
    return Q(requester=user) | Q(tasks__approver=user) | Q(tasks__on_behalf_of=user)


def request_get(*, user, pk) -> ApprovalRequest:
    """The request if the user may see it, else 404 (no hint that it exists)."""
    request = ApprovalRequest.objects.select_related("requester").filter(pk=pk).first()
    if request is None:
        raise Http404
    if user.is_superuser or ApprovalRequest.objects.filter(_involved_q(user), pk=pk).exists():
        return request
    if record_visible(user, request):
        return request
    raise Http404


def request_list(*, user, model: str = "", object_id: str = "") -> QuerySet[ApprovalRequest]:
    """Requests the user is involved in; with `model` and `object_id`, the record's whole history when the
    user may read the record (else only what they are involved in)."""
    qs = ApprovalRequest.objects.select_related("requester")
    if model and object_id:
        qs = qs.filter(model=model, object_id=str(object_id))
        try:
            visible = (
                user.is_superuser or scoped(type_for(model).model, user=user).filter(pk=object_id).exists()
            )
        except (LookupError, ValueError):
            return qs.none()
        if visible:
            return qs.order_by("-created_at", "-id")
    elif user.is_superuser:
        return qs.order_by("-created_at", "-id")
    ids = ApprovalRequest.objects.filter(_involved_q(user)).values("pk")
    return qs.filter(pk__in=ids).order_by("-created_at", "-id")


def record_requests(record) -> QuerySet[ApprovalRequest]:
    """The record's requests with their events and tasks (for its page: the caller has read the record)."""
    return (
        ApprovalRequest.objects.filter(model=record._meta.label_lower, object_id=str(record.pk))
        .select_related("requester")
        .prefetch_related("events__actor", "events__on_behalf_of", "tasks__approver", "tasks__on_behalf_of")
        .order_by("-created_at", "-id")
    )


@dataclass
class SummaryRow:
    name: str
    label: str
    value: Any


def summary(*, user, request: ApprovalRequest) -> tuple[Any, list[SummaryRow]]:
    """The record (or None when gone) and the fields of its type's summary the user may see."""
    kind = type_for(request.model)
    record = kind.model._default_manager.filter(pk=request.object_id).first()
    if record is None:
        return None, []
    hidden = set() if user.is_superuser else Access.of(user).hidden_fields(request.model)
    rows = []
    for name in kind.summary_fields:
        if name in hidden:
            continue
        field = record._meta.get_field(name)
        display = getattr(record, f"get_{name}_display", None)
        value = display() if callable(display) else getattr(record, name)
        rows.append(SummaryRow(name, str(getattr(field, "verbose_name", name)), value))
    return record, rows


def chain_list(*, user) -> QuerySet[ApprovalChain]:
    return scoped(ApprovalChain, user=user).prefetch_related("steps").order_by("model", "priority", "id")


def delegations_of(*, user) -> QuerySet[Delegation]:
    return Delegation.objects.filter(Q(user=user) | Q(delegate=user)).select_related("user", "delegate")
