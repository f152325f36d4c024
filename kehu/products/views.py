"""Product catalogue and installed-base pages (generic list/detail/form views)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kehu.ui.generic import Column, RecordDetailView, RecordFormView, RecordListView

from . import selectors
from .filters import ProductFilter, UnitFilter
from .forms import ProductForm, UnitForm
from .models import InstalledProduct, Product


class ProductList(RecordListView):
    model = Product
    title = _("Products")
    columns = [
        Column("sku", _("SKU"), "sku"),
        Column("name", _("Name"), "name", link=True),
        Column("category", _("Category"), "category__name"),
        Column("list_price", _("List price"), "list_price"),
        Column("currency", _("Currency")),
        Column("active", _("Active"), "active"),
    ]
    filterset_class = ProductFilter
    search_fields = ("sku", "name")
    default_sort = "name"
    select_related = ("category",)
    create_url_name = "products:create"
    detail_url_name = "products:detail"
    export_fields = [
        "sku",
        "name",
        "unit",
        "list_price",
        "currency",
        "warranty_months",
        "active",
        "description",
    ]


class ProductDetail(RecordDetailView):
    model = Product
    template_name = "products/product_detail.html"
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
    select_related = ("category",)
    edit_url_name = "products:edit"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        # customers holding this product: only those the user may see
        units = selectors.unit_list(user=self.request.user).filter(product=ctx["object"])
        ctx["holders"] = list(units.order_by("-purchase_date")[:50])
        ctx["holder_count"] = units.count()
        return ctx


class ProductEdit(RecordFormView):
    model = Product
    form_class = ProductForm


class UnitList(RecordListView):
    model = InstalledProduct
    title = _("Installed base")
    columns = [
        Column("serial_number", _("Serial number"), "serial_number", link=True),
        Column("product", _("Product"), "product__name"),
        Column("customer", _("Customer"), "customer__name"),
        Column("purchase_date", _("Purchased"), "purchase_date"),
        Column("warranty_end", _("Warranty end"), "warranty_end"),
        Column("status", _("Status"), "status"),
        Column("location", _("Location")),
    ]
    filterset_class = UnitFilter
    search_fields = ("serial_number", "order_reference", "location")
    default_sort = "-purchase_date"
    select_related = ("product", "customer")
    create_url_name = "products:unit_create"
    detail_url_name = "products:unit"
    export_fields = [
        "serial_number",
        "quantity",
        "purchase_date",
        "order_reference",
        "warranty_end",
        "location",
        "status",
        "notes",
    ]


class UnitDetail(RecordDetailView):
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
    select_related = ("product", "customer")
    edit_url_name = "products:unit_edit"
    delete_url_name = "products:unit_delete"


class UnitEdit(RecordFormView):
    model = InstalledProduct
    form_class = UnitForm
    select_related = ("product", "customer")

    def get_form_kwargs(self):
        return {"user": self.request.user}

    def build_form(self, obj, data=None):
        form = super().build_form(obj, data)
        if obj is None and data is None and self.request.GET.get("customer", "").isdigit():
            form.initial["customer"] = self.request.GET["customer"]
        return form
