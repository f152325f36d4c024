from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from kehu.core.models import Department, Team, User
from kehu.products.models import ProductCategory

from .models import (
    AssignmentRule,
    CloseReason,
    Competitor,
    Lead,
    LeadActivity,
    LeadWebForm,
    Opportunity,
    Pipeline,
    Stage,
)


class LeadForm(forms.ModelForm):
    class Meta:
        model = Lead
        fields = [
            "kind", "company", "name", "job_title", "phone", "email", "city", "region", "product_line",
            "source", "campaign_ref", "status", "disqualify_reason", "disqualify_note", "score", "budget",
            "currency", "decision_maker", "need", "timeframe", "message", "notes", "owner",
        ]  # fmt: skip
        widgets = {
            "need": forms.Textarea(attrs={"rows": 2}),
            "message": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Department.objects.all()
        self.fields["product_line"].queryset = ProductCategory.objects.all()
        if "owner" in self.fields:
            self.fields["owner"].queryset = User.objects.filter(is_active=True)
        status = self.fields["status"]
        status.choices = (
            [c for c in status.choices if c[0] != "converted"]
            if self.instance.status != "converted"
            else status.choices
        )


class LeadActivityForm(forms.ModelForm):
    class Meta:
        model = LeadActivity
        fields = ["channel", "subject", "body", "occurred_at"]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 2}),
            "occurred_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        }

    def __init__(self, *args, **kwargs):
        from kehu.interactions.models import InteractionChannel

        super().__init__(*args, **kwargs)
        self.fields["channel"] = forms.ChoiceField(
            label=capfirst(_("channel")), choices=[c for c in InteractionChannel.choices if c[0] != "event"]
        )


class OpportunityForm(forms.ModelForm):
    class Meta:
        model = Opportunity
        fields = [
            "name", "customer", "contact", "pipeline", "amount", "currency", "expected_close_date", "next_step",
            "description", "owner",
        ]  # fmt: skip
        widgets = {
            "expected_close_date": forms.DateInput(attrs={"type": "date"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from kehu.customers.forms import scoped_customer_field

        scoped_customer_field(self.fields["customer"], user)
        scoped_customer_field(self.fields["contact"], user)
        self.fields["pipeline"].queryset = Pipeline.objects.filter(active=True)
        self.fields["pipeline"].required = False
        if "owner" in self.fields:
            self.fields["owner"].queryset = User.objects.filter(is_active=True)
        if self.instance.pk:
            self.fields["pipeline"].disabled = True


class MoveForm(forms.Form):
    stage = forms.ModelChoiceField(label=_("stage"), queryset=Stage.objects.none())
    close_reason = forms.ModelChoiceField(
        label=_("won/lost reason"), queryset=CloseReason.objects.filter(active=True), required=False
    )
    close_note = forms.CharField(label=_("close note"), max_length=300, required=False)
    lost_to = forms.ModelChoiceField(
        label=_("lost to"), queryset=Competitor.objects.filter(active=True), required=False
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, pipeline=None, **kwargs):
        super().__init__(*args, **kwargs)
        if pipeline is not None:
            self.fields["stage"].queryset = Stage.objects.filter(pipeline=pipeline, active=True)


class AssignmentRuleForm(forms.ModelForm):
    class Meta:
        model = AssignmentRule
        fields = [
            "name", "priority", "active", "region", "product_line", "source", "city", "method", "users", "team",
            "department", "sla_hours",
        ]  # fmt: skip
        widgets = {"users": forms.CheckboxSelectMultiple}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["users"].queryset = User.objects.filter(is_active=True)
        self.fields["team"].queryset = Team.objects.all()
        self.fields["region"].queryset = self.fields["department"].queryset = Department.objects.all()
        self.fields["product_line"].queryset = ProductCategory.objects.all()


class LeadWebFormForm(forms.ModelForm):
    redirect_url = forms.URLField(
        label=capfirst(_("redirect after submit")), required=False, assume_scheme="https"
    )

    class Meta:
        model = LeadWebForm
        fields = [
            "name",
            "active",
            "default_owner",
            "region",
            "product_line",
            "campaign_ref",
            "thank_you",
            "redirect_url",
            "rate_limit",
        ]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["default_owner"].queryset = User.objects.filter(is_active=True)
        self.fields["region"].queryset = Department.objects.all()
        self.fields["product_line"].queryset = ProductCategory.objects.all()


class PublicLeadForm(forms.Form):
    """The fields a visitor fills in on the embeddable form (+ the honeypot, hidden by CSS)."""

    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    name = forms.CharField(label=_("Your name"), max_length=120)
    job_title = forms.CharField(label=_("Job title"), max_length=120, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    city = forms.CharField(label=_("City"), max_length=80, required=False)
    message = forms.CharField(
        label=_("Message"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000, required=False
    )
    website = forms.CharField(label=_("Leave this field empty"), required=False)

    def clean(self):
        data = super().clean()
        if not (data.get("phone") or data.get("email")):
            raise forms.ValidationError(
                _("Give a phone number or an email address so that we can reach you.")
            )
        return data
