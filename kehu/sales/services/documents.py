"""Pieces shared by the quote, order and contract services: document numbers, status changes written under
the row lock with an audit entry, timeline events, approver lookup and notifications."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.models import AuditAction, User, VersionedModel
from kehu.core.services import notify
from kehu.interactions.services import timeline_event_record

log = logging.getLogger(__name__)
T = TypeVar("T")
D = TypeVar("D", bound=VersionedModel)


def next_number(model: type[models.Model], prefix: str, day=None) -> str:
    """The next free number `<prefix><yyyymm>-<nnnn>` of `model` (e.g. Q202605-0007). Not reserved: the
    caller inserts inside `with_number_retry`, which retries on the unique index when two users raced."""
    day = day or timezone.localdate()
    base = f"{prefix}{day:%Y%m}-"
    last = (
        model._default_manager.filter(number__startswith=base)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    seq = int(str(last).rsplit("-", 1)[1]) + 1 if last and str(last).rsplit("-", 1)[1].isdigit() else 1
    return f"{base}{seq:04d}"


def with_number_retry(create: Callable[[], T], attempts: int = 5) -> T:
    """Run `create` (which picks a number) in a savepoint; on a unique-number collision pick again."""
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                return create()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def ensure_customer_visible(customer, by) -> None:
    from kehu.customers.selectors import customer_list

    if not customer_list(user=by).filter(pk=customer.pk).exists():
        raise Http404


def write_locked(locked: D, by, changes: dict, note: str = "") -> D:
    """Apply `changes` to a row locked by the caller, bump its version and audit the difference."""
    before = audit.snapshot(locked)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.version += 1
    locked.updated_at = timezone.now()
    locked.save()
    audit.log(
        actor=by,
        action=AuditAction.UPDATE,
        instance=locked,
        changes=audit.diff(before, audit.snapshot(locked)),
        note=note,
    )
    return locked


def timeline(document, key: str, subject: str, *, body: str = "", related_id=None, user=None) -> None:
    """A sales event on the customer's timeline, idempotent per (key, related_id)."""
    timeline_event_record(
        customer=document.customer,
        subject=subject,
        related_model=key,
        related_id=document.pk if related_id is None else related_id,
        url=document.get_absolute_url(),
        body=body,
        user=user,
    )


def tell(users, title_fn: Callable[[], str], url: str, dedup_key: str = "") -> None:
    """In-app notification to each user (in their language) and an email after the commit."""
    from kehu.interactions.services import _user_zone

    for user in {u.pk: u for u in users if u is not None and u.is_active}.values():
        with (
            translation.override(user.language or settings.LANGUAGE_CODE),
            timezone.override(_user_zone(user)),
        ):
            title = str(title_fn())
        notify(user=user, title=title, url=url, dedup_key=f"{dedup_key}:{user.pk}" if dedup_key else "")
        if user.email:
            transaction.on_commit(partial(_mail, user.email, title, settings.KEHU_BASE_URL + url))


def _mail(recipient: str, subject: str, body: str) -> None:
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[recipient])
    except OSError:
        log.warning("sales notification to %s could not be sent", recipient)


def users_with_role(role_id: int) -> list[User]:
    return list(User.objects.filter(roles__id=role_id, is_active=True).distinct())


def refuse(field: str, message: str):
    from django.core.exceptions import ValidationError

    return ValidationError({field: [message]})


__all__ = [
    "ensure_customer_visible",
    "next_number",
    "refuse",
    "tell",
    "timeline",
    "users_with_role",
    "with_number_retry",
    "write_locked",
    "_",
]
