"""Staff sign-in security: two-factor devices and recovery codes, role policies, the sign-in history with its
new-device alert, and ending a user's sessions (docs/security.md)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from kehu.core import audit
from kehu.core.access import Access
from kehu.core.models import Action, AuditAction, Role, User
from kehu.core.services import notify
from kehu.core.signin import client_ip

from . import totp
from .models import KnownDevice, LoginEvent, LoginResult, RecoveryCode, RolePolicy, TOTPDevice, UserSession

RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
DEVICE_COOKIE = "kehu_device"
DEVICE_COOKIE_AGE = 2 * 365 * 24 * 3600


def _require_admin(by: User) -> None:
    access = Access.of(by)
    if not (access.is_superuser or access.can(Action.CHANGE, Role)):
        raise PermissionDenied(_("Administrators only."))


def _audit(user: User, *, by: User | None, note: str) -> None:
    audit.log(actor=by, action=AuditAction.UPDATE, instance=user, model="core.user", note=note)


# ------------------------------------------------------------------------------------------------ two-factor
def device_of(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user).first()


def totp_enabled(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def totp_required(user: User) -> bool:
    """Does one of the user's roles require two-factor sign-in?"""
    return RolePolicy.objects.filter(role__users=user, require_totp=True).exists()


def totp_setup_begin(*, user: User) -> TOTPDevice:
    """A new secret for the user's authenticator app; not in force until confirmed with a code."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user).first()
        if device is not None and device.confirmed:
            raise ValidationError(
                _("Two-factor sign-in is already on. Turn it off first to use another app.")
            )
        if device is None:
            device = TOTPDevice(user=user)
        device.secret = totp.new_secret()
        device.created_at = timezone.now()
        device.last_step = 0
        device.save()
    return device


def totp_setup_confirm(*, user: User, code: str) -> list[str]:
    """Turn two-factor sign-in on with the first right code; returns the new recovery codes (shown once)."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user).first()
        if device is None or device.confirmed:
            raise ValidationError({"code": _("Start the set-up again.")})
        step = totp.verify(device.secret, code)
        if step is None:
            raise ValidationError(
                {"code": _("The code is not right. Check the time on your phone and try again.")}
            )
        device.confirmed_at = timezone.now()
        device.last_step = step
        device.save(update_fields=["confirmed_at", "last_step"])
        codes = recovery_codes_new(user=user)
        _audit(user, by=user, note=_("two-factor sign-in turned on"))
    return codes


def totp_turn_off(*, user: User, code: str) -> None:
    """The user turns two-factor sign-in off (with a current code); not while a role requires it."""
    if totp_required(user):
        raise ValidationError({"code": _("Your role requires two-factor sign-in: it cannot be turned off.")})
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user).first()
        if device is None or not device.confirmed:
            return
        if totp.verify(device.secret, code, after_step=device.last_step) is None and not _recovery_use(
            user, code
        ):
            raise ValidationError({"code": _("The code is not right.")})
        device.delete()
        RecoveryCode.objects.filter(user=user).delete()
        _audit(user, by=user, note=_("two-factor sign-in turned off"))


def totp_reset(*, user: User, by: User) -> None:
    """An administrator removes a user's authenticator (lost phone): the user signs in with the password
    alone and — if a role requires it — sets up a new one at once. The user's sessions are ended."""
    _require_admin(by)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        _audit(user, by=by, note=_("two-factor sign-in reset by an administrator"))
    sessions_end_all(user=user, by=by)


def _recovery_hash(user: User, code: str) -> str:
    return salted_hmac("kehu.security.recovery", f"{user.pk}:{totp.clean(code).lower()}").hexdigest()


def recovery_codes_new(*, user: User) -> list[str]:
    """Ten new one-time recovery codes (the old ones stop working); only their keyed hashes are kept."""
    codes = [
        "-".join("".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODES)
    ]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            [RecoveryCode(user=user, code_hash=_recovery_hash(user, code)) for code in codes]
        )
    return codes


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def _recovery_use(user: User, code: str) -> bool:
    if len(totp.clean(code)) != 10:
        return False
    used = RecoveryCode.objects.filter(
        user=user, code_hash=_recovery_hash(user, code), used_at__isnull=True
    ).update(used_at=timezone.now())
    return used == 1


