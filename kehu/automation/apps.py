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

        # only the description may be hidden from a role: the rest is the rule itself (its record type, trigger,
        # conditions and actions), which a role sees whole or not at all
        registry.register(
            Rule, owner_field="owner", url=lambda o: o.get_absolute_url(), fields=("description",)
        )
        registry.register(RuleVersion, owner_field=None, via="rule", nav=False, transfer=False, fields=())
        registry.register(RuleRun, owner_field=None, via="rule", nav=False, transfer=False, fields=())
        if triggers.on_written not in events.LISTENERS:
            events.LISTENERS.append(triggers.on_written)
