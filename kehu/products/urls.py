from django.urls import path

from kehu.ui.generic import BulkActionView, RecordDeleteView

from . import views, views_prices
from .models import InstalledProduct, Product

app_name = "products"
urlpatterns = [
    path("", views.ProductList.as_view(), name="list"),
    path("bulk/", BulkActionView.as_view(model=Product), name="bulk"),
    path("new/", views.ProductEdit.as_view(), name="create"),
    path("<int:pk>/", views.ProductDetail.as_view(), name="detail"),
    path("<int:pk>/edit/", views.ProductEdit.as_view(), name="edit"),
    path("units/", views.UnitList.as_view(), name="units"),
    path("units/bulk/", BulkActionView.as_view(model=InstalledProduct), name="units_bulk"),
    path("units/new/", views.UnitEdit.as_view(), name="unit_create"),
    path("units/<int:pk>/", views.UnitDetail.as_view(), name="unit"),
    path("units/<int:pk>/edit/", views.UnitEdit.as_view(), name="unit_edit"),
    path(
        "units/<int:pk>/delete/",
        RecordDeleteView.as_view(model=InstalledProduct, success_url_name="products:units"),
        name="unit_delete",
    ),
    path("price-lists/", views_prices.PriceListList.as_view(), name="pricelists"),
    path("price-lists/new/", views_prices.PriceListEdit.as_view(), name="pricelist_create"),
    path("price-lists/<int:pk>/", views_prices.PriceListDetail.as_view(), name="pricelist"),
    path("price-lists/<int:pk>/edit/", views_prices.PriceListEdit.as_view(), name="pricelist_edit"),
    path("price-lists/<int:pk>/items/", views_prices.PriceListItemAdd.as_view(), name="pricelist_item_add"),
]
