"""The password policy's breached-password rule (docs/security.md): a password found in a list of leaked
passwords is refused, whatever its length. The list ships with Kehu (data/breached-passwords.txt.gz, origin in
data/README.md); `KEHU_BREACHED_PASSWORDS_FILE` points at another one."""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "breached-passwords.txt.gz"


@lru_cache(maxsize=4)
def _load(path: str) -> frozenset[str]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        return frozenset(line.strip().lower() for line in f if line.strip())


def breached_list() -> frozenset[str]:
    return _load(str(getattr(settings, "KEHU_BREACHED_PASSWORDS_FILE", "") or DEFAULT_FILE))


class BreachedPasswordValidator:
    """Refuse a password that appears in the breached-password list (compared lowercased, and again without
    trailing punctuation, so `Woaini1314!` counts as `woaini1314`)."""

    def validate(self, password: str, user=None) -> None:
        words = breached_list()
        lowered = password.strip().lower()
        if lowered in words or lowered.rstrip("!.?*#@$%&_-") in words:
            raise ValidationError(
                _("This password appears in lists of leaked passwords. Choose another one."),
                code="password_breached",
            )

    def get_help_text(self) -> str:
        return _("Your password cannot be one that appears in lists of leaked passwords.")
