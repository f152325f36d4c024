"""Resident identity card numbers (居民身份证号码, GB 11643-1999): validation, masking and a keyed hash.

The number itself is never stored. A customer keeps `id_number_hash` — HMAC-SHA256 under the settings key
`KEHU_IDENTITY_KEY` (falls back to SECRET_KEY) — so equal numbers can be found and compared in the duplicate
scan, and `id_number_masked` (1101**********1234) for display. Rotating the key means re-entering numbers
(or re-hashing from a source system), which is the point: a database dump alone does not reveal them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")
#: how exports hide digits of an ID number: 110101********1234, 3201**********123X, 1101××××××××××1234
MASK_CHARS = "*＊×•●#"
_MASKED = re.compile(r"^[\dX]*[" + re.escape(MASK_CHARS) + r"]+[\dX]*$")


def check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    return CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def clean_id_number(raw: str) -> str:
    """The 18-character number upper-cased without spaces, or ValidationError naming what is wrong."""
    value = re.sub(r"[\s\-]", "", str(raw or "")).upper().translate({0xFF38: "X"})
    value = value.translate({cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)})
    if not _SHAPE.match(value):
        raise ValidationError(_("A resident ID number has 17 digits and a final digit or X."))
    try:
        dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValidationError(_("The ID number does not contain a valid date of birth.")) from None
    if check_digit(value[:17]) != value[17]:
        raise ValidationError(_("The ID number's check digit is wrong; please check the number."))
    return value


def is_masked(raw: str) -> bool:
    """Whether a cell holds an ID number with digits replaced by a mask character, as exports of other systems
    write it for users without the right to see the number: it can be neither checked nor matched."""
    value = re.sub(r"[\s\-]", "", str(raw or "")).upper().translate({0xFF38: "X"})
    value = value.translate({cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)})
    return bool(_MASKED.match(value)) and any(c.isdigit() for c in value)


def birth_date(value: str) -> dt.date:
    return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def mask(value: str) -> str:
    """1101**********1234: region prefix and the last four kept."""
    return value[:4] + "*" * (len(value) - 8) + value[-4:] if len(value) > 8 else "*" * len(value)


def key() -> bytes:
    return (getattr(settings, "KEHU_IDENTITY_KEY", "") or settings.SECRET_KEY or "kehu").encode()


def digest(value: str) -> str:
    """The keyed hash stored for matching (hex)."""
    return hmac.new(key(), value.encode(), hashlib.sha256).hexdigest()
