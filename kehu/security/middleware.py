"""Session rules for signed-in users (docs/security.md): idle and absolute expiry, the two-factor set-up a role
requires before anything else, the device cookie of the new-device alert, and following a session's key when
the store changes it. Reads only the session (no query per request)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from . import services
from .signals import AUTH_AT, SEEN_AT, SESSION_ID, SETUP_REQUIRED

SEEN_RESOLUTION = 60  # seconds: the idle clock is written at most once a minute
SETUP_ALLOWED = (
    "/security/two-factor/",
    "/accounts/logout/",
    "/accounts/login/",
    "/static/",
    "/i18n/",
    "/language/",
)


def _expired(session) -> str | None:
    now = time.time()
    absolute = int(getattr(settings, "KEHU_SESSION_MAX_HOURS", 0) or 0) * 3600
    idle = int(getattr(settings, "KEHU_SESSION_IDLE_MINUTES", 0) or 0) * 60
    auth_at = session.get(AUTH_AT)
    if absolute and auth_at is not None and now - float(auth_at) > absolute:
        return "expired"
    seen = session.get(SEEN_AT)
    if idle and seen is not None and now - float(seen) > idle:
        return "idle"
    if idle and (seen is None or now - float(seen) >= SEEN_RESOLUTION):
        session[SEEN_AT] = now
    if auth_at is None:
        session[AUTH_AT] = now
    return None


def _api_like(request) -> bool:
    return request.path_info.startswith("/api/") or bool(request.headers.get("HX-Request"))


class SessionSecurityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        signed_in = session is not None and session.get("_auth_user_id") is not None
        if signed_in:
            reason = _expired(session)
            if reason:
                logout(request)
                if _api_like(request):
                    return JsonResponse({"detail": "session expired"}, status=401)
                query = urlencode({"next": request.get_full_path(), "reason": reason})
                return redirect(f"{reverse(settings.LOGIN_URL)}?{query}")
            if session.get(SETUP_REQUIRED) and not request.path_info.startswith(SETUP_ALLOWED):
                if _api_like(request):
                    return JsonResponse(
                        {"detail": "two-factor sign-in must be set up first (/security/two-factor/)"},
                        status=403,
                    )
                return redirect("security:two_factor")
        response = self.get_response(request)
        key = getattr(request, "_kehu_device_key", None)
        if key:
            response.set_cookie(
                services.DEVICE_COOKIE,
                key,
                max_age=services.DEVICE_COOKIE_AGE,
                httponly=True,
                samesite="Lax",
                secure=bool(getattr(settings, "SESSION_COOKIE_SECURE", False)),
            )
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_ID):
            key_now = session.session_key
            if key_now and key_now != session[SESSION_ID]:
                services.session_rekeyed(old_key=session[SESSION_ID], new_key=key_now)
                session[SESSION_ID] = key_now
        return response
