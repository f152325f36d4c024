from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "kehu.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from kehu.core import registry

        from . import models, search  # noqa: F401 - registers the search provider

        registry.register(models.Customer, owner_field="owner", url=lambda o: o.get_absolute_url())
        from kehu.ui.views import HOME_WIDGETS

        from . import panels, widgets

        HOME_WIDGETS.append(widgets.home)
        panels.FIGURES.append(widgets.figures)
        panels.register_panel(
            "pipeline",
            template="customers/panel_placeholder.html",
            render=widgets.pipeline_placeholder,
            order=60,
            column="main",
        )
        for sub, attribution in (
            (models.CustomerPhone, ()),
            (models.CustomerEmail, ()),
            (models.CustomerAddress, ()),
            (models.SocialIdentity, ()),
            (models.ConsentEvent, ("recorded_by",)),
            (models.LifecycleChange, ("by",)),
        ):
            registry.register(sub, owner_field=None, via="customer", nav=False, attribution=attribution)
