from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "kehu.portal"
    label = "portal"
    verbose_name = _("Customer and partner portal")

    def ready(self) -> None:
        from kehu.core import access
        from kehu.customers import panels

        from . import scope, widgets

        access.EXTERNAL_SCOPES.append(scope.resolve)
        panels.register_panel(
            "portal", template="portal/staff/panel.html", render=widgets.portal_panel, order=90, column="side"
        )
