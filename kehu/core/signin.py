"""Sign-in protection: failed sign-ins are counted per user name and per client address (django-axes, database
handler, so every web process shares the counts); past the limit the user name or the address is locked out for a
cool-off period, with a clear message. API tokens are checked the same way: wrong tokens count against the client
address and a locked-out address gets 429. Lockouts and unlocks are in the audit trail (every sign-in is in axes'
access log); an administrator unlocks from Settings → Sign-in lockouts (or `manage.py axes_reset_username`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from . import audit
from .models import AuditAction, AuditEntry, User

API_PREFIX = "/api/"


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind `KEHU_TRUSTED_PROXIES` proxies, the address the nearest of them saw
    (counted from the right of X-Forwarded-For, which a client cannot forge past its first proxy); otherwise
    REMOTE_ADDR, so a client cannot dodge the per-address limit with a made-up header."""
    proxies = int(getattr(settings, "KEHU_TRUSTED_PROXIES", 0) or 0)
    if proxies > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "") or ""


def failure_limit() -> int:
    return int(settings.AXES_FAILURE_LIMIT)


def cool_off() -> dt.timedelta:
    return dt.timedelta(minutes=int(settings.KEHU_SIGNIN_COOLOFF_MINUTES))


def lockout_message() -> str:
    minutes = int(settings.KEHU_SIGNIN_COOLOFF_MINUTES)
    return _(
        "Too many failed sign-ins. Signing in is blocked for %(minutes)d minutes after the last attempt; "
        "an administrator can unlock it sooner."
    ) % {"minutes": minutes}


def lockout_response(
    request: HttpRequest, original_response=None, credentials: dict | None = None
) -> HttpResponse:
    """What a locked-out client sees: the sign-in page with the reason (429), or JSON for the API."""
    status = 429
    if request.path.startswith(API_PREFIX) or request.headers.get("x-requested-with") == "XMLHttpRequest":
        response: HttpResponse = JsonResponse({"detail": lockout_message()}, status=status)
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {"message": lockout_message(), "title": _("Sign in")},
            status=status,
        )
    response["Retry-After"] = str(int(cool_off().total_seconds()))
    return response


# ---------------------------------------------------------------------------------------------------- the audit
def _user_named(username: str | None) -> User | None:
    return User.objects.filter(username=username).first() if username else None


def _repr(username: str | None) -> str:
    user = _user_named(username)
    return (str(user) if user else (username or ""))[:200]


def _log(action: str, *, username: str | None, actor=None, note: str) -> None:
    audit.log(
        actor=actor,
        action=action,
        instance=_user_named(username),
        model="core.user",
        object_repr=_repr(username),
        note=note,
    )


def _locked_out(sender, request, username, ip_address, **kwargs) -> None:
    """One audit entry per lockout: attempts while locked out extend it (axes signals each) but are not new."""
    note = _("from %(ip)s") % {"ip": ip_address or "?"}
    recent = AuditEntry.objects.filter(
        action=AuditAction.LOCKOUT,
        model="core.user",
        object_repr=_repr(username),
        at__gte=timezone.now() - cool_off(),
    )
    if not recent.exists():
        _log(AuditAction.LOCKOUT, username=username, note=note)


def connect() -> None:
    """Called from CoreConfig.ready(): axes' own signal module imports models, so connect late."""
    from axes.signals import user_locked_out

    user_locked_out.connect(_locked_out, dispatch_uid="kehu-signin-lockout-audit")


# ------------------------------------------------------------------------------------------------ API tokens
class ThrottledTokenAuthentication(TokenAuthentication):
    """DRF token authentication whose failures count like failed sign-ins of the client address: a client
    guessing tokens is locked out (429) as a password guesser is."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith(self.keyword.lower() + " "):
            return None
        django_request = request._request
        # a token has no user name: its failures count against the address alone (a shared blank user name
        # would lock every token client out together)
        credentials = {"username": f"api-token@{client_ip(django_request)}"}
        if not AxesProxyHandler.is_allowed(django_request, credentials):
            raise exceptions.Throttled(detail=lockout_message(), wait=int(cool_off().total_seconds()))
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            user_login_failed.send(sender=type(self), credentials=credentials, request=django_request)
            raise


# ---------------------------------------------------------------------------------------- lockouts for admins
@dataclass(frozen=True)
class Lockout:
    pk: int
    username: str
    ip_address: str
    failures: int
    last_attempt: dt.datetime
    until: dt.datetime


def lockouts_current() -> list[Lockout]:
    """Who is locked out now: user names and addresses at or past the failure limit within the cool-off."""
    since = timezone.now() - cool_off()
    rows = AccessAttempt.objects.filter(
        failures_since_start__gte=failure_limit(), attempt_time__gte=since
    ).order_by("-attempt_time")
    return [
        Lockout(
            pk=row.pk,
            username=row.username or "",
            ip_address=row.ip_address or "",
            failures=row.failures_since_start,
            last_attempt=row.attempt_time,
            until=row.attempt_time + cool_off(),
        )
        for row in rows[:500]
    ]


def signin_unlock(*, username: str = "", ip_address: str = "", by: User) -> int:
    """Forget the failed sign-ins of a user name and/or an address (an administrator's unlock); audited.
    Returns how many attempt records were removed."""
    if not (username or ip_address):
        return 0
    match = Q()
    if username:
        match |= Q(username=username)
    if ip_address:
        match |= Q(ip_address=ip_address)
    removed, _detail = AccessAttempt.objects.filter(match).delete()
    if removed:
        what = ", ".join(v for v in (username, ip_address) if v)
        _log(AuditAction.UNLOCK, username=username or None, actor=by, note=what)
    return removed
