from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    name = "kehu.approvals"
    label = "approvals"
    verbose_name = _("Approvals")

    def ready(self) -> None:
        from . import registration

        registration.register_all()
