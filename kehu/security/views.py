"""Staff sign-in with a second step, and the Sign-in security pages (docs/security.md)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core.inputs import safe_next
from kehu.core.models import Role, User
from kehu.core.signin import lockout_response

from . import selectors, services, totp
from .models import LoginResult
from .signals import SETUP_REQUIRED

PENDING = "kehu_pending_signin"
PENDING_SECONDS = 300  # the code must follow the password within five minutes
RECOVERY_SHOWN = "kehu_recovery_codes"

REASONS = {
    "idle": gettext_lazy("You were signed out after a time without activity. Sign in again."),
    "expired": gettext_lazy("Your session reached its maximum length. Sign in again."),
}


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
        help_text=gettext_lazy("The six digits your authenticator app shows, or one of your recovery codes."),
    )


class SignInView(auth_views.LoginView):
    """Django's sign-in page; a user with two-factor sign-in continues to the code step instead of being
    signed in by the password alone."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["reason"] = REASONS.get(self.request.GET.get("reason", ""), "")
        return context

    def form_valid(self, form):
        user = form.get_user()
        if services.totp_enabled(user):
            self.request.session[PENDING] = {
                "user": user.pk,
                "username": form.cleaned_data.get("username", user.get_username()),
                "backend": user.backend,
                "at": time.time(),
            }
            target = reverse("login_code")
            nxt = self.get_redirect_url()
            return redirect(f"{target}?{urlencode({'next': nxt})}" if nxt else target)
        return super().form_valid(form)


def _pending(request) -> tuple[dict, User] | None:
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    user = User.objects.filter(pk=pending.get("user"), is_active=True).first()
    return (pending, user) if user is not None else None


def login_code(request):
    """The second step: a code from the authenticator app or a recovery code. Wrong codes count as failed
    sign-ins of the user name and the address in the sign-in protection (kehu.core.signin): after the limit,
    both are locked out for the cool-off, whatever the code."""
    found = _pending(request)
    if found is None:
        request.session.pop(PENDING, None)
        return redirect("login")
    pending, user = found
    credentials = {"username": pending["username"], "kehu_step": "code"}
    if not AxesProxyHandler.is_allowed(request, credentials):
        request.session.pop(PENDING, None)
        services.login_recorded(
            request=request, user=user, username=pending["username"], result=LoginResult.LOCKED
        )
        return lockout_response(request)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = services.second_factor_check(user=user, code=form.cleaned_data["code"])
        if result is not None:
            request.session.pop(PENDING, None)
            request._kehu_login_result = result
            auth_login(request, user, backend=pending["backend"])
            if result == LoginResult.RECOVERY:
                messages.warning(
                    request,
                    _("You signed in with a recovery code: %(left)d left. Make new ones on Sign-in security.")
                    % {"left": services.recovery_codes_left(user)},
                )
            return redirect(safe_next(request))
        user_login_failed.send(sender=login_code, credentials=credentials, request=request)
        if getattr(request, "axes_locked_out", False):
            request.session.pop(PENDING, None)
            return lockout_response(request)
        form.add_error("code", _("The code is not right."))
    return render(
        request,
        "security/login_code.html",
        {"form": form, "next": request.GET.get("next", ""), "title": _("Two-factor sign-in")},
        status=400 if form.errors else 200,
    )


# ------------------------------------------------------------------------------------------------ my security
def my_security(request):
    user = request.user
    return render(
        request,
        "security/mine.html",
        {
            "title": _("Sign-in security"),
            "enabled": services.totp_enabled(user),
            "required": services.totp_required(user),
            "codes_left": services.recovery_codes_left(user),
            "events": selectors.login_history(user=user, of=user)[:50],
            "sessions": services.sessions_of(user)[:50],
            "current_key": request.session.session_key,
            "code_form": CodeForm(),
        },
    )


