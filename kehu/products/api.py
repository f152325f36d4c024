"""Products API: catalogue, categories and the installed base (scoped by the holding customer)."""

from __future__ import annotations

import django_filters

from kehu.core.api import AccessAwareSerializer, CustomValuesField, ScopedModelViewSet

from .models import InstalledProduct, Product, ProductCategory


class CategorySerializer(AccessAwareSerializer):
    class Meta:
        model = ProductCategory
        fields = ["id", "name", "parent", "version"]
        read_only_fields = ["version"]


class ProductSerializer(AccessAwareSerializer):
    custom = CustomValuesField(required=False)

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "category",
            "unit",
            "list_price",
            "currency",
            "warranty_months",
            "description",
            "active",
            "tags",
            "custom",
            "version",
        ]
        read_only_fields = ["version"]


class UnitSerializer(AccessAwareSerializer):
    class Meta:
        model = InstalledProduct
        fields = [
            "id",
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
            "created_at",
            "version",
        ]
        read_only_fields = ["created_at", "version"]


class UnitFilterSet(django_filters.FilterSet):
    serial = django_filters.CharFilter(field_name="serial_number", lookup_expr="istartswith")
    warranty_end_before = django_filters.DateFilter(field_name="warranty_end", lookup_expr="lte")

    class Meta:
        model = InstalledProduct
        fields = ["customer", "product", "status", "serial", "warranty_end_before"]


class CategoryViewSet(ScopedModelViewSet):
    model = ProductCategory
    serializer_class = CategorySerializer


class ProductViewSet(ScopedModelViewSet):
    model = Product
    serializer_class = ProductSerializer
    filterset_fields = ["category", "active", "sku"]
    ordering_fields = ["name", "sku", "list_price"]


class UnitViewSet(ScopedModelViewSet):
    model = InstalledProduct
    serializer_class = UnitSerializer
    filterset_class = UnitFilterSet
    select_related = ("product", "customer")
    ordering_fields = ["purchase_date", "warranty_end", "id"]


def register(router) -> None:
    router.register("product-categories", CategoryViewSet, basename="productcategory")
    router.register("products", ProductViewSet, basename="product")
    router.register("installed-products", UnitViewSet, basename="installedproduct")
