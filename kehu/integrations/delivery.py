"""Delivering webhooks (ADR 0022): claim due deliveries, POST them signed through the one sender, log each
attempt, back off exponentially with jitter, keep each object's events in order, disable a subscription that
keeps failing and tell its owner.

- Order per object: a delivery is due only when every earlier delivery of the same object to the same
  subscription was delivered, so a receiver that is down for hours gets the events again in their order.
- Nothing is dropped: a failed delivery stays pending with its next attempt time; a disabled subscription keeps
  its pending deliveries, and re-enabling it sends them in order.
- Backoff: BASE · 2^(attempts−1), capped at CAP, with equal jitter (half fixed, half random). When one delivery
  to a subscription fails, the rest of that subscription's batch waits as long (the receiver is likely down),
  and the round counts as one failure.
- After DISABLE_AFTER failed rounds in a row the subscription is disabled and its owner emailed.
- Claims: a lease (`status=sending`, `lease_until`) taken with SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL,
  so several workers share the queue; a worker that dies leaves leases that expire and are claimed again."""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections import defaultdict

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from . import sender
from .models import Attempt, Delivery, DeliveryStatus, Subscription

logger = logging.getLogger(__name__)

BASE = dt.timedelta(seconds=10)
CAP = dt.timedelta(hours=1)
LEASE = dt.timedelta(minutes=5)
DISABLE_AFTER = 15
BATCH = 500


def backoff(attempts: int, rng: random.Random | None = None) -> dt.timedelta:
    full = min(BASE * (2 ** max(attempts - 1, 0)), CAP)
    half = full / 2
    return half + half * (rng or random).random()


def _due(now):
    earlier_open = Delivery.objects.filter(
        subscription=OuterRef("subscription"), object_key=OuterRef("object_key"), id__lt=OuterRef("id")
    ).exclude(status=DeliveryStatus.DELIVERED)
    return (
        Delivery.objects.filter(subscription__active=True, next_attempt_at__lte=now)
        .filter(Q(status=DeliveryStatus.PENDING) | Q(status=DeliveryStatus.SENDING, lease_until__lt=now))
        .filter(~Exists(earlier_open))
        .order_by("id")
    )


