"""Field visits: plan, check in / check out with a GPS fix, notes (offline-safe), report (ADR 0014).

A GPS fix is refused when its coordinates are impossible (outside ±90/±180, not a number, the 0,0 "null
island" a broken receiver reports), its accuracy negative or worse than 10 km, or its time in the future
(beyond a two-minute allowance for clock skew) or more than a day old. A refused fix changes nothing."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import records
from kehu.interactions.services import timeline_event_record

from ..models import CustomerLocation, Visit, VisitNote, VisitStatus

SKEW = dt.timedelta(minutes=2)
MAX_AGE = dt.timedelta(hours=24)
MAX_ACCURACY = Decimal("10000")
EARTH_RADIUS_M = 6_371_000


def haversine_m(lat1, lon1, lat2, lon2) -> int:
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(math.sqrt(a)))


def _decimal(value, name: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({name: _("Not a number.")}) from None
    if not number.is_finite():
        raise ValidationError({name: _("Not a number.")})
    return number


def at_from_age(age_ms, name: str) -> dt.datetime | None:
    """`age_ms` (how long ago, by the phone's own clock) as an instant on the server's clock: a phone whose
    clock is wrong still reports when the fix was taken or the note typed."""
    if age_ms in (None, ""):
        return None
    try:
        age = int(str(age_ms))
    except ValueError:
        raise ValidationError({name: _("Not a number.")}) from None
    if age < 0:
        raise ValidationError({name: _("The time lies in the future.")})
    if age > 7 * 24 * 3600 * 1000:
        raise ValidationError({name: _("The time lies more than a week back.")})
    return timezone.now() - dt.timedelta(milliseconds=age)


def clean_fix(*, latitude, longitude, accuracy, at) -> tuple[Decimal, Decimal, Decimal | None, dt.datetime]:
    """A GPS fix checked and normalised, or ValidationError naming what is wrong."""
    if latitude in (None, "") or longitude in (None, ""):
        raise ValidationError(
            {"latitude": _("A check-in needs your location: allow the browser to use it and try again.")}
        )
    lat, lon = _decimal(latitude, "latitude"), _decimal(longitude, "longitude")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        raise ValidationError(
            {"latitude": _("These coordinates are impossible: %(lat)s, %(lon)s.") % {"lat": lat, "lon": lon}}
        )
    acc = None
    if accuracy not in (None, ""):
        acc = _decimal(accuracy, "accuracy")
        if acc < 0 or acc > MAX_ACCURACY:
            raise ValidationError(
                {"accuracy": _("The location is too imprecise (accuracy %(acc)s m).") % {"acc": acc}}
            )
        acc = acc.quantize(Decimal("0.1"))
    now = timezone.now()
    when = at or now
    if isinstance(when, str):
        from django.utils.dateparse import parse_datetime

        parsed = parse_datetime(when.strip())
        if parsed is None or timezone.is_naive(parsed):
            raise ValidationError({"at": _("Give the time of the fix with its time zone.")})
        when = parsed
    if when > now + SKEW:
        raise ValidationError({"at": _("The time of the location lies in the future.")})
    if when < now - MAX_AGE:
        raise ValidationError({"at": _("The location is more than a day old.")})
    return lat.quantize(Decimal("0.000001")), lon.quantize(Decimal("0.000001")), acc, when


def visit_plan(*, data: dict, by) -> Visit:
    """Plan a visit (owner: `by` unless given); it appears on the calendar and the customer's timeline."""
    visit = records.record_create(model=Visit, data=data, by=by)
    timeline_event_record(
        customer=visit.customer,
        subject=_("Visit: %(subject)s") % {"subject": visit.subject},
        related_model="salesmgmt.visit",
        related_id=visit.pk,
        url=visit.get_absolute_url(),
        occurred_at=visit.planned_start,
        channel="visit",
        direction="out",
        user=visit.owner,
    )
    return visit


def visit_check_in(*, visit: Visit, latitude, longitude, accuracy=None, at=None, by) -> Visit:
    """Check in at the customer: the fix is stored with its distance from the customer's location (when
    known). Only a planned visit can be checked in; `by` must be allowed to change it."""
    lat, lon, acc, when = clean_fix(latitude=latitude, longitude=longitude, accuracy=accuracy, at=at)

    def write(locked: Visit) -> dict:
        if locked.status != VisitStatus.PLANNED:
            raise ValidationError(
                _("This visit is not waiting for a check-in (%(status)s).")
                % {"status": locked.get_status_display()}
            )
        place = CustomerLocation.objects.filter(customer_id=locked.customer_id).first()
        locked.status = VisitStatus.CHECKED_IN
        locked.checkin_at, locked.checkin_latitude, locked.checkin_longitude = when, lat, lon
        locked.checkin_accuracy = acc
        locked.checkin_distance = (
            haversine_m(lat, lon, place.latitude, place.longitude) if place is not None else None
        )
        return {}

    return records.record_update(
        instance=visit, data={}, by=by, expected_version=None, children=write, note="check-in"
    )


def visit_check_out(
    *, visit: Visit, latitude, longitude, accuracy=None, at=None, report: str | None = None, by
) -> Visit:
    lat, lon, acc, when = clean_fix(latitude=latitude, longitude=longitude, accuracy=accuracy, at=at)

    def write(locked: Visit) -> dict:
        if locked.status != VisitStatus.CHECKED_IN:
            raise ValidationError(_("Check in before checking out."))
        if locked.checkin_at is not None and when < locked.checkin_at:
            raise ValidationError({"at": _("A check-out cannot come before the check-in.")})
        locked.status = VisitStatus.DONE
        locked.checkout_at, locked.checkout_latitude, locked.checkout_longitude = when, lat, lon
        locked.checkout_accuracy = acc
        return {}

    # the report goes through the record service's field rights (a hidden or read-only report is refused)
    data = {} if report is None else {"report": report}
    return records.record_update(
        instance=visit, data=data, by=by, expected_version=None, children=write, note="check-out"
    )


def visit_cancel(*, visit: Visit, by, expected_version: int | None = None) -> Visit:
    def write(locked: Visit) -> dict:
        if locked.status != VisitStatus.PLANNED:
            raise ValidationError(_("Only a planned visit can be cancelled."))
        locked.status = VisitStatus.CANCELLED
        return {}

    return records.record_update(
        instance=visit, data={}, by=by, expected_version=expected_version, children=write
    )


def visit_report_save(*, visit: Visit, report: str, by, expected_version: int | None) -> Visit:
    return records.record_update(
        instance=visit, data={"report": report}, by=by, expected_version=expected_version
    )


def visit_note_add(*, visit: Visit, text: str, by, client_id=None, written_at=None) -> tuple[VisitNote, bool]:
    """Add a note (typed on the spot or queued offline and sent later). The browser's `client_id` makes a
    retried send store the note once: the second call returns the stored note and False. `written_at` (when
    the note was typed, offline perhaps hours ago) may not lie in the future."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("The note is empty.")})
    if len(text) > 5000:
        raise ValidationError({"text": _("A note has at most 5000 characters.")})
    try:
        key = uuid.UUID(str(client_id)) if client_id else uuid.uuid4()
    except ValueError:
        raise ValidationError({"client_id": _("Not a valid id.")}) from None
    existing = VisitNote.objects.filter(client_id=key).first()
    if existing is not None:
        if existing.visit_id != visit.pk:
            raise ValidationError({"client_id": _("This id belongs to another note.")})
        return existing, False
    now = timezone.now()
    when = written_at or now
    if isinstance(when, str):
        from django.utils.dateparse import parse_datetime

        when = parse_datetime(when.strip())
        if when is None or timezone.is_naive(when):
            raise ValidationError({"written_at": _("Give the time with its time zone.")})
    if when > now + SKEW:
        raise ValidationError({"written_at": _("The time of the note lies in the future.")})
    try:
        with transaction.atomic():
            note = records.record_create(
                model=VisitNote,
                data={"visit": visit, "text": text, "client_id": key, "written_at": when},
                by=by,
            )
    except IntegrityError:  # the same note arrived twice at once (two tabs flushing one queue)
        return VisitNote.objects.get(client_id=key), False
    return note, True


# ------------------------------------------------------------------------------------------------ photos
MAX_PHOTOS = 5
#: the photo's type is read from its first bytes, never from its name or the browser's claim
IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)


def photo_max_bytes() -> int:
    from django.conf import settings

    return int(getattr(settings, "KEHU_VISIT_PHOTO_MAX_BYTES", 5 * 1024 * 1024))


def photo_check(*, name: str, content: bytes) -> tuple[str, str]:
    """(clean file name, content type) of a visit photo, or a ValidationError on `photo`: only JPEG, PNG or
    WebP by content (a PDF or a script renamed .jpg is refused), not empty, at most KEHU_VISIT_PHOTO_MAX_BYTES."""
    from kehu.service.services.attachments import clean_filename

    if not content:
        raise ValidationError({"photo": _("The photo is empty.")})
    limit = photo_max_bytes()
    if len(content) > limit:
        raise ValidationError(
            {"photo": _("The photo is too large (at most %(mb)s MB).") % {"mb": round(limit / 1048576, 1)}}
        )
    kind = None
    for magic, content_type, ext in IMAGE_SIGNATURES:
        if content.startswith(magic):
            kind = (content_type, ext)
    if kind is None and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        kind = ("image/webp", "webp")
    if kind is None:
        raise ValidationError({"photo": _("Only JPEG, PNG or WebP photos are accepted.")})
    stem = clean_filename(name or "photo").rsplit(".", 1)[0][:150] or "photo"
    return f"{stem}.{kind[1]}", kind[0]


def visit_photo_add(*, visit: Visit, name: str, content: bytes, by):
    """Attach a photo to a visit the user may change (audited; the file is removed again if the transaction
    fails). Refused with nothing stored: wrong type, too large, more than MAX_PHOTOS per visit, cancelled visit."""
    from django.core.files.base import ContentFile

    from ..models import VisitPhoto

    clean, content_type = photo_check(name=name, content=content)
    stored = []
    try:
        with transaction.atomic():
            locked, _access = records.lock_for_write(visit, by)
            if locked.status == VisitStatus.CANCELLED:
                raise ValidationError({"photo": _("This visit is cancelled.")})
            if VisitPhoto.objects.filter(visit=locked).count() >= MAX_PHOTOS:
                raise ValidationError({"photo": _("At most %(n)d photos per visit.") % {"n": MAX_PHOTOS}})
            photo = records.record_create(
                model=VisitPhoto,
                data={"visit": locked, "name": clean, "content_type": content_type, "size": len(content),
                      "file": ContentFile(content, name=clean)},
                by=by,
            )  # fmt: skip
            stored.append((photo.file.storage, photo.file.name))
    except BaseException:
        for storage, path in stored:
            try:
                storage.delete(path)
            except OSError:  # pragma: no cover - already gone
                pass
        raise
    return photo
