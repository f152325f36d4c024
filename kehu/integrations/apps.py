from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "kehu.integrations"
    label = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        from kehu.core import api, events

        from . import idempotency, webhooks

        if webhooks.on_written not in events.LISTENERS:
            events.LISTENERS.append(webhooks.on_written)
        api.CREATE_GUARDS[:] = [idempotency.guard]
