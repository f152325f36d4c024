import datetime as dt

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import InstalledProduct, Product, ProductCategory, UnitStatus


class ProductFilter(django_filters.FilterSet):
    category = django_filters.ModelChoiceFilter(queryset=ProductCategory.objects.all(), label=_("Category"))
    active = django_filters.BooleanFilter(label=_("Active"))

    class Meta:
        model = Product
        fields = ["category", "active"]


class UnitFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=UnitStatus.choices, label=_("Status"))
    product = django_filters.ModelChoiceFilter(queryset=Product.objects.all(), label=_("Product"))
    warranty_within = django_filters.NumberFilter(
        method="filter_warranty", label=_("Warranty ends within (days)")
    )
    customer = django_filters.NumberFilter(field_name="customer_id", label=_("Customer id"))

    class Meta:
        model = InstalledProduct
        fields = ["status", "product", "customer"]

    def filter_warranty(self, queryset, name, value):
        today = timezone.localdate()
        return queryset.filter(
            warranty_end__gte=today, warranty_end__lte=today + dt.timedelta(days=int(value))
        )