def claim(limit: int = BATCH) -> list[Delivery]:
    now = timezone.now()
    with transaction.atomic():
        qs = _due(now)
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        ids = list(qs.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Delivery.objects.filter(id__in=ids).update(status=DeliveryStatus.SENDING, lease_until=now + LEASE)
    return list(
        Delivery.objects.filter(id__in=ids)
        .select_related("subscription", "subscription__owner")
        .order_by("id")
    )


def dispatch(limit: int = BATCH, max_rounds: int = 1000) -> int:
    """Send what is due, round after round (a round sends at most one event per object), until nothing is due.
    Returns how many were delivered."""
    delivered = 0
    for _round in range(max_rounds):
        batch = claim(limit)
        if not batch:
            break
        delivered += send_batch(batch)
    return delivered


def send_batch(batch: list[Delivery]) -> int:
    allowed = sender._allowed_hosts()
    by_sub: dict[int, list[Delivery]] = defaultdict(list)
    for d in batch:
        by_sub[d.subscription_id].append(d)
    delivered = 0
    for deliveries in by_sub.values():
        delivered += _send_subscription(deliveries, allowed)
    return delivered


def _send_subscription(deliveries: list[Delivery], allowed: set[str]) -> int:
    sub = deliveries[0].subscription
    conn = None
    try:
        conn = sender.open_connection(sub.url, allowed)
    except sender.Refused as exc:
        refused = str(exc)
    done_ids, attempts, failed_at, error_result = [], [], None, None
    started, budget = time.monotonic(), LEASE.total_seconds() / 2
    unsent: list[int] = []
    for i, d in enumerate(deliveries):
        if time.monotonic() - started > budget:  # a slow receiver: give the rest back before the lease ends
            unsent = [x.pk for x in deliveries[i:]]
            break
        now = timezone.now()
        if conn is None:
            result = sender.Result(None, refused[:300], 0)
        else:
            result = sender.post(
                sub.url, d.body.encode(), secret=sub.secret, connection=conn,
                headers={"Kehu-Event": d.event, "Kehu-Event-Id": str(d.event_id), "Kehu-Delivery": str(d.pk)},
            )  # fmt: skip
        attempts.append(Attempt(delivery=d, at=now, response_code=result.status, error=result.error,
                                duration_ms=result.duration_ms))  # fmt: skip
        if result.ok:
            done_ids.append((d, result))
            continue
        failed_at, error_result = i, result
        break
    if conn is not None:
        conn[0].close()
    now = timezone.now()
    with transaction.atomic():
        Attempt.objects.bulk_create(attempts)
        if unsent:
            Delivery.objects.filter(pk__in=unsent).update(status=DeliveryStatus.PENDING, lease_until=None)
        for d, result in done_ids:
            d.status, d.delivered_at, d.response_code, d.error = (
                DeliveryStatus.DELIVERED,
                now,
                result.status,
                "",
            )
            d.attempts += 1
            d.lease_until = None
        if done_ids:
            Delivery.objects.bulk_update(
                [d for d, _r in done_ids],
                ["status", "delivered_at", "response_code", "error", "attempts", "lease_until"],
            )
        if failed_at is None:
            if sub.failures:
                Subscription.objects.filter(pk=sub.pk).update(failures=0)
            return len(done_ids)
        failed = deliveries[failed_at]
        failed.attempts += 1
        wait = backoff(failed.attempts)
        retry_at = now + wait
        Delivery.objects.filter(pk=failed.pk).update(
            status=DeliveryStatus.PENDING, attempts=failed.attempts, next_attempt_at=retry_at, lease_until=None,
            response_code=error_result.status, error=error_result.error,
        )  # fmt: skip
        rest = [d.pk for d in deliveries[failed_at + 1 :]]
        if rest:  # not tried: the receiver is likely down; they wait as long, without counting an attempt
            Delivery.objects.filter(pk__in=rest).update(
                status=DeliveryStatus.PENDING, next_attempt_at=retry_at, lease_until=None
            )
        sub.refresh_from_db(fields=["failures", "active"])
        sub.failures += 1
        Subscription.objects.filter(pk=sub.pk).update(failures=sub.failures)
        disabled = sub.active and sub.failures >= DISABLE_AFTER
        if disabled:
            _disable(sub, error_result.error)
    if disabled:
        _tell_owner(sub, error_result.error)
    schedule(retry_at)
    return len(done_ids)


def _disable(sub: Subscription, error: str) -> None:
    reason = _("Disabled after %(n)d failed deliveries in a row; last: %(error)s") % {
        "n": sub.failures, "error": error}  # fmt: skip
    Subscription.objects.filter(pk=sub.pk).update(
        active=False, disabled_at=timezone.now(), disabled_reason=reason[:300]
    )
    from . import webhooks

    webhooks.invalidate()


def _tell_owner(sub: Subscription, error: str) -> None:
    owner = sub.owner
    if owner.email:
        with override(getattr(owner, "language", None) or settings.LANGUAGE_CODE):
            subject = _("Webhook %(name)s was disabled") % {"name": sub.name}
            body = _(
                "The webhook subscription %(name)s (%(url)s) failed %(n)d times in a row and was disabled. "
                "Its undelivered events are kept: fix the receiver, then enable the subscription again at "
                "%(link)s to send them in order.\n\nLast error: %(error)s"
            ) % {"name": sub.name, "url": sub.url, "n": sub.failures, "error": error,
                 "link": settings.KEHU_BASE_URL + f"/integrations/webhooks/{sub.pk}/"}  # fmt: skip
        send_mail(subject, body, None, [owner.email], fail_silently=True)


# ------------------------------------------------------------------------------------------------ scheduling
def kick() -> None:
    """Dispatch soon (a task), after new deliveries were committed."""
    from . import tasks

    try:
        tasks.dispatch_due.enqueue()
    except Exception:
        logger.exception("could not enqueue the webhook dispatch")


def schedule(when) -> None:
    """A dispatch at `when` where the task backend can defer (the database backend); otherwise the
    scheduler's periodic dispatch (`manage.py webhooks_scheduler`) picks the retry up."""
    from django_tasks import default_task_backend

    from . import tasks

    if not default_task_backend.supports_defer:
        return

    def enqueue():
        tasks.dispatch_due.using(run_after=when).enqueue()

    transaction.on_commit(enqueue)


# ---------------------------------------------------------------------------------------------- operations
def replay(delivery: Delivery) -> Delivery:
    """Send an event again (same body and event id, so a receiver can recognise it): a new delivery, queued
    after the object's other events."""
    copy = Delivery.objects.create(
        subscription=delivery.subscription, event_id=delivery.event_id, event=delivery.event,
        object_key=delivery.object_key, body=delivery.body,
    )  # fmt: skip
    transaction.on_commit(kick)
    return copy


def enable(sub: Subscription) -> None:
    Subscription.objects.filter(pk=sub.pk).update(
        active=True, failures=0, disabled_at=None, disabled_reason=""
    )
    Delivery.objects.filter(subscription=sub, status=DeliveryStatus.PENDING).update(
        next_attempt_at=timezone.now()
    )
    from . import webhooks

    webhooks.invalidate()
    transaction.on_commit(kick)
