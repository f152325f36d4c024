"""Keys and ciphers of the privacy app (ADR 0024).

- **Master keys** (Fernet, AES-128-CBC + HMAC-SHA256) come from the environment `KEHU_PRIVACY_KEYS` (comma
  separated, newest first) or from the file named by `KEHU_PRIVACY_KEY_FILE` (one key a line, newest first),
  never from the database. The first key encrypts; every key decrypts (MultiFernet), so a rotation adds a new
  key in front, runs `kehu privacy rotate-keys` (re-encrypts every stored value and subject key) and then
  drops the old key.
- **Blind indexes** (HMAC-SHA256) use a separate key, `KEHU_PRIVACY_INDEX_KEY` (or a second file line block,
  see docs/privacy.md), so equal values can be matched without decrypting anything.
- **Subject keys**: every customer whose personal values reach the audit trail gets a random data key, kept
  wrapped (encrypted) under the master key in `privacy.SubjectKey`. Audit payloads are sealed with it;
  erasure deletes it (crypto-shredding), after which the sealed values are unreadable for good.

Without configured keys (development and tests only) the keys are derived from SECRET_KEY; `check --deploy`
warns about that (kehu/privacy/checks.py). Key material is never logged or shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "master", "index_key", "blind_index", "new_data_key", "configured"]


def _derived(purpose: str) -> bytes:
    raw = hashlib.sha256(f"kehu-privacy:{purpose}:{settings.SECRET_KEY}".encode()).digest()
    return base64.urlsafe_b64encode(raw)


def _configured_keys() -> list[bytes]:
    env = os.environ.get("KEHU_PRIVACY_KEYS", "") or getattr(settings, "KEHU_PRIVACY_KEYS", "")
    if env:
        return [k.strip().encode() for k in env.split(",") if k.strip()]
    path = os.environ.get("KEHU_PRIVACY_KEY_FILE", "") or getattr(settings, "KEHU_PRIVACY_KEY_FILE", "")
    if path:
        lines = Path(path).read_text(encoding="ascii").splitlines()
        return [line.strip().encode() for line in lines if line.strip() and not line.startswith("#")]
    return []


def configured() -> bool:
    """Whether real keys are configured (not the development fallback derived from SECRET_KEY)."""
    return bool(_configured_keys())


@lru_cache(maxsize=1)
def _master_cached(keys: tuple[bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


def master_keys() -> tuple[bytes, ...]:
    return tuple(_configured_keys() or [_derived("master")])


def master() -> MultiFernet:
    """The cipher of stored sensitive values and wrapped subject keys (first key encrypts, all decrypt)."""
    return _master_cached(master_keys())


def current_key_id() -> str:
    """A short fingerprint of the encrypting key (not the key): tells which values a rotation still has to do."""
    return hashlib.sha256(master_keys()[0]).hexdigest()[:8]


def index_key() -> bytes:
    value = os.environ.get("KEHU_PRIVACY_INDEX_KEY", "") or getattr(settings, "KEHU_PRIVACY_INDEX_KEY", "")
    return value.encode() if value else _derived("blind-index")


def blind_index(field: str, value: str) -> str:
    """The keyed hash of a normalised value, per field (equal values of one field match, across fields not)."""
    norm = "".join(str(value).split()).upper()
    return hmac.new(index_key(), f"{field}\x00{norm}".encode(), hashlib.sha256).hexdigest()


def new_data_key() -> bytes:
    return Fernet.generate_key()


def seal(data_key: bytes, text: str) -> str:
    return Fernet(data_key).encrypt(text.encode()).decode()


def unseal(data_key: bytes, token: str) -> str:
    return Fernet(data_key).decrypt(token.encode()).decode()


def encrypt(text: str) -> str:
    return master().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    return master().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    """The token re-encrypted under the current first key."""
    return master().rotate(token.encode()).decode()
