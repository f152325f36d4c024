"""Webhook subscriptions and allowed hosts: create, change, enable, delete (ADR 0022). A subscription belongs
to its owner (payloads carry what the owner may see); administrators manage every subscription and the list of
hosts that webhooks may reach although private, loopback or link-local."""

from __future__ import annotations

import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.access import Access
from kehu.core.models import User

from . import delivery, sender, webhooks
from .models import AllowedHost, Delivery, Subscription

MAX_SUBSCRIPTIONS_PER_USER = 50


def is_admin(user: User) -> bool:
    access = Access.of(user)
    return access.is_superuser or access.can("change", "core.role")


def subscriptions_for(user: User):
    qs = Subscription.objects.select_related("owner")
    return qs if is_admin(user) else qs.filter(owner=user)


def _clean(data: dict, *, by: User, instance: Subscription | None) -> dict:
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    if instance is None or "name" in data:
        name = str(data.get("name") or "").strip()
        if not name or len(name) > 100:
            errors["name"] = [_("Give the subscription a name (at most 100 characters).")]
        clean["name"] = name
    if instance is None or "url" in data:
        url = str(data.get("url") or "").strip()
        if len(url) > 500:
            errors["url"] = [_("At most 500 characters.")]
        else:
            try:
                sender.check_url(url)
            except sender.Refused as exc:
                errors["url"] = [str(exc)]
        clean["url"] = url
    if instance is None or "events" in data:
        events = data.get("events")
        known = webhooks.event_names()
        if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
            errors["events"] = [_("Choose at least one event.")]
        else:
            unknown = [e for e in events if e not in known]
            if unknown:
                errors["events"] = [_("Unknown events: %(e)s") % {"e": ", ".join(unknown[:5])}]
            clean["events"] = sorted(set(events))
    if "secret" in data and data["secret"] not in (None, ""):
        secret = str(data["secret"])
        if len(secret) < 16 or len(secret) > 100:
            errors["secret"] = [_("A signing secret has 16 to 100 characters.")]
        clean["secret"] = secret
    elif instance is None:
        clean["secret"] = "whsec_" + secrets.token_urlsafe(24)
    if "owner" in data and data["owner"] is not None:
        owner = data["owner"]
        if not isinstance(owner, User):
            owner = User.objects.filter(pk=owner).first()
        if owner is None or (owner.pk != by.pk and not is_admin(by)):
            errors["owner"] = [_("Only an administrator subscribes on behalf of another user.")]
        clean["owner"] = owner
    elif instance is None:
        clean["owner"] = by
    if "active" in data:
        clean["active"] = bool(data["active"])
    if errors:
        raise ValidationError(errors)
    if (
        instance is None
        and Subscription.objects.filter(owner=clean["owner"]).count() >= MAX_SUBSCRIPTIONS_PER_USER
    ):
        raise ValidationError(
            {"name": [_("At most %(n)d subscriptions per user.") % {"n": MAX_SUBSCRIPTIONS_PER_USER}]}
        )
    return clean


def subscription_create(*, data: dict, by: User) -> Subscription:
    clean = _clean(data, by=by, instance=None)
    with transaction.atomic():
        sub = Subscription.objects.create(**clean)
        audit.log(actor=by, action="create", instance=sub, model="integrations.subscription",
                  changes={"name": [None, sub.name], "url": [None, sub.url], "events": [None, sub.events]})  # fmt: skip
    webhooks.invalidate()
    return sub


def _check(sub: Subscription, by: User) -> None:
    if sub.owner_id != by.pk and not is_admin(by):
        raise PermissionDenied(_("You may only manage your own subscriptions."))


def subscription_update(*, sub: Subscription, data: dict, by: User) -> Subscription:
    _check(sub, by)
    clean = _clean(data, by=by, instance=sub)
    reactivate = clean.pop("active", None)
    with transaction.atomic():
        before = {k: getattr(sub, k) for k in clean if k != "secret"}
        for key, value in clean.items():
            setattr(sub, key, value)
        sub.save()
        changes: dict[str, list] = {
            k: [str(v), str(getattr(sub, k))] for k, v in before.items() if v != getattr(sub, k)
        }
        if "secret" in clean:
            changes["secret"] = ["…", "…"]
        if reactivate is True and not sub.active:
            delivery.enable(sub)
            changes["active"] = [False, True]
        elif reactivate is False and sub.active:
            Subscription.objects.filter(pk=sub.pk).update(active=False)
            changes["active"] = [True, False]
        audit.log(actor=by, action="update", instance=sub, model="integrations.subscription", changes=changes)
    webhooks.invalidate()
    sub.refresh_from_db()
    return sub


def subscription_delete(*, sub: Subscription, by: User) -> None:
    _check(sub, by)
    with transaction.atomic():
        audit.log(actor=by, action="delete", instance=sub, model="integrations.subscription",
                  changes={"name": [sub.name, None]})  # fmt: skip
        sub.delete()
    webhooks.invalidate()


def delivery_replay(*, delivery_row: Delivery, by: User) -> Delivery:
    _check(delivery_row.subscription, by)
    return delivery.replay(delivery_row)


def allowed_host_add(*, host: str, note: str = "", by: User) -> AllowedHost:
    if not is_admin(by):
        raise PermissionDenied(_("Only an administrator allows a webhook host."))
    host = (host or "").strip().lower().strip("[]")
    if not host or len(host) > 255 or any(c in host for c in "/@?#\\ \t"):
        raise ValidationError(
            {"host": [_("Enter a host name or an IP address, without scheme, port or path.")]}
        )
    if AllowedHost.objects.filter(host=host).exists():
        raise ValidationError({"host": [_("This host is already allowed.")]})
    row = AllowedHost.objects.create(host=host, note=(note or "")[:200], created_by=by)
    audit.log(
        actor=by,
        action="create",
        instance=row,
        model="integrations.allowedhost",
        changes={"host": [None, host]},
    )
    return row


def allowed_host_remove(*, row: AllowedHost, by: User) -> None:
    if not is_admin(by):
        raise PermissionDenied(_("Only an administrator allows a webhook host."))
    audit.log(
        actor=by,
        action="delete",
        instance=row,
        model="integrations.allowedhost",
        changes={"host": [row.host, None]},
    )
    row.delete()
