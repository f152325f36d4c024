from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AutomationConfig(AppConfig):
    name = "kehu.automation"
    label = "automation"
    verbose_name = _("Automation")

    def ready(self) -> None:
        from kehu.core import events, registry

        from . import triggers
        from .models import Rule, RuleRun, RuleVersion

        registry.register(Rule, owner_field="owner", url=lambda o: o.get_absolute_url())
        registry.register(RuleVersion, owner_field=None, via="rule", nav=False, transfer=False)
        registry.register(RuleRun, owner_field=None, via="rule", nav=False, transfer=False)
        if triggers.on_written not in events.LISTENERS:
            events.LISTENERS.append(triggers.on_written)
