from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    name = "kehu.approvals"
    label = "approvals"
    verbose_name = _("Approvals")

    def ready(self) -> None:
        from kehu.ui.views import HOME_WIDGETS, NOTIFICATION_ACTIONS

        from . import registration, widgets
        from .notifications import approval_actions

        registration.register_all()
        NOTIFICATION_ACTIONS.append(approval_actions)
        HOME_WIDGETS.append(widgets.home)
