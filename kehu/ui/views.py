"""Shell pages: home, global search, notifications, profile, API token, language switch."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from kehu.core import search, services
from kehu.core.inputs import safe_next
from kehu.core.models import Notification, User

from . import navigation

HOME_WIDGETS = []  # apps append callable(request) -> dict(kpis=[...], tasks=[...]) contributions
#: apps append callable(request, notifications) -> {notification id: {"template": ..., **context}}: an action
#: shown inline under the notification (the approvals' approve/reject buttons)
NOTIFICATION_ACTIONS = []


def home(request):
    ctx = {"kpis": [], "tasks": [], "title": _("Home")}
    for widget in HOME_WIDGETS:
        for key, value in widget(request).items():
            ctx.setdefault(key, [])
            ctx[key].extend(value)
    ctx["notifications"] = Notification.objects.filter(user=request.user, read_at__isnull=True)[:8]
    return render(request, "ui/home.html", ctx)


def search_view(request):
    q = request.GET.get("q", "").strip()
    results = search.global_search(user=request.user, q=q, limit=20) if q else []
    partial = bool(request.GET.get("partial"))  # the top bar's dropdown (a listbox, see kehu.js)
    template = "ui/search_results.html" if partial else "ui/search.html"
    return render(request, template, {"q": q, "results": results, "title": _("Search"), "dropdown": partial})


def notifications(request):
    if request.method == "POST":
        services.notifications_mark_read(user=request.user)
        return redirect("ui:notifications")
    items = list(Notification.objects.filter(user=request.user)[:100])
    for hook in NOTIFICATION_ACTIONS:
        actions = hook(request, items)
        for item in items:
            if item.pk in actions:
                item.action = actions[item.pk]
    return render(request, "ui/notifications.html", {"notifications": items, "title": _("Notifications")})


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name", "email", "phone", "job_title", "language", "time_zone"]

    def clean_time_zone(self):
        import zoneinfo

        value = self.cleaned_data["time_zone"].strip()
        if value:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise forms.ValidationError(_("Unknown time zone, e.g. Asia/Shanghai.")) from None
        return value


def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved."))
        response = redirect("ui:profile")
        if form.cleaned_data["language"]:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, form.cleaned_data["language"], samesite="Lax")
        return response
    token = Token.objects.filter(user=request.user).first()
    return render(
        request,
        "ui/profile.html",
        {"form": form, "token": token.key if token else "", "title": _("My profile")},
    )


@require_POST
def token(request):
    Token.objects.filter(user=request.user).delete()
    Token.objects.create(user=request.user)
    messages.success(request, _("A new API token was created; the old one no longer works."))
    return redirect("ui:profile")


@require_POST
def set_language(request):
    """Switch language: remembered in a cookie and, for a signed-in user, on their profile."""
    code = request.POST.get("language", "")
    nxt = safe_next(request)
    if code not in dict(settings.LANGUAGES):
        return HttpResponseRedirect(nxt)
    if request.user.is_authenticated:
        User.objects.filter(pk=request.user.pk).update(language=code)
    translation.activate(code)
    response = HttpResponseRedirect(nxt)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, code, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def arriving(request, key):
    for _title, items in navigation.SECTIONS:
        for item_key, label, *_rest in items:
            if item_key == key:
                return render(request, "ui/arriving.html", {"title": label})
    raise Http404
