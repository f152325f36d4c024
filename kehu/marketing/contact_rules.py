"""Contact-rule arithmetic (ADR 0015): send windows per message kind, quiet hours, spacing, in the customer's
time zone. Pure functions over aware datetimes (no database, no clock): the send engine
(kehu/marketing/services/sending.py) calls them under its per-customer locks, and the property tests check
them across time zones and date boundaries.

A *window* is (weekdays, start, end) in local wall-clock time, weekdays 0 = Monday; quiet hours cut every window
(they may wrap past midnight, e.g. 21:30–08:30). An instant is allowed when its local time lies in [start, end)
of a window on its local weekday and outside quiet hours. Daylight-saving gaps and folds are handled by
converting every candidate back to UTC and re-checking it (a wall-clock time that does not exist is skipped).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

WEEKDAYS = (0, 1, 2, 3, 4)
WEEKEND = (5, 6)
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)


class MessageKind(models.TextChoices):
    MARKETING = "marketing", _("Marketing (before the end of the work period)")
    CARE = "care", _("Care (evenings and weekends)")
    LEISURE = "leisure", _("Leisure (evenings and weekends)")


class Rule(models.TextChoices):
    """Why a message was held back or dropped; the campaign page counts messages per rule."""

    CONSENT = "consent", _("No consent for the channel")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    DO_NOT_CONTACT = "do_not_contact", _("Do-not-contact list")
    NO_ADDRESS = "no_address", _("No address for the channel")
    DAILY_CAP = "daily_cap", _("One message per day")
    SPACING = "spacing", _("Spacing between messages")
    WINDOW = "window", _("Outside the send window")
    QUIET_HOURS = "quiet_hours", _("Quiet hours")
    EXPIRED = "expired", _("No allowed slot before the campaign ends")


@dataclass(frozen=True)
class Window:
    days: tuple[int, ...]
    start: dt.time
    end: dt.time


@dataclass(frozen=True)
class RuleConfig:
    windows: dict[str, tuple[Window, ...]]
    quiet_start: dt.time
    quiet_end: dt.time
    spacing_days: int = 2  # at least this many local calendar days between two marketing messages
    spacing_max_days: int = 3  # the target: the next slot after the minimum normally falls by then
    max_hold_days: int = 14  # a message held longer than this is dropped


def _t(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


DEFAULTS = {
    # the seeds: plain marketing shortly before the end of the morning or afternoon work period; care and
    # leisure messages in the evening or at the weekend
    "windows": {
        MessageKind.MARKETING: [(WEEKDAYS, "10:30", "11:45"), (WEEKDAYS, "16:00", "17:30")],
        MessageKind.CARE: [(WEEKDAYS, "19:00", "21:00"), (WEEKEND, "10:00", "20:00")],
        MessageKind.LEISURE: [(WEEKDAYS, "19:00", "21:00"), (WEEKEND, "10:00", "20:00")],
    },
    "quiet_hours": ("21:30", "08:30"),
    "spacing_days": (2, 3),
    "max_hold_days": 14,
}


def config() -> RuleConfig:
    """The rules from ``settings.KEHU_CONTACT_RULES`` (any key left out keeps its default above)."""
    raw = {**DEFAULTS, **getattr(settings, "KEHU_CONTACT_RULES", {})}
    windows = {
        str(kind): tuple(Window(tuple(days), _t(start), _t(end)) for days, start, end in spec)
        for kind, spec in raw["windows"].items()
    }
    quiet = raw["quiet_hours"]
    low, high = raw["spacing_days"]
    return RuleConfig(
        windows=windows,
        quiet_start=_t(quiet[0]) if quiet else dt.time(0),
        quiet_end=_t(quiet[1]) if quiet else dt.time(0),
        spacing_days=int(low),
        spacing_max_days=int(high),
        max_hold_days=int(raw["max_hold_days"]),
    )


def zone(name: str | None) -> ZoneInfo:
    """The customer's time zone; an empty or unknown name falls back to the site's (settings.TIME_ZONE)."""
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def local_day(instant: dt.datetime, tz: ZoneInfo) -> dt.date:
    return instant.astimezone(tz).date()


def in_quiet_hours(local: dt.time, cfg: RuleConfig) -> bool:
    start, end = cfg.quiet_start, cfg.quiet_end
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # wraps past midnight


def in_window(local: dt.datetime, kind: str, cfg: RuleConfig) -> bool:
    t = local.time().replace(tzinfo=None)
    return any(local.weekday() in w.days and w.start <= t < w.end for w in cfg.windows.get(kind, ()))


def why_not_now(instant: dt.datetime, tz: ZoneInfo, kind: str, cfg: RuleConfig) -> str | None:
    """None when ``instant`` is an allowed moment for ``kind``; else the rule that forbids it."""
    local = instant.astimezone(tz)
    if in_quiet_hours(local.time().replace(tzinfo=None), cfg):
        return Rule.QUIET_HOURS
    if not in_window(local, kind, cfg):
        return Rule.WINDOW
    return None


def _boundaries(day: dt.date, cfg: RuleConfig, kind: str) -> list[dt.time]:
    """Local wall-clock times on ``day`` where allowedness may switch on: window starts and the quiet end."""
    times = [w.start for w in cfg.windows.get(kind, ()) if day.weekday() in w.days]
    times.append(cfg.quiet_end)
    return times


def next_slot(
    after: dt.datetime, tz: ZoneInfo, kind: str, cfg: RuleConfig, *, not_before_day: dt.date | None = None
) -> dt.datetime | None:
    """The earliest instant ≥ ``after`` that is allowed for ``kind`` in ``tz`` and falls on or after the local
    date ``not_before_day`` (spacing and the daily cap); None when no window exists within 400 days."""
    start = after.astimezone(dt.UTC)
    if not_before_day is not None:
        start = max(start, min(_instants_at(not_before_day, dt.time(0), tz)))
    if _allowed(start, tz, kind, cfg, not_before_day):
        return start
    day = start.astimezone(tz).date()
    for offset in range(400):
        current = day + dt.timedelta(days=offset)
        candidates = []
        for boundary in _boundaries(current, cfg, kind):
            for instant in _instants_at(current, boundary, tz):
                if instant > start and _allowed(instant, tz, kind, cfg, not_before_day):
                    candidates.append(instant)
        if candidates:
            return min(candidates)
    return None


def _instants_at(day: dt.date, wall: dt.time, tz: ZoneInfo) -> list[dt.datetime]:
    """The instants whose local wall-clock time on ``day`` starts at ``wall``: the time itself (twice in a
    daylight-saving fold), or — when a gap skips it — the end of the gap."""
    wanted = dt.datetime.combine(day, wall)
    folds = [dt.datetime.combine(day, wall, tzinfo=tz).replace(fold=f).astimezone(dt.UTC) for f in (0, 1)]
    real = [i for i in folds if i.astimezone(tz).replace(tzinfo=None) == wanted]
    if real:
        return real
    instant = min(folds)  # inside a gap: walk to the first minute at or after the wanted wall time
    for _minute in range(24 * 60):
        if instant.astimezone(tz).replace(tzinfo=None) >= wanted:
            break
        instant += dt.timedelta(minutes=1)
    return [instant]


def _allowed(instant: dt.datetime, tz: ZoneInfo, kind: str, cfg, not_before_day) -> bool:
    if not_before_day is not None and local_day(instant, tz) < not_before_day:
        return False
    return why_not_now(instant, tz, kind, cfg) is None


def spacing_earliest_day(last_day: dt.date | None, cfg: RuleConfig) -> dt.date | None:
    """The first local date on which a customer whose last marketing message was on ``last_day`` may get the
    next one: never the same day (daily cap), and at least ``spacing_days`` later."""
    if last_day is None:
        return None
    return last_day + dt.timedelta(days=max(1, cfg.spacing_days))
