from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    name = "kehu.security"
    label = "security"
    verbose_name = _("Sign-in security")

    def ready(self) -> None:
        from . import signals

        signals.connect()
