"""Per-token scopes and rate limits, in the one place every API view passes: DRF's throttle step (no view
overrides `throttle_classes`, while several set their own permission classes). Portal users are refused here
whatever their credentials (an older DRF token included).

A scoped token (request.auth is an ApiToken) may call a view of app A only with `A:read` (safe methods) or
`A:write` (any method), or `*:read` / `*:write`; otherwise 403. Then its own rate applies (`rate_per_minute`,
a fixed one-minute window in the cache keyed by the token): 429 with Retry-After beyond it. Sessions and the
older DRF tokens are not limited here (sign-in protection still applies to them)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import exceptions, permissions
from rest_framework.throttling import SimpleRateThrottle

from kehu.core.access import Access

from . import tokens
from .models import ApiToken


def view_app(view) -> str:
    model = getattr(getattr(view, "queryset", None), "model", None) or getattr(view, "model", None)
    if model is not None:
        return model._meta.app_label
    parts = type(view).__module__.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "kehu" else "core"


class ApiTokenThrottle(SimpleRateThrottle):
    scope = "api-token"

    def __init__(self):  # the rate comes from the token, not from settings
        pass

    def get_cache_key(self, request, view):
        return f"throttle:api-token:{request.auth.pk}"

    def allow_request(self, request, view):
        user = request.user
        if user is not None and user.is_authenticated and Access.of(user).external is not None:
            # a portal principal never reaches the staff API, whatever the credentials (the boundary
            # middleware sees session users only; token users are known here, ADR 0020/0022)
            raise exceptions.PermissionDenied(_("Portal users have no access to the staff API."))
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        app = view_app(view)
        write = request.method not in permissions.SAFE_METHODS
        if not tokens.allows(token.scopes, app, write):
            raise exceptions.PermissionDenied(
                _("This token lacks the scope %(scope)s.")
                % {"scope": f"{app}:{'write' if write else 'read'}"}
            )
        self.rate = f"{token.rate_per_minute}/m"
        self.num_requests, self.duration = token.rate_per_minute, 60
        return super().allow_request(request, view)
