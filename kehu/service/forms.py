from __future__ import annotations

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kehu.core.models import User

from .models import (
    MessageKind,
    Ticket,
    TicketCategory,
    TicketKind,
    TicketPriority,
    TicketStatus,
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; type and size are checked by the service (attachments.check)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        items = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


class TicketForm(forms.ModelForm):
    class Meta:
        model = Ticket
        fields = [
            "subject",
            "kind",
            "priority",
            "channel",
            "category",
            "customer",
            "contact",
            "installed_product",
            "service_contract",
            "queue",
            "language",
            "requester_name",
            "requester_email",
        ]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from kehu.core.selectors import scoped
        from kehu.customers.forms import scoped_customer_field
        from kehu.products.models import InstalledProduct

        from .models import Queue, ServiceContract

        scoped_customer_field(self.fields["customer"], user)
        scoped_customer_field(self.fields["contact"], user, kind="person")
        self.fields["category"].queryset = TicketCategory.objects.filter(active=True)
        self.fields["queue"].queryset = Queue.objects.filter(active=True)
        # units and contracts of the ticket's customer only (a list of every unit would not scale)
        raw = (
            self.data.get("customer")
            if self.is_bound
            else (self.instance.customer_id or self.initial.get("customer"))
        )
        customer_id = int(raw) if str(raw or "").isdigit() else None
        units = scoped(InstalledProduct, user=user).select_related("product")
        contracts = scoped(ServiceContract, user=user)
        if customer_id is None:
            units, contracts = units.none(), contracts.none()
        else:
            units = units.filter(Q(customer_id=customer_id) | Q(customer__account_id=customer_id))
            contracts = contracts.filter(customer_id=customer_id)
        self.fields["installed_product"].queryset = units
        self.fields["service_contract"].queryset = contracts


class QuickTicketForm(forms.Form):
    """The 360° page's quick entry: what the customer reports, in a few fields."""

    subject = forms.CharField(label=_("Subject"), max_length=200)
    kind = forms.ChoiceField(label=_("Type"), choices=TicketKind.choices, initial=TicketKind.REQUEST)
    priority = forms.ChoiceField(
        label=_("Priority"), choices=TicketPriority.choices, initial=TicketPriority.NORMAL
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[
            ("phone", _("Phone")),
            ("email", _("Email")),
            ("wechat", _("WeChat")),
            ("agent", _("In person")),
        ],
        initial="phone",
    )
    installed_product = forms.TypedChoiceField(
        label=_("Product unit"), coerce=int, required=False, empty_value=None, choices=[("", "—")]
    )
    description = forms.CharField(
        label=_("What the customer reports"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )

    def __init__(self, *args, units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.units = {u.pk: u for u in units}
        self.fields["installed_product"].choices = [("", "—")] + [
            (
                u.pk,
                f"{u.product.name} #{u.serial_number}"
                + ("" if u.under_warranty else f" · {_('out of warranty')}"),
            )
            for u in units
        ]


class ReplyForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Type"),
        choices=[(MessageKind.REPLY, _("Public reply")), (MessageKind.NOTE, _("Internal note"))],
        initial=MessageKind.REPLY,
    )
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 6}), required=False)
    cc = forms.CharField(label=_("Cc"), required=False, help_text=_("Email addresses, separated by commas"))
    then_status = forms.ChoiceField(
        label=_("Then"),
        required=False,
        choices=[
            ("", _("keep the status")),
            (TicketStatus.PENDING, _("wait for the customer")),
            (TicketStatus.RESOLVED, _("mark resolved")),
        ],
    )
    files = MultipleFileField(label=_("Attachments"))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def cc_list(self) -> list[str]:
        return [
            a.strip()
            for a in self.cleaned_data.get("cc", "").replace("；", ",").replace(";", ",").split(",")
            if a.strip()
        ]


class AssignForm(forms.Form):
    owner = forms.ModelChoiceField(label=_("Assign to"), queryset=User.objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(is_active=True, agent_profile__isnull=False)


class MergeForm(forms.Form):
    target = forms.IntegerField(label=_("Merge into ticket #"), min_value=1)


class SplitForm(forms.Form):
    subject = forms.CharField(label=_("Subject of the new ticket"), max_length=200, required=False)
    messages = forms.TypedMultipleChoiceField(label=_("Messages"), coerce=int, choices=[])

    def __init__(self, *args, messages=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["messages"].choices = [(m.pk, f"#{m.pk} {m.body[:60]}") for m in messages]
