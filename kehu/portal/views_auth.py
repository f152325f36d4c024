"""Portal sign-in, two-step code, activation, password reset and sign-out.

Failed passwords count in django-axes like the staff sign-in (same limits, same lockout answer: 429); the
two-step code allows MAX_CODE_TRIES per password step, and every wrong code also counts as a failed sign-in of
the user name and the address (so signing in again with the password does not give a guesser new tries).
"""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.inputs import safe_next
from kehu.core.signin import lockout_response

from . import services
from .forms import CodeForm
from .models import PortalUser
from .scope import profile_of
from .tokens import activation_token

BACKEND = "kehu.portal.backends.AccountBackend"
PENDING = "portal_pending_user"
PENDING_NAME = "portal_pending_username"
TRIES = "portal_code_tries"
MAX_CODE_TRIES = 5


def _next(request):
    nxt = safe_next(request, fallback="/portal/")
    return nxt if nxt.startswith("/portal/") else "/portal/"


def login(request):
    if request.user.is_authenticated and getattr(request, "portal_user", None) is not None:
        return redirect("portal:home")
    form = AuthenticationForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        profile = profile_of(user)
        if profile is None:
            form.add_error(None, _("This is not a portal account. Staff sign in at /accounts/login/."))
        elif profile.totp_enabled:
            request.session[PENDING] = user.pk
            request.session[PENDING_NAME] = form.cleaned_data.get("username", "")
            request.session[TRIES] = 0
            return redirect(f"{reverse_lazy('portal:login_code')}?next={_next(request)}")
        else:
            auth_login(request, user, backend=BACKEND)
            return redirect(_next(request))
    return render(request, "portal/login.html", {"form": form, "next": request.GET.get("next", "")})


def login_code(request):
    pk = request.session.get(PENDING)
    profile = (
        PortalUser.objects.select_related("user").filter(user_id=pk, user__is_active=True).first()
        if pk
        else None
    )
    if profile is None:
        return redirect("portal:login")
    credentials = {"username": request.session.get(PENDING_NAME) or profile.user.get_username()}
    if not AxesProxyHandler.is_allowed(request, credentials):
        request.session.pop(PENDING, None)
        return lockout_response(request)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.totp_verify(profile, form.cleaned_data["code"]):
            request.session.pop(PENDING, None)
            auth_login(request, profile.user, backend=BACKEND)
            return redirect(_next(request))
        user_login_failed.send(sender=login_code, credentials=credentials, request=request)
        request.session[TRIES] = request.session.get(TRIES, 0) + 1
        if request.session[TRIES] >= MAX_CODE_TRIES:
            request.session.pop(PENDING, None)
            messages.error(request, _("Too many wrong codes. Sign in again."))
            return redirect("portal:login")
        form.add_error("code", _("The code is not right."))
    return render(request, "portal/login_code.html", {"form": form, "next": request.GET.get("next", "")})


@require_POST
def logout(request):
    auth_logout(request)
    return redirect("portal:login")


def _user_from(uidb64):
    try:
        return get_user_model()._default_manager.get(pk=force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, get_user_model().DoesNotExist):
        return None


def activate(request, uidb64, token):
    user = _user_from(uidb64)
    valid = (
        user is not None
        and not user.is_active
        and profile_of(user) is not None
        and activation_token.check_token(user, token)
    )
    if not valid:
        return render(
            request,
            "portal/message.html",
            {
                "title": _("This link does not work"),
                "text": _("It was used already or it expired. Ask your contact for a new invitation."),
            },
            status=400,
        )
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.portal_user_activate(user=user, password=form.cleaned_data["new_password1"])
        auth_login(request, user, backend=BACKEND)
        messages.success(request, _("Welcome! Your portal access is ready."))
        return redirect("portal:home")
    return render(request, "portal/activate.html", {"form": form, "invited": user})


class PortalPasswordResetForm(PasswordResetForm):
    """Reset mail only for active portal users (staff reset their passwords with an administrator)."""

    def get_users(self, email):
        return (user for user in super().get_users(email) if PortalUser.objects.filter(user=user).exists())


class PasswordReset(auth_views.PasswordResetView):
    template_name = "portal/password_reset.html"
    email_template_name = "portal/email/password_reset.txt"
    subject_template_name = "portal/email/password_reset_subject.txt"
    form_class = PortalPasswordResetForm
    success_url = reverse_lazy("portal:password_reset_done")


class PasswordResetDone(auth_views.PasswordResetDoneView):
    template_name = "portal/password_reset_done.html"


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    template_name = "portal/password_reset_confirm.html"
    success_url = reverse_lazy("portal:login")

    def form_valid(self, form):
        messages.success(self.request, _("Your password is changed. Sign in with it."))
        return super().form_valid(form)
