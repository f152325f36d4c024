"""Idempotency keys on creates (ADR 0022): `Idempotency-Key: <up to 255 printable characters>` on a POST that
creates a record (every ScopedModelViewSet create).

- The first request inserts the key (unique per user) in the same transaction as the create and stores the
  answer; a later request with the same key and the same body gets that answer again (`Idempotent-Replayed:
  true`), the same key with another body 422.
- Two requests with the same key at the same moment: the second one's INSERT waits on the unique index until
  the first commits, then replays its answer — one record is created. If the first fails (an error answer
  rolls back), the key is free again: an error is never stored.
- Keys are kept `KEEP` (24 h) and then purged (`purge()`, run by the webhook scheduler)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .models import IdempotencyKey

HEADER = "Idempotency-Key"
KEEP = dt.timedelta(hours=24)
REPLAYED_HEADERS = ("ETag", "Location")


class KeyReused(exceptions.APIException):
    status_code = 422
    default_code = "idempotency_key_reused"
    default_detail = _(
        "This Idempotency-Key was used with a different request body; use a new key for a new request."
    )


def fingerprint(request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        body = repr(request.data)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(row: IdempotencyKey) -> Response:
    response = Response(row.body, status=row.status_code)
    for name, value in (row.headers or {}).items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def guard(request, create):
    """Run `create()` (which returns a Response or raises) at most once per key."""
    key = request.headers.get(HEADER)
    if key is None:
        return create()
    key = key.strip()
    if not key or len(key) > 255 or not key.isprintable():
        raise exceptions.ValidationError({HEADER: [_("Send 1 to 255 printable characters.")]})
    user = request.user
    digest = fingerprint(request)
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(
                    user=user, key=key, fingerprint=digest, path=request.path[:500]
                )
        except IntegrityError:
            row = None
        if row is None:
            existing = IdempotencyKey.objects.get(user=user, key=key)
            if existing.fingerprint != digest:
                raise KeyReused()
            return _replay(existing)
        response = create()
        row.status_code = response.status_code
        row.body = json.loads(JSONRenderer().render(response.data) or b"null")
        row.headers = {h: response[h] for h in REPLAYED_HEADERS if response.has_header(h)}
        row.save(update_fields=["status_code", "body", "headers"])
    return response


def purge() -> int:
    return IdempotencyKey.objects.filter(created_at__lt=timezone.now() - KEEP).delete()[0]
