"""Sharing one record with a user or a team (outside the normal scope rules). Owners and anyone who may
change the record can share it; the share list is shown on the record's page."""

from __future__ import annotations

from django import forms
from django.apps import apps
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from . import registry, services
from .models import RecordShare, ShareAccess, Team, User
from .selectors import get_visible


class ShareForm(forms.Form):
    user = forms.ModelChoiceField(
        User.objects.filter(is_active=True), required=False, label=gettext_lazy("User")
    )
    team = forms.ModelChoiceField(Team.objects.all(), required=False, label=gettext_lazy("Team"))
    access = forms.ChoiceField(choices=ShareAccess.choices, label=gettext_lazy("Access"))

    def clean(self):
        data = super().clean()
        if bool(data.get("user")) == bool(data.get("team")):
            raise forms.ValidationError(_("Choose either a user or a team."))
        return data


def _record(request, label: str, pk: int):
    entry = registry.get(label)
    if entry is None or entry.via or not entry.owner_field:
        raise Http404
    model = apps.get_model(label)
    return get_visible(model, user=request.user, pk=pk)


def shares_for(instance) -> list[RecordShare]:
    entry = registry.get(instance)
    if entry is None or entry.via or not entry.owner_field:
        return []
    return list(
        RecordShare.objects.filter(model=entry.label, object_id=instance.pk).select_related("user", "team")
    )


@require_POST
def share_add(request, label, pk):
    instance = _record(request, label, pk)
    form = ShareForm(request.POST)
    if form.is_valid():
        try:
            services.record_share(
                instance=instance,
                by=request.user,
                user=form.cleaned_data["user"],
                team=form.cleaned_data["team"],
                access=form.cleaned_data["access"],
            )
            messages.success(request, _("Shared."))
        except PermissionDenied as exc:
            messages.error(request, str(exc))
    else:
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
    return redirect(instance.get_absolute_url())


@require_POST
def share_remove(request, label, pk, share_pk):
    instance = _record(request, label, pk)
    share = RecordShare.objects.filter(pk=share_pk, model=label, object_id=instance.pk).first()
    if share is None:
        raise Http404
    try:
        services.record_unshare(share=share, instance=instance, by=request.user)
        messages.success(request, _("Sharing removed."))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    return redirect(instance.get_absolute_url())


app_name = "sharing"
urlpatterns = [
    path("<str:label>/<int:pk>/", share_add, name="add"),
    path("<str:label>/<int:pk>/<int:share_pk>/remove/", share_remove, name="remove"),
]
