from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "kehu.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from kehu.core import registry

        from . import models, search  # noqa: F401 - registers the search provider

        registry.register(
            models.Customer,
            owner_field="owner",
            url=lambda o: o.get_absolute_url(),
            # the other phone numbers and emails are hidden with the field (ADR 0009)
            extra={
                "governed": {
                    "phones": "phone",
                    "customerphone": "phone",
                    "emails": "email",
                    "customeremail": "email",
                }
            },
        )
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
        _history_keys(models)


def _history_keys(models) -> None:
    """How the customer's audit keys that are not its own fields read in the change history, and which field's
    rights govern them (a hidden phone hides the phone numbers added as contact points too)."""
    from kehu.core.history import KeyInfo, register_keys

    def label(choices):
        return lambda code: models._label(choices, code)

    phones = KeyInfo(_("phones"), governed_by="phone")
    emails = KeyInfo(_("emails"), governed_by="email")
    socials = KeyInfo(_("social ids"))
    addresses = KeyInfo(_("addresses"))
    register_keys(
        "customers.customer",
        {
            "phones": phones,
            "customerphone": phones,
            "emails": emails,
            "customeremail": emails,
            "socials": socials,
            "socialidentity": socials,
            "addresss": addresses,
            "customeraddress": addresses,
            "consent.*": KeyInfo(_("consent"), value=label(models.ConsentStatus), sub=label(models.Channel)),
            "merged": KeyInfo(_("merged records")),
        },
    )
