from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core.models import Tag

from .models import (
    PROFILE_FIELDS,
    Channel,
    ConsentMethod,
    ConsentStatus,
    Customer,
    CustomerAddress,
    CustomerPhone,
    Kind,
    SocialIdentity,
    Stage,
)

# Fields that only mean something for one kind of customer; the form shows them for that kind only.
PERSON_ONLY = (
    "account",
    "job_title",
    "gender",
    "birthday",
    "id_number",
    "age_band",
    "occupation",
    "income_band",
)
ORGANIZATION_ONLY = ("parent", "industry", "website", "tax_id")


class CustomerForm(forms.ModelForm):
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")
    # the resident ID number: validated (GB 11643 check digit), then stored only as a keyed hash and its
    # masked form (identity.py); left empty, the stored one is kept
    id_number = forms.CharField(
        label=_("ID number"),
        required=False,
        max_length=30,
        help_text=_("18 characters; stored only masked and as a hash for finding duplicates."),
    )

    class Meta:
        model = Customer
        fields = ["kind", *PROFILE_FIELDS[:2], "account", "parent", *PROFILE_FIELDS[2:], "owner", "tags"]
        widgets = {
            "birthday": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 3}),
            "tags": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)

        for name in ("account", "parent"):
            if name in self.fields:
                scoped_customer_field(self.fields[name], user, kind=Kind.ORGANIZATION)
        if "account" in self.fields:
            self.fields["account"].help_text = _("The organisation this person works for")
        for names, kind in ((PERSON_ONLY, Kind.PERSON), (ORGANIZATION_ONLY, Kind.ORGANIZATION)):
            for name in names:
                if name in self.fields:
                    self.fields[name].show_if = f"kind={kind}"  # data-show-when (kehu.js)
        if "tags" in self.fields:
            self.fields["tags"].queryset = Tag.objects.all()
        if "owner" in self.fields:
            from kehu.core.models import User

            self.fields["owner"].queryset = User.objects.filter(is_active=True)
        # phones/emails are normalised by the model; let people type them as they like
        self.fields["phone"].max_length = None
        self.fields["phone"].widget.attrs.pop("maxlength", None)
        if self.instance and self.instance.id_number_masked:
            self.fields["id_number"].widget.attrs["placeholder"] = self.instance.id_number_masked

    def clean_id_number(self):
        from .identity import clean_id_number

        raw = self.cleaned_data.get("id_number", "")
        return clean_id_number(raw) if raw.strip() else ""

    def id_number_data(self) -> dict:
        """The stored columns for a newly entered ID number ({} when none was entered)."""
        from . import identity

        number = self.cleaned_data.get("id_number") if "id_number" in self.fields else ""
        if not number or self.fields["id_number"].disabled:
            return {}
        return {"id_number_hash": identity.digest(number), "id_number_masked": identity.mask(number)}


def scoped_customer_field(field, user, kind: str = "any") -> None:
    """Turn a customer ModelChoiceField into a search-as-you-type picker limited to the customers the user
    may see (an out-of-scope id is then an invalid choice, like any other)."""
    from django.urls import reverse

    from kehu.ui.widgets import RecordPicker

    from .selectors import customer_list

    queryset = customer_list(user=user) if user else Customer.objects.none()
    field.queryset = queryset.filter(kind=kind) if kind != "any" else queryset
    field.widget = RecordPicker(lookup_url=reverse("customers:lookup", args=[kind]))
    field.widget.choices = field.choices


class ContactPointForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("phone", _("Phone")), ("email", _("Email")), ("social", _("Social id"))], label=_("Type")
    )
    value = forms.CharField(max_length=254, label=_("Value"))
    label = forms.ChoiceField(
        required=False,
        label=_("Phone type or network"),
        help_text=_("For a phone, its type; for a social id, its network."),
        choices=[
            ("", "—"),
            (_("Phone"), CustomerPhone.PhoneKind.choices),
            (_("Social id"), SocialIdentity.Network.choices),
        ],
    )

    def clean(self):
        data = super().clean()
        kind, label = data.get("kind"), data.get("label", "")
        allowed = {"phone": CustomerPhone.PhoneKind.values, "social": SocialIdentity.Network.values}.get(kind)
        if label and allowed is not None and label not in allowed:
            self.add_error("label", _("This type does not fit a contact point of this kind."))
        if kind == "email":
            data["label"] = ""
        return data


class AddressForm(forms.ModelForm):
    class Meta:
        model = CustomerAddress
        fields = ["kind", "country", "province", "city", "district", "street", "postal_code", "is_primary"]


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(choices=Channel.choices, label=_("Channel"))
    status = forms.ChoiceField(choices=ConsentStatus.choices, label=_("Status"))
    method = forms.ChoiceField(choices=ConsentMethod.choices, label=_("How"))
    evidence = forms.CharField(max_length=300, required=False, label=_("Evidence"))


class LifecycleForm(forms.Form):
    stage = forms.ChoiceField(choices=Stage.choices, label=_("Stage"))
    reason = forms.CharField(max_length=300, required=False, label=_("Reason"))
    version = forms.IntegerField(widget=forms.HiddenInput)
