from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Interaction, InteractionChannel, Task


class QuickLogForm(forms.Form):
    channel = forms.ChoiceField(choices=InteractionChannel.choices, label=_("Channel"))
    subject = forms.CharField(max_length=200, label=_("Subject"))
    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("Details"))
    direction = forms.ChoiceField(
        choices=[("out", _("Outbound")), ("in", _("Inbound")), ("internal", _("Internal"))],
        initial="out",
        required=False,
        label=_("Direction"),
    )
    duration_minutes = forms.IntegerField(min_value=0, max_value=24 * 60, required=False, label=_("Minutes"))
    latitude = forms.DecimalField(max_digits=9, decimal_places=6, required=False, widget=forms.HiddenInput)
    longitude = forms.DecimalField(max_digits=9, decimal_places=6, required=False, widget=forms.HiddenInput)

    def clean_direction(self) -> str:
        return self.cleaned_data.get("direction") or "out"


class InteractionForm(forms.ModelForm):
    class Meta:
        model = Interaction
        fields = ["channel", "direction", "subject", "body", "occurred_at", "duration_minutes", "user"]
        widgets = {
            "occurred_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "body": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)


class QuickTaskForm(forms.Form):
    title = forms.CharField(max_length=200, label=_("Title"))
    due_at = forms.DateTimeField(label=_("Due"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    remind_at = forms.DateTimeField(
        required=False, label=_("Remind at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


class TaskForm(forms.ModelForm):
    class Meta:
        model = Task
        fields = ["title", "customer", "due_at", "remind_at", "priority", "status", "owner", "notes"]
        widgets = {
            "due_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "remind_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from kehu.core.models import User
        from kehu.customers.forms import scoped_customer_field

        if "customer" in self.fields:
            scoped_customer_field(self.fields["customer"], user)
        if "owner" in self.fields:
            self.fields["owner"].queryset = User.objects.filter(is_active=True)
            self.fields["owner"].label = _("Assigned to")