def two_factor(request):
    """Set up two-factor sign-in: the QR code and key, then the first code; the recovery codes once."""
    user = request.user
    if request.method == "POST" and request.POST.get("step") == "confirm":
        form = CodeForm(request.POST)
        if form.is_valid():
            try:
                codes = services.totp_setup_confirm(user=user, code=form.cleaned_data["code"])
            except ValidationError as exc:
                form.add_error("code", exc.message_dict.get("code", exc.messages)[0])
            else:
                request.session.pop(SETUP_REQUIRED, None)
                request.session[RECOVERY_SHOWN] = codes
                messages.success(request, _("Two-factor sign-in is on."))
                return redirect("security:recovery_codes")
        device = services.device_of(user)
    else:
        form = CodeForm()
        if services.totp_enabled(user):
            return redirect("security:mine")
        try:
            device = services.totp_setup_begin(user=user)
        except ValidationError:
            return redirect("security:mine")
    if device is None:
        return redirect("security:two_factor")
    uri = totp.provisioning_uri(device.secret, account=user.email or user.get_username())
    return render(
        request,
        "security/two_factor.html",
        {
            "title": _("Set up two-factor sign-in"),
            "form": form,
            "secret": device.secret,
            "uri": uri,
            "qr": totp.qr_data_uri(uri),
            "required": request.session.get(SETUP_REQUIRED, False),
        },
        status=400 if form.errors else 200,
    )


def recovery_codes(request):
    """The recovery codes just made, shown once; POST makes new ones (the old stop working)."""
    if request.method == "POST":
        if not services.totp_enabled(request.user):
            return redirect("security:mine")
        request.session[RECOVERY_SHOWN] = services.recovery_codes_new(user=request.user)
        return redirect("security:recovery_codes")
    codes = request.session.pop(RECOVERY_SHOWN, None)
    if not codes:
        return redirect("security:mine")
    response = render(request, "security/recovery_codes.html", {"title": _("Recovery codes"), "codes": codes})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def two_factor_off(request):
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            services.totp_turn_off(user=request.user, code=form.cleaned_data["code"])
        except ValidationError as exc:
            messages.error(request, exc.message_dict.get("code", exc.messages)[0])
        else:
            messages.success(request, _("Two-factor sign-in is off."))
    else:
        messages.error(request, _("Enter a code."))
    return redirect("security:mine")


@require_POST
def sign_out_everywhere(request):
    services.sessions_end_all(user=request.user, by=request.user)
    return redirect("login")


# ------------------------------------------------------------------------------------------------ administrators
def _require_admin(request) -> None:
    services._require_admin(request.user)


def logins(request):
    """Every staff sign-in, newest first; ?user=<id> for one user, ?failed=1 for failures only."""
    _require_admin(request)
    person = None
    if request.GET.get("user", "").isdigit():
        person = get_object_or_404(User, pk=int(request.GET["user"]))
    events = selectors.login_history(
        user=request.user, of=person, failed_only=request.GET.get("failed") == "1"
    )
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    context = {"title": _("Sign-in history"), "page": page, "person": person}
    if person is not None:
        context.update(
            enabled=services.totp_enabled(person),
            required=services.totp_required(person),
            sessions=services.sessions_of(person)[:50],
        )
    return render(request, "security/logins.html", context)


@require_POST
def user_action(request, pk: int):
    _require_admin(request)
    person = get_object_or_404(User, pk=pk)
    action = request.POST.get("action")
    if action == "sign_out":
        ended = services.sessions_end_all(user=person, by=request.user)
        messages.success(
            request, _("%(user)s is signed out everywhere (%(n)d sessions).") % {"user": person, "n": ended}
        )
    elif action == "reset_totp":
        services.totp_reset(user=person, by=request.user)
        messages.success(request, _("Two-factor sign-in of %(user)s was reset.") % {"user": person})
    return redirect(f"{reverse('security:logins')}?user={person.pk}")


def role_policies(request):
    _require_admin(request)
    roles = list(Role.objects.order_by("name").select_related("security_policy"))
    if request.method == "POST":
        wanted = {int(v) for v in request.POST.getlist("require_totp") if v.isdigit()}
        signed_out = 0
        for role in roles:
            signed_out += services.role_policy_set(role=role, require_totp=role.pk in wanted, by=request.user)
        messages.success(
            request,
            _("Saved. %(n)d users without two-factor sign-in were signed out and must set it up.")
            % {"n": signed_out},
        )
        return redirect("security:roles")
    rows = [
        (role, bool(getattr(getattr(role, "security_policy", None), "require_totp", False))) for role in roles
    ]
    return render(request, "security/roles.html", {"title": _("Two-factor sign-in by role"), "rows": rows})
