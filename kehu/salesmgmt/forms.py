from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.products.models import ProductCategory

from .models import SalesPlan


class PlanForm(forms.ModelForm):
    class Meta:
        model = SalesPlan
        fields = ["name", "period_kind", "year", "period_number", "currency", "actuals_source", "notes"]


class CompanyFigureForm(forms.Form):
    product_line = forms.ModelChoiceField(
        ProductCategory.objects.all(), label=_("Product line"), required=False, empty_label=_("All products")
    )
    amount = forms.DecimalField(
        label=_("Amount"), max_digits=16, decimal_places=2, min_value=0, required=False
    )
    units = forms.DecimalField(label=_("Units"), max_digits=14, decimal_places=3, min_value=0, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput)
