from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from . import tokens, webhooks
from .models import TokenKind


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=TokenKind.choices)
    scopes = forms.MultipleChoiceField(label=_("Scopes"), widget=forms.CheckboxSelectMultiple)
    expires_at = forms.DateTimeField(label=_("Expires (empty: never)"), required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))  # fmt: skip
    rate_per_minute = forms.IntegerField(
        label=_("Requests per minute"), initial=600, min_value=1, max_value=100_000
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("*:read", _("Everything: read")), ("*:write", _("Everything: read and write"))]
        for app in tokens.app_labels():
            choices += [
                (f"{app}:read", f"{app}: " + str(_("read"))),
                (f"{app}:write", f"{app}: " + str(_("write"))),
            ]
        self.fields["scopes"].choices = choices


class SubscriptionForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    url = forms.CharField(label=_("URL"), max_length=500)
    events = forms.MultipleChoiceField(label=_("Events"), widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = webhooks.event_catalogue()


class AllowedHostForm(forms.Form):
    host = forms.CharField(label=_("Host"), max_length=255)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)
