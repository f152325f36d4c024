from django.conf import settings
from django.core.checks import Warning, register

from . import crypto


@register(deploy=True)
def privacy_keys(app_configs, **kwargs):
    """Production needs real keys: the development fallback derives them from SECRET_KEY."""
    if crypto.configured() and (
        __import__("os").environ.get("KEHU_PRIVACY_INDEX_KEY")
        or getattr(settings, "KEHU_PRIVACY_INDEX_KEY", "")
    ):
        return []
    return [
        Warning(
            "Privacy keys are derived from SECRET_KEY.",
            hint="Set KEHU_PRIVACY_KEYS (or KEHU_PRIVACY_KEY_FILE) and KEHU_PRIVACY_INDEX_KEY; see docs/privacy.md.",
            id="kehu.privacy.W001",
        )
    ]
