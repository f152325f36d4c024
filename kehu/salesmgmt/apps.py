from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesmgmtConfig(AppConfig):
    name = "kehu.salesmgmt"
    label = "salesmgmt"
    verbose_name = _("Sales management")

    def ready(self) -> None:
        from . import approvals, registration

        registration.register_all()
        approvals.register_all()
