from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "kehu.privacy"
    label = "privacy"
    verbose_name = _("Privacy")

    def ready(self) -> None:
        from kehu.core import audit, registry
        from kehu.customers import panels

        from . import checks, subjects, widgets  # noqa: F401
        from .models import PrivacyRequest, RetentionRule, SensitiveValue

        registry.register(PrivacyRequest, owner_field=None, system=("recorded_by", "approved_by", "done_by"))
        registry.register(RetentionRule, owner_field=None)
        registry.register(SensitiveValue, owner_field=None, nav=False)
        from kehu.security import backup

        from . import erasure

        backup.AFTER_RESTORE.append(erasure.after_restore)
        audit.SEAL_HOOKS.append(subjects.seal_rows)
        audit.REVEAL_HOOKS.append(subjects.reveal_entries)
        panels.register_panel(
            "privacy", template="privacy/panel.html", render=widgets.privacy_panel, order=95, column="side"
        )
