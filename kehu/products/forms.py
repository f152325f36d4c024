from django import forms
from django.utils.translation import gettext_lazy as _

from .models import InstalledProduct, Product, ProductCategory


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = [
            "sku",
            "name",
            "category",
            "unit",
            "list_price",
            "currency",
            "warranty_months",
            "active",
            "tags",
            "description",
        ]
        widgets = {"tags": forms.CheckboxSelectMultiple, "description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = ProductCategory.objects.all()


class UnitForm(forms.ModelForm):
    class Meta:
        model = InstalledProduct
        fields = [
            "customer",
            "product",
            "serial_number",
            "quantity",
            "purchase_date",
            "order_reference",
            "warranty_end",
            "location",
            "status",
            "notes",
        ]
        widgets = {
            "purchase_date": forms.DateInput(attrs={"type": "date"}),
            "warranty_end": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from kehu.customers.forms import scoped_customer_field

        scoped_customer_field(self.fields["customer"], user)
        self.fields["product"].queryset = Product.objects.filter(active=True)
        self.fields["warranty_end"].help_text = _("Empty: purchase date plus the product's standard warranty")
