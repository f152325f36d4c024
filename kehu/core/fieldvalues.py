"""Exact JSON form of a model field's value, for records that must put a value back later (merge undo).

`audit.to_jsonable` is for reading (it renders foreign keys as text and may drop precision); these two
functions round-trip: `from_json(field, json.loads(json.dumps(to_json(field, v)))) == v` for every value a
concrete field can hold — dates, datetimes (with microseconds and offset), times, Decimals (exact digits),
UUIDs, durations, binary, JSON, booleans, choices and foreign keys (stored as the raw id).
"""

from __future__ import annotations

import base64
import datetime as dt

from django.db import models
from django.utils.duration import duration_iso_string


def to_json(field: models.Field, value):
    """The JSON-safe form of `value` (as read from `field.attname`)."""
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return value
    if isinstance(field, models.ForeignKey):
        return to_json(field.target_field, value)
    if isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, dt.timedelta):
        return duration_iso_string(value)
    if isinstance(value, bytes | memoryview | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)  # Decimal (exact digits), UUID, IP addresses …


def from_json(field: models.Field, data):
    """The value `to_json` was given, back in the field's Python type."""
    if data is None:
        return None
    if isinstance(field, models.JSONField):
        return data
    if isinstance(field, models.ForeignKey):
        return from_json(field.target_field, data)
    if isinstance(field, models.BinaryField):
        return base64.b64decode(data)
    if isinstance(field, models.DateTimeField):
        return dt.datetime.fromisoformat(data)
    return field.to_python(data)
