from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProductsConfig(AppConfig):
    name = "kehu.products"
    label = "products"
    verbose_name = _("Products")

    def ready(self) -> None:
        from kehu.core import registry
        from kehu.customers import panels

        from . import models, search, widgets  # noqa: F401 - search registers its provider

        registry.register(models.Product, owner_field=None, url=lambda o: o.get_absolute_url())
        registry.register(models.ProductCategory, owner_field=None, nav=False)
        registry.register(models.PriceList, owner_field=None)
        registry.register(models.PriceListItem, owner_field=None, via="price_list", nav=False)
        registry.register(
            models.InstalledProduct,
            owner_field=None,
            via="customer",
            own_actions=True,
            url=lambda o: o.get_absolute_url(),
        )
        panels.register_panel(
            "installed_base",
            template="products/panel_units.html",
            render=widgets.units_panel,
            order=30,
            column="main",
        )
        panels.FIGURES.append(widgets.figures)
