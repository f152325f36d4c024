"""TOTP (RFC 6238) for every sign-in that asks for a code: staff (kehu.security) and portal users (kehu.portal).

Thirty-second steps, six digits, SHA-1 (what every authenticator app reads from an otpauth:// URI); a code is
accepted for the step before and after the current one (clock drift). `verify` returns the step it matched, so
a caller that keeps the last accepted step refuses a code seen before (replay).
"""

from __future__ import annotations

import datetime as dt

import pyotp
import segno
from django.utils import timezone

ISSUER = "Kehu"
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, account: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI an authenticator app reads (from the QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """The URI as a QR code, an SVG `data:` URL (allowed by the Content-Security-Policy's img-src)."""
    return segno.make(uri, error="m").svg_data_uri(scale=4, border=2)


def clean(code: str | None) -> str:
    return (code or "").strip().replace(" ", "").replace("-", "")


def verify(
    secret: str, code: str | None, *, after_step: int = 0, at: dt.datetime | None = None
) -> int | None:
    """The time step the code belongs to, or None when it is wrong (or not later than `after_step`)."""
    code = clean(code)
    if not secret or len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    moment = at or timezone.now()
    now_step = int(moment.timestamp()) // totp.interval
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if step > after_step and pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def code_at(secret: str, at: dt.datetime | None = None) -> str:
    """The current code (tests and the enrolment page's own check)."""
    return pyotp.TOTP(secret).at(at or timezone.now())
