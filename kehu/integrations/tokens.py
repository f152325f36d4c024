"""API tokens (ADR 0022): create (the key is returned once), revoke, check a presented key, scopes.

A key is `kehu_<prefix>_<secret>`: the prefix (8 characters) finds the row, the SHA-256 of the whole key is
compared in constant time. Keys carry 190 random bits, so a plain hash is enough (no key stretching). The last
use is written at most once per `LAST_USE_EVERY` per token (one conditional UPDATE), not on every request."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.access import Access
from kehu.core.models import User

from .models import ApiToken, TokenKind

KEY_PREFIX = "kehu_"
LAST_USE_EVERY = dt.timedelta(minutes=5)
MAX_SCOPES = 50
ACCESS_LEVELS = ("read", "write")


def app_labels() -> list[str]:
    return sorted(c.label for c in apps.get_app_configs() if c.name.startswith("kehu."))


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def clean_scopes(scopes) -> list[str]:
    """["customers:read", "sales:write", "*:read"] — validated, deduplicated, sorted. 400-worthy errors name
    the bad entry."""
    if not isinstance(scopes, list) or not scopes or len(scopes) > MAX_SCOPES:
        raise ValidationError({"scopes": [_("Give a list of scopes such as customers:read or *:write.")]})
    known = set(app_labels()) | {"*"}
    result = set()
    for scope in scopes:
        app, _sep, level = str(scope).partition(":")
        if app not in known or level not in ACCESS_LEVELS:
            raise ValidationError(
                {"scopes": [_("Unknown scope %(scope)s: use <app>:read or <app>:write, app one of %(apps)s.")
                            % {"scope": str(scope)[:60], "apps": ", ".join(sorted(known))}]}
            )  # fmt: skip
        result.add(f"{app}:{level}")
    return sorted(result)


def allows(scopes: list[str], app: str, write: bool) -> bool:
    wanted = ("write",) if write else ("read", "write")
    return any(f"{a}:{level}" in scopes for a in (app, "*") for level in wanted)


def can_manage(actor: User, owner: User) -> bool:
    """A user manages their own tokens; administrators manage everyone's."""
    access = Access.of(actor)
    return actor.pk == owner.pk or access.is_superuser or access.can("change", "core.role")


def token_create(
    *, user: User, name: str, scopes, by: User, kind: str = TokenKind.PERSONAL, expires_at=None,
    rate_per_minute: int = 600, within: list[str] | None = None,
) -> tuple[ApiToken, str]:  # fmt: skip
    """A new token and its key (shown once). `within`: the scopes of the token that asks (a token never
    creates a broader one)."""
    if not can_manage(by, user):
        raise PermissionDenied(_("You may only manage your own tokens."))
    errors: dict[str, list[str]] = {}
    if Access.of(user).external is not None:
        errors["user"] = [_("Portal users cannot have API tokens: the staff API is not theirs.")]
    name = (name or "").strip()
    if not name or len(name) > 100:
        errors["name"] = [_("Give the token a name (at most 100 characters).")]
    try:
        scopes = clean_scopes(scopes)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if kind not in TokenKind.values:
        errors["kind"] = [_("Choose personal or integration.")]
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = [_("The expiry must be in the future.")]
    if not isinstance(rate_per_minute, int) or not 1 <= rate_per_minute <= 100_000:
        errors["rate_per_minute"] = [_("Between 1 and 100,000 requests per minute.")]
    if not errors and within is not None:
        broader = [s for s in scopes if not allows(within, *_split(s))]
        if broader:
            errors["scopes"] = [_("Broader than the token you use: %(s)s") % {"s": ", ".join(broader)}]
    if errors:
        raise ValidationError(errors)
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    token = ApiToken.objects.create(
        user=user, name=name, kind=kind, prefix=prefix, key_hash=key_hash(key), scopes=scopes,
        expires_at=expires_at, rate_per_minute=rate_per_minute, created_by=by,
    )  # fmt: skip
    audit.log(actor=by, action="create", instance=token, model="integrations.apitoken",
              changes={"name": [None, name], "scopes": [None, scopes], "user": [None, str(user)]})  # fmt: skip
    return token, key


def _split(scope: str) -> tuple[str, bool]:
    app, _sep, level = scope.partition(":")
    return app, level == "write"


def token_revoke(*, token: ApiToken, by: User) -> ApiToken:
    if not can_manage(by, token.user):
        raise PermissionDenied(_("You may only manage your own tokens."))
    if token.revoked_at is None:
        token.revoked_at, token.revoked_by = timezone.now(), by
        token.save(update_fields=["revoked_at", "revoked_by"])
        audit.log(actor=by, action="update", instance=token, model="integrations.apitoken",
                  changes={"revoked_at": [None, str(token.revoked_at)]})  # fmt: skip
    return token


def token_check(key: str) -> ApiToken | None:
    """The active token a presented key belongs to, or None. Writes the last use cheaply."""
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    prefix = key[len(KEY_PREFIX) :].split("_", 1)[0]
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.key_hash, key_hash(key)):
        return None
    if not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USE_EVERY:
        stale = now - LAST_USE_EVERY
        ApiToken.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=token.pk).update(
            last_used_at=now
        )
        token.last_used_at = now
    return token
