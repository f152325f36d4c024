"""Forms of the quote, order and contract pages."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core.models import User
from kehu.products.models import PriceList, Product

from .models import (
    Contract,
    InvoiceRequest,
    Opportunity,
    Order,
    OrderStatus,
    Payment,
    Quote,
    QuoteLine,
)

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class QuoteForm(forms.ModelForm):
    class Meta:
        model = Quote
        fields = [
            "customer", "contact", "opportunity", "price_list", "currency", "title", "valid_until", "language",
            "terms", "owner",
        ]  # fmt: skip
        widgets = {"valid_until": DATE, "terms": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from kehu.core.selectors import scoped
        from kehu.customers.forms import scoped_customer_field

        scoped_customer_field(self.fields["customer"], user)
        scoped_customer_field(self.fields["contact"], user)
        self.fields["opportunity"].queryset = scoped(Opportunity, user=user).filter(status="open")
        self.fields["price_list"].queryset = PriceList.objects.filter(active=True)
        self.fields["price_list"].required = False
        self.fields["valid_until"].required = False
        self.fields["currency"].required = False
        if "owner" in self.fields:
            self.fields["owner"].queryset = User.objects.filter(is_active=True)
        if self.instance.pk:
            for name in ("customer", "opportunity", "price_list", "currency"):
                self.fields[name].disabled = True

    def _post_clean(self):
        """The model's rules run in the service (which also assigns the number); its errors come back on
        the form's fields (kehu.ui.generic._apply_errors)."""


class QuoteLineForm(forms.ModelForm):
    class Meta:
        model = QuoteLine
        fields = ["product", "description", "quantity", "unit_price", "discount_percent", "tax_rate"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.filter(active=True)
        self.fields["unit_price"].required = False
        self.fields["unit_price"].help_text = _("Empty: the price list's price")

    def _post_clean(self):
        """The line's rules run in the service once the price is known."""


class QuoteLineEditForm(forms.Form):
    quantity = forms.DecimalField(label=_("quantity"), max_digits=12, decimal_places=3)
    unit_price = forms.DecimalField(label=_("unit price"), max_digits=16, decimal_places=2, required=False)
    discount_percent = forms.DecimalField(label=_("discount (%)"), max_digits=5, decimal_places=2)
    tax_rate = forms.TypedChoiceField(
        label=_("VAT rate (%)"), choices=QuoteLine._meta.get_field("tax_rate").choices, coerce=Decimal
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    comment = forms.CharField(label=_("comment"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


class OrderForm(forms.ModelForm):
    class Meta:
        model = Order
        fields = ["customer", "order_date", "currency", "opportunity", "shipping_address", "notes", "owner"]
        widgets = {"order_date": DATE, "shipping_address": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from kehu.core.selectors import scoped
        from kehu.customers.forms import scoped_customer_field

        scoped_customer_field(self.fields["customer"], user)
        self.fields["opportunity"].queryset = scoped(Opportunity, user=user)
        if "owner" in self.fields:
            self.fields["owner"].queryset = User.objects.filter(is_active=True)
        self.fields["order_date"].required = False
        self.fields["currency"].required = False
        if self.instance.pk:
            for name in ("customer", "currency"):
                self.fields[name].disabled = True

    def _post_clean(self):
        """The model's rules run in the service (which also assigns the number); its errors come back on
        the form's fields (kehu.ui.generic._apply_errors)."""


class OrderLineForm(forms.Form):
    product = forms.ModelChoiceField(
        label=_("product"), queryset=Product.objects.filter(active=True), required=False
    )
    description = forms.CharField(label=_("description"), max_length=300, required=False)
    quantity = forms.DecimalField(label=_("quantity"), max_digits=12, decimal_places=3)
    unit_price = forms.DecimalField(label=_("unit price"), max_digits=16, decimal_places=2, required=False)
    discount_percent = forms.DecimalField(label=_("discount (%)"), max_digits=5, decimal_places=2, initial=0)
    tax_rate = forms.TypedChoiceField(
        label=_("VAT rate (%)"),
        choices=QuoteLine._meta.get_field("tax_rate").choices,
        coerce=Decimal,
        initial=Decimal("13.00"),
    )


class OrderStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("status"), choices=OrderStatus.choices)
    note = forms.CharField(label=_("note"), max_length=300, required=False)


class ContractForm(forms.ModelForm):
    class Meta:
        model = Contract
        fields = [
            "title", "customer", "customer_signatory", "our_signatory", "opportunity", "amount", "currency",
            "start_date", "end_date", "signed_date", "terms", "renewal_notice_days", "owner",
        ]  # fmt: skip
        widgets = {
            "start_date": DATE,
            "end_date": DATE,
            "signed_date": DATE,
            "terms": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from kehu.core.selectors import scoped
        from kehu.customers.forms import scoped_customer_field

        scoped_customer_field(self.fields["customer"], user)
        scoped_customer_field(self.fields["customer_signatory"], user)
        self.fields["opportunity"].queryset = scoped(Opportunity, user=user)
        self.fields["our_signatory"].queryset = User.objects.filter(is_active=True)
        if "owner" in self.fields:
            self.fields["owner"].queryset = User.objects.filter(is_active=True)

    def _post_clean(self):
        """The model's rules run in the service (which also assigns the number); its errors come back on
        the form's fields (kehu.ui.generic._apply_errors)."""


class InstalmentPlanForm(forms.Form):
    """The plan as lines `YYYY-MM-DD amount [notes]`, one instalment a line."""

    plan = forms.CharField(
        label=_("receivable plan"),
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "2026-06-30 50000.00"}),
        help_text=_("One instalment a line: due date, amount, notes"),
    )

    def rows(self) -> list[dict]:
        import datetime as dt
        from decimal import Decimal, InvalidOperation

        rows = []
        for n, raw in enumerate(self.cleaned_data["plan"].splitlines(), 1):
            parts = raw.split(None, 2)
            if not parts:
                continue
            try:
                due = dt.date.fromisoformat(parts[0])
                amount = Decimal(parts[1].replace(",", ""))
            except (ValueError, IndexError, InvalidOperation):
                raise forms.ValidationError(_("Line %(n)s: write a date and an amount.") % {"n": n}) from None
            rows.append({"due_date": due, "amount": amount, "notes": parts[2] if len(parts) > 2 else ""})
        return rows


class PaymentForm(forms.ModelForm):
    class Meta:
        model = Payment
        fields = ["amount", "received_on", "method", "reference", "counts_as_actual", "notes"]
        widgets = {"received_on": DATE}


class InvoiceRequestForm(forms.ModelForm):
    class Meta:
        model = InvoiceRequest
        fields = ["invoice_type", "title", "tax_number", "address_phone", "bank_account", "amount", "notes"]
