"""Integration pages: API tokens (yours; administrators: everyone's), webhook subscriptions with their delivery
log, replay and re-enable, and the administrators' allowed hosts. Thin: writes through tokens/services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.access import Access

from . import services, tokens
from .forms import AllowedHostForm, SubscriptionForm, TokenForm
from .models import AllowedHost, ApiToken, Delivery


def _staff(request):
    if Access.of(request.user).external is not None:
        raise PermissionDenied(_("You do not have access to this page."))


def _form_errors(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def token_list(request):
    _staff(request)
    admin = services.is_admin(request.user)
    qs = ApiToken.objects.select_related("user").order_by("-id")
    if not admin:
        qs = qs.filter(user=request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            token, key = tokens.token_create(
                user=request.user, name=data["name"], kind=data["kind"], scopes=list(data["scopes"]),
                expires_at=data["expires_at"], rate_per_minute=data["rate_per_minute"], by=request.user,
            )  # fmt: skip
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            request.session["integrations-new-key"] = key
            return redirect("integrations:tokens")
    context = {
        "title": _("API tokens"),
        "tokens": qs[:500],
        "form": form,
        "admin": admin,
        "new_key": request.session.pop("integrations-new-key", None),
    }
    return render(request, "integrations/tokens.html", context)


@require_POST
def token_revoke(request, pk: int):
    _staff(request)
    token = get_object_or_404(ApiToken, pk=pk)
    if not tokens.can_manage(request.user, token.user):
        raise PermissionDenied(_("You may only manage your own tokens."))
    tokens.token_revoke(token=token, by=request.user)
    messages.success(request, _("The token was revoked."))
    return redirect("integrations:tokens")


def webhook_list(request):
    _staff(request)
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sub = services.subscription_create(data=dict(form.cleaned_data), by=request.user)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            request.session["integrations-new-secret"] = sub.secret
            return redirect("integrations:webhook", pk=sub.pk)
    context = {
        "title": _("Webhooks"),
        "subscriptions": services.subscriptions_for(request.user).order_by("name", "id")[:500],
        "form": form,
        "admin": services.is_admin(request.user),
    }
    return render(request, "integrations/webhooks.html", context)


def webhook_detail(request, pk: int):
    _staff(request)
    sub = get_object_or_404(services.subscriptions_for(request.user), pk=pk)
    deliveries = (
        Delivery.objects.filter(subscription=sub).prefetch_related("attempt_log").order_by("-id")[:100]
    )
    context = {
        "title": sub.name,
        "sub": sub,
        "deliveries": deliveries,
        "new_secret": request.session.pop("integrations-new-secret", None),
    }
    return render(request, "integrations/webhook_detail.html", context)


@require_POST
def webhook_action(request, pk: int, what: str):
    _staff(request)
    sub = get_object_or_404(services.subscriptions_for(request.user), pk=pk)
    if what == "enable":
        services.subscription_update(sub=sub, data={"active": True}, by=request.user)
        messages.success(request, _("Enabled: the waiting events are sent in order."))
    elif what == "disable":
        services.subscription_update(sub=sub, data={"active": False}, by=request.user)
        messages.success(request, _("Disabled: new events wait until it is enabled again."))
    elif what == "delete":
        services.subscription_delete(sub=sub, by=request.user)
        messages.success(request, _("The subscription was deleted."))
        return redirect("integrations:webhooks")
    return redirect("integrations:webhook", pk=sub.pk)


@require_POST
def delivery_replay(request, pk: int):
    _staff(request)
    row = get_object_or_404(
        Delivery.objects.filter(subscription__in=services.subscriptions_for(request.user)), pk=pk
    )
    services.delivery_replay(delivery_row=row, by=request.user)
    messages.success(request, _("The event was queued again."))
    return redirect("integrations:webhook", pk=row.subscription_id)


def allowed_hosts(request):
    _staff(request)
    if not services.is_admin(request.user):
        raise PermissionDenied(_("You do not have access to this page."))
    form = AllowedHostForm(request.POST or None)
    if request.method == "POST":
        remove = request.POST.get("remove")
        if remove:
            services.allowed_host_remove(row=get_object_or_404(AllowedHost, pk=remove), by=request.user)
            return redirect("integrations:allowed_hosts")
        if form.is_valid():
            try:
                services.allowed_host_add(
                    host=form.cleaned_data["host"], note=form.cleaned_data["note"], by=request.user
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                return redirect("integrations:allowed_hosts")
    context = {"title": _("Allowed webhook hosts"), "hosts": AllowedHost.objects.all(), "form": form}
    return render(request, "integrations/allowed_hosts.html", context)
