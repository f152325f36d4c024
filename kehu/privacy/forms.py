from django import forms
from django.utils.translation import gettext_lazy as _

from .models import RequestChannel, RequestKind, RetentionAction


class RequestForm(forms.Form):
    customer_id = forms.IntegerField(widget=forms.HiddenInput)
    kind = forms.ChoiceField(label=_("kind"), choices=RequestKind.choices)
    requester = forms.CharField(label=_("requested by"), max_length=200)
    channel = forms.ChoiceField(label=_("channel"), choices=RequestChannel.choices)
    received_on = forms.DateField(label=_("received on"), required=False)
    verified = forms.BooleanField(label=_("identity verified"), required=False)
    details = forms.CharField(label=_("details"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    corrections = forms.CharField(
        label=_("corrections"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One field a line: field=new value (name, phone, email, city, …)"),
    )

    def clean_corrections(self) -> dict:
        result = {}
        for line in (self.cleaned_data.get("corrections") or "").splitlines():
            if not line.strip():
                continue
            if "=" not in line:
                raise forms.ValidationError(_("Write each correction as field=new value."))
            key, value = line.split("=", 1)
            result[key.strip()] = value.strip()
        return result


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("reason for rejection"), max_length=300)


class RetentionRuleForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=120)
    record_type = forms.ChoiceField(label=_("record type"), choices=())
    condition = forms.CharField(label=_("condition"), max_length=40, required=False)
    date_field = forms.CharField(label=_("age counted from"), max_length=60, initial="created_at")
    months = forms.IntegerField(label=_("keep for (months)"), min_value=1, max_value=1200)
    action = forms.ChoiceField(label=_("then"), choices=RetentionAction.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from .retention import record_types

        self.fields["record_type"].choices = record_types()


class SensitiveForm(forms.Form):
    field = forms.CharField(widget=forms.HiddenInput)
    value = forms.CharField(label=_("new value"), max_length=200, required=False)
