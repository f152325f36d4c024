"""Request plumbing: login required everywhere, the user's language and time zone, audit context."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.utils import timezone, translation

from . import audit
from .access import request_scope

# /public/: pages meant for anonymous visitors (the embeddable lead form); each guards itself (rate limits)
PUBLIC_PREFIXES = (
    "/accounts/login/",
    "/static/",
    "/i18n/",
    "/healthz",
    "/metrics",  # loopback or KEHU_METRICS_TOKEN only (kehu/core/observability.py)
    "/api/schema/",
    "/favicon.ico",
    "/public/",
    "/portal/",  # the portal guards its own pages (kehu/portal/views.py: portal sign-in, portal users only)
)


class AccessRequestMiddleware:
    """The access engine's per-request cache (the share probe, kehu.core.access.request_scope): entered for
    the request, left when the response is returned, so nothing is kept between requests or users."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_scope():
            return self.get_response(request)


class LoginRequiredMiddleware:
    """Every URL needs a signed-in user except the login page, static files, health, API schema and /public/.
    API calls (authenticated by token in DRF) pass through to DRF, which answers 401/403 itself."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        api = path.startswith("/api/") and not path.startswith("/api/docs/")  # DRF answers 401/403 itself
        if request.user.is_authenticated or path.startswith(PUBLIC_PREFIXES) or api:
            return self.get_response(request)
        if request.headers.get("HX-Request"):
            return JsonResponse({"detail": "login required"}, status=401)
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)


class UserLanguageMiddleware:
    """A signed-in user's saved language wins over the browser's Accept-Language (an explicit language
    cookie, set by the language switch, wins over both)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if language and not request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME):
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


class UserTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tz_name = getattr(request.user, "time_zone", "") if request.user.is_authenticated else ""
        try:
            timezone.activate(zoneinfo.ZoneInfo(tz_name)) if tz_name else timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        response = self.get_response(request)
        timezone.deactivate()
        return response


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = audit.set_request_context(request.META.get("REMOTE_ADDR"))
        try:
            return self.get_response(request)
        finally:
            audit.reset_request_context(token)


class ContentSecurityPolicyMiddleware:
    """Sends settings.KEHU_CSP as the Content-Security-Policy of every response (docs/adr/0007). A view that
    may be framed by other sites (`xframe_options_exempt`: the public lead form) gets `frame-ancestors *`
    instead of the policy's own frame-ancestors."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = dict(settings.KEHU_CSP)

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" in response:
            return response
        policy = self.policy
        if getattr(response, "xframe_options_exempt", False):
            policy = {**policy, "frame-ancestors": "*"}
        response["Content-Security-Policy"] = "; ".join(f"{k} {v}" for k, v in policy.items())
        return response
