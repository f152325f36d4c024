from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.customers.models import Customer

from .models import PortalKind
from .scope import PROFILE_EDITABLE


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = list(PROFILE_EDITABLE)


class TicketForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    message = forms.CharField(label=_("Describe the problem"), widget=forms.Textarea(attrs={"rows": 5}))
    installed_product = forms.ModelChoiceField(
        label=_("Product (optional)"), queryset=None, required=False, empty_label=_("— none —")
    )

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["installed_product"].queryset = units
        self.fields["installed_product"].label_from_instance = lambda u: (
            f"{u.product.name} · {u.serial_number}"
        )


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Your message"), widget=forms.Textarea(attrs={"rows": 4}))


class RateForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("Your rating"), coerce=int, choices=[(i, "★" * i) for i in range(5, 0, -1)]
    )
    comment = forms.CharField(
        label=_("Comment (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class DealForm(forms.Form):
    company = forms.CharField(label=_("Company"), max_length=200)
    name = forms.CharField(label=_("Contact name"), max_length=120, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    city = forms.CharField(label=_("City"), max_length=80, required=False)
    budget = forms.DecimalField(
        label=_("Budget"), max_digits=16, decimal_places=2, required=False, min_value=0
    )
    need = forms.CharField(
        label=_("What the customer needs"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Six-digit code"),
        max_length=8,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    name = forms.CharField(label=_("Name"), max_length=150, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=PortalKind.choices, initial=PortalKind.CUSTOMER)
