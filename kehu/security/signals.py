"""Sign-in events: the history, the new-device alert, the session's clocks and its two-factor duty."""

from __future__ import annotations

import time

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from .models import LoginEvent, LoginResult

# session keys
AUTH_AT = "kehu_auth_at"  # when the user signed in (absolute expiry)
SEEN_AT = "kehu_seen_at"  # the last request, to the minute (idle expiry)
SESSION_ID = "kehu_sid"  # the session key recorded in UserSession (a changed key is followed)
SETUP_REQUIRED = "kehu_totp_setup"  # a role requires two-factor sign-in and the user has none yet


def _is_staff_user(user) -> bool:
    from kehu.portal.scope import profile_of

    return profile_of(user) is None


def _over_http(request: HttpRequest | None) -> bool:
    """A sign-in through a page (not the test client's force_login or the shell, whose request is empty)."""
    return request is not None and "REMOTE_ADDR" in request.META


def logged_in(sender, request, user, **kwargs) -> None:
    from . import services

    if request is None or not hasattr(request, "session"):
        return
    now = time.time()
    request.session[AUTH_AT] = now
    request.session[SEEN_AT] = now
    if not _is_staff_user(user):
        return
    if services.totp_required(user) and not services.totp_enabled(user):
        request.session[SETUP_REQUIRED] = True
    services.session_opened(request=request, user=user)
    request.session[SESSION_ID] = request.session.session_key
    if not _over_http(request):
        return
    known_before = LoginEvent.objects.filter(
        user=user, result__in=(LoginResult.SUCCESS, LoginResult.RECOVERY)
    ).exists()
    new, key = services.device_seen(request=request, user=user)
    request._kehu_device_key = key  # set as a cookie by the middleware
    event = services.login_recorded(
        request=request,
        user=user,
        username=user.get_username(),
        result=getattr(request, "_kehu_login_result", LoginResult.SUCCESS),
        new_device=new and known_before,
    )
    if event.new_device:
        services.new_device_alert(user=user, event=event)


def login_failed(sender, credentials, request=None, **kwargs) -> None:
    from kehu.core.models import User

    from . import services

    if not _over_http(request):
        return
    username = str((credentials or {}).get("username") or "")[:150]
    if username.startswith("api-token@") or not username:
        return  # API token failures: counted by the sign-in protection, not a person's sign-in
    user = User.objects.filter(username=username).first()
    if user is not None and not _is_staff_user(user):
        return
    if (credentials or {}).get("kehu_step") == "code":
        result = LoginResult.BAD_CODE
    elif getattr(request, "axes_locked_out", False):
        result = LoginResult.LOCKED
    else:
        result = LoginResult.BAD_PASSWORD
    services.login_recorded(request=request, user=user, username=username, result=result)


def logged_out(sender, request, user, **kwargs) -> None:
    from . import services

    if request is not None and hasattr(request, "session"):
        services.session_closed(key=request.session.session_key)


def connect() -> None:
    user_logged_in.connect(logged_in, dispatch_uid="kehu-security-logged-in")
    user_login_failed.connect(login_failed, dispatch_uid="kehu-security-login-failed")
    user_logged_out.connect(logged_out, dispatch_uid="kehu-security-logged-out")