def second_factor_check(*, user: User, code: str) -> LoginResult | None:
    """The second step of a sign-in: a current code from the app (each code once) or an unused recovery code.
    Returns SUCCESS or RECOVERY, or None when the code is wrong."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
        if device is None:
            return None
        step = totp.verify(device.secret, code, after_step=device.last_step)
        if step is not None:
            TOTPDevice.objects.filter(pk=device.pk).update(last_step=step)
            return LoginResult.SUCCESS
        if _recovery_use(user, code):
            return LoginResult.RECOVERY
    return None


# ------------------------------------------------------------------------------------------------ role policy
def role_policy_set(*, role: Role, require_totp: bool, by: User) -> int:
    """Require (or stop requiring) two-factor sign-in of a role's users. When turned on, the sessions of the
    role's users who have not set it up are ended, so they set it up at their next sign-in. Returns how many
    users were signed out."""
    _require_admin(by)
    with transaction.atomic():
        policy, _created = RolePolicy.objects.get_or_create(role=role)
        if policy.require_totp == require_totp:
            return 0
        policy.require_totp = require_totp
        policy.save(update_fields=["require_totp"])
        audit.log(
            actor=by,
            action=AuditAction.PERMISSION,
            instance=role,
            changes={"require_totp": [not require_totp, require_totp]},
        )
    if not require_totp:
        return 0
    signed_out = 0
    for user in User.objects.filter(roles=role).exclude(totp_device__confirmed_at__isnull=False):
        if sessions_end_all(user=user, by=by, revoke_token=False, quiet=True):
            signed_out += 1
    return signed_out


# ------------------------------------------------------------------------------------------------ sessions
def _store() -> type[SessionBase]:
    return import_string(settings.SESSION_ENGINE + ".SessionStore")


def session_opened(*, request: HttpRequest, user: User) -> None:
    """Remember the session a user signed in with (called at sign-in)."""
    key = request.session.session_key
    if not key:
        request.session.save()
        key = request.session.session_key
    UserSession.objects.update_or_create(
        session_key=key,
        defaults={
            "user": user,
            "created_at": timezone.now(),
            "ip_address": client_ip(request) or None,
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
        },
    )


def session_rekeyed(*, old_key: str, new_key: str) -> None:
    """The session store gave a signed-in session a new key (a password change cycles it)."""
    UserSession.objects.filter(session_key=old_key).update(session_key=new_key)


def session_closed(*, key: str | None) -> None:
    if key:
        UserSession.objects.filter(session_key=key).delete()


def sessions_of(user: User) -> QuerySet[UserSession]:
    return UserSession.objects.filter(user=user).order_by("-created_at")


def sessions_end_all(*, user: User, by: User, revoke_token: bool = True, quiet: bool = False) -> int:
    """Sign the user out everywhere: every session they signed in with ends (on every device, this one too),
    and their API token is deleted (a new one can be created on their profile). Returns the sessions ended."""
    if by.pk != user.pk:
        _require_admin(by)
    store = _store()
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    for key in keys:
        store(session_key=key).delete()
    UserSession.objects.filter(user=user, session_key__in=keys).delete()
    tokens = 0
    if revoke_token:
        tokens, _detail = Token.objects.filter(user=user).delete()
    if not quiet or keys:
        note = _("signed out everywhere: %(sessions)d sessions ended") % {"sessions": len(keys)}
        if tokens:
            note += "; " + _("API token deleted")
        _audit(user, by=by, note=note)
    return len(keys)


# ------------------------------------------------------------------------------------------------ history
def login_recorded(
    *, request: HttpRequest, user: User | None, username: str, result: str, new_device: bool = False
) -> LoginEvent:
    return LoginEvent.objects.create(
        user=user,
        username=(username or (user.get_username() if user else ""))[:150],
        ip_address=client_ip(request) or None,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        result=result,
        new_device=new_device,
    )


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def device_seen(*, request: HttpRequest, user: User) -> tuple[bool, str]:
    """Is this browser new for the user? Returns (new, the device key its cookie must carry)."""
    key = request.COOKIES.get(DEVICE_COOKIE, "")
    if len(key) < 20 or len(key) > 64:
        key = ""
    now = timezone.now()
    ip = client_ip(request) or None
    agent = request.META.get("HTTP_USER_AGENT", "")[:300]
    if key:
        updated = KnownDevice.objects.filter(user=user, key_hash=_key_hash(key)).update(
            last_seen=now, last_ip=ip, user_agent=agent
        )
        if updated:
            return False, key
    key = key or secrets.token_urlsafe(24)
    KnownDevice.objects.get_or_create(
        user=user,
        key_hash=_key_hash(key),
        defaults={"user_agent": agent, "first_seen": now, "last_seen": now, "last_ip": ip},
    )
    return True, key


def new_device_alert(*, user: User, event: LoginEvent) -> None:
    """Tell the user (in the app and by email) about a sign-in from a device not seen before."""
    when = timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M %Z")
    title = _("New sign-in to your account from a new device")
    body = _(
        "Signed in at %(when)s from %(ip)s with %(agent)s. If this was not you, change your password and "
        "sign out everywhere on the Sign-in security page."
    ) % {"when": when, "ip": event.ip_address or "?", "agent": event.user_agent or _("an unknown browser")}
    notify(user=user, title=title, body=body, url="/security/")
    if user.email:
        link = f"{settings.KEHU_BASE_URL}/security/"
        send_mail(
            subject=f"[Kehu] {title}",
            message=f"{body}\n\n{link}\n",
            from_email=None,
            recipient_list=[user.email],
            fail_silently=True,
        )
