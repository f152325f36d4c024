"""The boundary between the portal and the staff application.

A signed-in portal user reaches only /portal/ (and static files, health): every staff page answers 403 and
the staff API 403 (JSON), whatever their rights would say; the site root sends them to the portal home.
Staff pages that a portal user must never render are thereby unreachable even if a view forgot a check; what
a portal user's queries return is decided separately by the portal scope (scope.py).
"""

from __future__ import annotations

from django.http import HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from .scope import profile_of

ALLOWED = ("/portal/", "/static/", "/healthz", "/favicon.ico")


class PortalBoundaryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        profile = profile_of(user) if user is not None and user.is_authenticated else None
        request.portal_user = profile
        if profile is None:
            return self.get_response(request)
        path = request.path_info
        if path.startswith(ALLOWED):
            return self.get_response(request)
        if path == "/":
            return redirect("portal:home")
        if path.startswith("/api/"):
            return JsonResponse({"detail": _("Portal users have no access to the staff API.")}, status=403)
        return HttpResponseForbidden(_("This page is for staff. Your portal is at /portal/."))
