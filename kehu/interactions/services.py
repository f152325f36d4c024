"""Interaction and task use cases. Writes go through kehu.core.records (rights, scope, audit, locking)."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit, records
from kehu.core.access import Access
from kehu.core.models import AuditAction
from kehu.core.services import notify
from kehu.customers.models import Customer

from .models import Interaction, InteractionChannel, Task, TaskStatus

log = logging.getLogger(__name__)

#: Called with each newly logged interaction inside the logging transaction (e.g. kehu.sales marks the
#: customer's open deals active, for the stalled-deal flag). Hooks must be cheap and must not raise.
INTERACTION_LOGGED: list = []


def _ensure_customer_visible(customer: Customer, by) -> None:
    from kehu.customers.selectors import customer_list

    if not customer_list(user=by).filter(pk=customer.pk).exists():
        raise Http404


def interaction_log(*, customer: Customer, data: dict, by) -> Interaction:
    """Log a call, email, visit... on the customer's timeline. The user must see the customer and hold the
    'add' right on interactions; `user` (who logged it) is always the caller (registry attribution).

    With an `external_ref` (id in the telephony, mail or WeChat system) ingestion is idempotent: logging the
    same reference again returns the stored entry, also when two ingestions race (the unique index decides).
    A reference already used for another customer is refused rather than revealed."""
    _ensure_customer_visible(customer, by)
    data = {"user": by, **data, "customer": customer}
    ref = (data.pop("external_ref", None) or "").strip() or None
    if ref:
        data["external_ref"] = ref
        existing = _existing_ref(ref, customer)
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            entry = records.record_create(model=Interaction, data=data, by=by)
            for hook in INTERACTION_LOGGED:
                hook(entry)
            return entry
    except IntegrityError:
        existing = _existing_ref(ref, customer) if ref else None
        if existing is None:
            raise
        return existing


def _existing_ref(ref: str, customer: Customer) -> Interaction | None:
    existing = Interaction.objects.filter(external_ref=ref).first()
    if existing is not None and existing.customer_id != customer.pk:
        raise ValidationError({"external_ref": _("This external reference is already used.")})
    return existing


def interactions_account_refresh(*, customer_ids) -> int:
    """Re-point the denormalised `account` of these customers' interactions at their current account (the
    customer itself when it has none). Customers services call it after a contact moves to another account
    or after a merge, so account timelines keep rolling up the right contacts. Returns the rows changed."""
    changed = 0
    for pk, account_id in Customer.objects.filter(pk__in=list(customer_ids)).values_list("pk", "account_id"):
        target = account_id or pk
        changed += (
            Interaction.objects.filter(customer_id=pk).exclude(account_id=target).update(account_id=target)
        )
    return changed


def timeline_event_record(
    *,
    customer: Customer,
    subject: str,
    related_model: str,
    related_id,
    url: str = "",
    occurred_at: dt.datetime | None = None,
    body: str = "",
    channel: str = InteractionChannel.EVENT,
    direction: str = "internal",
    user=None,
) -> Interaction:
    """Put an event of another app (order placed, ticket closed, campaign message sent) on the timeline.
    Idempotent per (related_model, related_id), also under concurrent calls (a partial unique index): a
    repeated call changes nothing and returns the stored entry. Called by services of other apps after their
    own permission checks, so it checks no rights; the entry is visible to whoever sees the customer.
    `channel`, `direction` and `user` default to an internal event; a lead's calls and emails moved onto a
    new customer's timeline at conversion keep their own."""
    if not related_model:
        raise ValueError("related_model is required")
    key = {"related_model": related_model, "related_id": str(related_id)}
    existing = Interaction.objects.filter(**key).first()
    if existing is not None:
        return existing
    entry = Interaction(
        customer=customer,
        channel=channel,
        direction=direction,
        user=user,
        subject=subject[:200],
        body=body,
        occurred_at=occurred_at or timezone.now(),
        url=url,
        **key,
    )
    entry.full_clean(exclude=["customer", "user"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        return Interaction.objects.get(**key)
    return entry


def task_create(*, data: dict, by) -> Task:
    customer = data.get("customer")
    if customer is not None:
        _ensure_customer_visible(customer, by)
    return records.record_create(model=Task, data=data, by=by)


def task_update(*, task: Task, data: dict, by, expected_version: int | None) -> Task:
    """Edit a task. A new reminder time re-arms the reminder (reminded_at cleared in the same transaction,
    so a refused or stale edit leaves the old state alone)."""
    customer = data.get("customer")
    if customer is not None and customer.pk != task.customer_id:
        _ensure_customer_visible(customer, by)
    with transaction.atomic():
        if "remind_at" in data and data["remind_at"] != task.remind_at:
            Task.objects.filter(pk=task.pk).update(reminded_at=None)
        return records.record_update(instance=task, data=data, by=by, expected_version=expected_version)


def task_complete(*, task: Task, by, expected_version: int | None = None) -> Task:
    with transaction.atomic():
        locked, _access = records.lock_for_write(task, by)
        if expected_version is not None and locked.version != expected_version:
            from kehu.core.exceptions import StaleRecordError

            raise StaleRecordError(
                locked,
                expected_version,
                audit.changes_since("interactions.task", locked.pk, expected_version),
            )
        if locked.status == TaskStatus.DONE:
            return locked
        before = locked.status
        locked.status, locked.completed_at = TaskStatus.DONE, timezone.now()
        locked.version += 1
        locked.updated_at = timezone.now()
        locked.save(update_fields=["status", "completed_at", "version", "updated_at"])
        audit.log(actor=by, action=AuditAction.UPDATE, instance=locked, changes={"status": [before, "done"]})
    return locked


def task_reopen(*, task: Task, by) -> Task:
    return records.record_update(
        instance=task, data={"status": TaskStatus.OPEN}, by=by, expected_version=None
    )


def tasks_transfer(*, from_user, to_user, by) -> dict[str, int]:
    """Transfer hook: a departing user's OPEN tasks go to the receiver; done tasks stay as history."""
    if not Access.of(by).can("transfer", Task):
        open_count = Task.objects.filter(owner=from_user, status=TaskStatus.OPEN).count()
        if open_count:
            raise PermissionDenied(_("You do not have the transfer right on tasks."))
        return {}
    rows = list(Task.objects.filter(owner=from_user, status=TaskStatus.OPEN).values_list("pk", "title"))
    if not rows:
        return {}
    from django.db.models import F

    Task.objects.filter(pk__in=[pk for pk, _t in rows]).update(
        owner=to_user, version=F("version") + 1, updated_at=timezone.now()
    )
    audit.log_many(
        actor=by,
        action=AuditAction.TRANSFER,
        model="interactions.task",
        rows=[(pk, title, {"owner": [str(from_user), str(to_user)]}) for pk, title in rows],
    )
    return {"interactions.task": len(rows)}


def reminders_send_due(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Send the reminders that are due: an in-app notification and, when the assignee has an email, a mail.

    Each task is claimed and notified in one transaction with a conditional UPDATE (reminded_at IS NULL): two
    workers never notify twice, and a worker killed mid-job leaves the task unclaimed for the next run. The
    email goes out after the commit (at most once; the in-app notification is the record of the reminder)."""
    now = now or timezone.now()
    due = list(
        Task.objects.filter(
            status=TaskStatus.OPEN, remind_at__lte=now, reminded_at__isnull=True, owner__isnull=False
        )
        .select_related("owner", "customer")
        .order_by("remind_at")[:limit]
    )
    sent = 0
    for task in due:
        owner, remind_at = task.owner, task.remind_at
        if owner is None or remind_at is None:  # excluded by the query; keeps the types honest
            continue
        url = reverse("interactions:task", args=[task.pk])
        # written for the assignee: their language and time zone, not the worker's defaults
        with (
            translation.override(owner.language or settings.LANGUAGE_CODE),
            timezone.override(_user_zone(owner)),
        ):
            title = _("Reminder: %(title)s") % {"title": task.title}
            due_text = timezone.localtime(task.due_at).strftime("%Y-%m-%d %H:%M")
            body = _("Due %(due)s") % {"due": due_text} + (f" · {task.customer}" if task.customer_id else "")
        with transaction.atomic():
            claimed = Task.objects.filter(pk=task.pk, reminded_at__isnull=True).update(reminded_at=now)
            if not claimed:
                continue
            notify(
                user=owner,
                title=title,
                body=body,
                url=url,
                dedup_key=f"task-reminder:{task.pk}:{remind_at.isoformat()}",
            )
            if owner.email:
                link = settings.KEHU_BASE_URL + url  # a mail needs an absolute link
                transaction.on_commit(partial(_mail, task.pk, owner.email, title, f"{body}\n{link}"))
        sent += 1
    return sent


def _user_zone(user) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone) if user.time_zone else timezone.get_default_timezone()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()


def _mail(task_id: int, recipient: str, subject: str, body: str) -> None:
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[recipient])
    except OSError:
        log.warning("reminder email for task %s could not be sent", task_id)
