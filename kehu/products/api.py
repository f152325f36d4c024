"""Products API: catalogue, categories and the installed base (scoped by the holding customer)."""

from __future__ import annotations

import django_filters

from kehu.core.api import AccessAwareSerializer, CustomValuesField, ScopedModelViewSet

from .models import InstalledProduct, PriceList, PriceListItem, Product, ProductCategory


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


class PriceListItemSerializer(AccessAwareSerializer):
    class Meta:
        model = PriceListItem
        fields = ["id", "price_list", "product", "min_quantity", "unit_price", "version"]
        read_only_fields = ["version"]


class PriceListSerializer(AccessAwareSerializer):
    items = PriceListItemSerializer(many=True, read_only=True)

    class Meta:
        model = PriceList
        fields = [
            "id", "name", "currency", "customer_type", "valid_from", "valid_to", "active", "notes", "items", "version",
        ]  # fmt: skip
        read_only_fields = ["version"]


class PriceListViewSet(ScopedModelViewSet):
    """Price lists per customer class and currency with validity; `items` are the prices (tiers by quantity)."""

    model = PriceList
    serializer_class = PriceListSerializer
    filterset_fields = ["currency", "customer_type", "active"]
    prefetch_related = ("items",)
    ordering_fields = ["name", "valid_from"]


class PriceListItemViewSet(ScopedModelViewSet):
    model = PriceListItem
    serializer_class = PriceListItemSerializer
    filterset_fields = ["price_list", "product"]
    ordering_fields = ["min_quantity"]


def register(router) -> None:
    router.register("price-lists", PriceListViewSet, basename="pricelist")
    router.register("price-list-items", PriceListItemViewSet, basename="pricelistitem")
    router.register("product-categories", CategoryViewSet, basename="productcategory")
    router.register("products", ProductViewSet, basename="product")
    router.register("installed-products", UnitViewSet, basename="installedproduct")
