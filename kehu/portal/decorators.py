from __future__ import annotations

from functools import wraps

from django.http import HttpResponseForbidden
from django.utils.translation import gettext as _


def portal_required(view):
    """Portal pages: a signed-in portal user (anonymous → the portal sign-in; staff → 403, they have their own
    pages). `request.profile` is the PortalUser."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path(), "portal:login")
        profile = getattr(request, "portal_user", None)
        if profile is None:
            return HttpResponseForbidden(_("The portal is for customers and partners; staff use the CRM."))
        request.profile = profile
        return view(request, *args, **kwargs)

    return wrapped
