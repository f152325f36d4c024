"""Business-time arithmetic for SLA clocks: pure functions over a calendar description, no database.

A minute counts as working time when its *local wall-clock time* (in the calendar's time zone) falls inside
one of the working periods of its *local date*: the weekday's hours, none on a holiday, a normal weekday's
hours on an adjusted working day (调休). That definition is what the property tests check against a
minute-by-minute walk (tests/service/test_businesstime.py); it keeps its meaning across daylight-saving
switches (a period 01:00–04:00 lasts 2 real hours on a spring-forward night and 4 on a fall-back night).

Working periods are turned into UTC intervals per local date by splitting the day at the zone's UTC-offset
changes (found by sampling and bisection, since zoneinfo has no transition API), so adding business minutes
costs a few operations per calendar day instead of one per minute.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

UTC = dt.UTC
DAY = dt.timedelta(days=1)
_SAMPLE = dt.timedelta(hours=3)
#: how far add_minutes looks for working time before it gives up (a calendar without working hours)
MAX_DAYS = 3 * 366


class NoWorkingTime(ValueError):
    """The calendar has no working time within MAX_DAYS of the start."""


@dataclass(frozen=True)
class CalendarSpec:
    """Working time: weekday (0 = Monday) -> periods in minutes after local midnight [(start, end)], end at
    most 1440; dated holidays (no work) and adjusted working days (date -> weekday whose hours apply)."""

    time_zone: str = "UTC"
    weekly: Mapping[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    holidays: frozenset[dt.date] = frozenset()
    workdays: Mapping[dt.date, int] = field(default_factory=dict)
    always: bool = False  # around the clock: plain time arithmetic

    @classmethod
    def around_the_clock(cls) -> CalendarSpec:
        return cls(always=True)

    @classmethod
    def build(
        cls,
        *,
        time_zone: str,
        hours: Iterable[tuple[int, int, int]],
        holidays: Iterable[dt.date] = (),
        workdays: Mapping[dt.date, int] | None = None,
    ) -> CalendarSpec:
        """`hours`: (weekday, start minute, end minute) rows; overlapping rows are merged."""
        weekly: dict[int, list[tuple[int, int]]] = {}
        for weekday, start, end in hours:
            if not (0 <= weekday <= 6 and 0 <= start < end <= 1440):
                raise ValueError(f"invalid working period {weekday} {start}-{end}")
            weekly.setdefault(weekday, []).append((start, end))
        merged = {day: tuple(_merge(periods)) for day, periods in weekly.items()}
        zoneinfo.ZoneInfo(time_zone)  # raises for an unknown zone
        return cls(
            time_zone=time_zone,
            weekly=merged,
            holidays=frozenset(holidays),
            workdays=dict(workdays or {}),
        )

    @property
    def zone(self) -> dt.tzinfo:
        return _zone(self.time_zone)

    def periods(self, day: dt.date) -> tuple[tuple[int, int], ...]:
        """The working periods of a local date (minutes after midnight)."""
        if day in self.workdays:
            return self.weekly.get(self.workdays[day], ())
        if day in self.holidays:
            return ()
        return self.weekly.get(day.weekday(), ())

    def intervals(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The UTC intervals whose local wall-clock time lies in a working period of `day`."""
        return _intervals(self, day)

    def __post_init__(self) -> None:
        # the lru_cache key of `intervals`: the calendar's content, hashed once
        key = (
            self.time_zone,
            tuple(sorted(self.weekly.items())),
            self.holidays,
            tuple(sorted(self.workdays.items())),
            self.always,
        )
        object.__setattr__(self, "_hash", hash(key))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined]


def _merge(periods: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    for start, end in sorted(periods):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], end))
        else:
            result.append((start, end))
    return result


@lru_cache(maxsize=64)
def _zone(name: str) -> dt.tzinfo:
    return UTC if name == "UTC" else zoneinfo.ZoneInfo(name)


def _offset(zone: dt.tzinfo, instant: dt.datetime) -> dt.timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _segments(
    zone: dt.tzinfo, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime, dt.timedelta]]:
    """[start, end) split where the zone's UTC offset changes: (from, to, offset) pieces."""
    pieces = []
    current_start, current = start, _offset(zone, start)
    probe = start
    while probe < end:
        following = min(probe + _SAMPLE, end)
        if _offset(zone, following) == current:
            probe = following
            continue
        low, high = (
            int(probe.timestamp()),
            int(following.timestamp()),
        )  # offset(low) == current != offset(high)
        while high - low > 1:
            middle = (low + high) // 2
            if _offset(zone, dt.datetime.fromtimestamp(middle, UTC)) == current:
                low = middle
            else:
                high = middle
        change = dt.datetime.fromtimestamp(high, UTC)
        pieces.append((current_start, change, current))
        current_start, current, probe = change, _offset(zone, change), change
    pieces.append((current_start, end, current))
    return pieces


@lru_cache(maxsize=4096)
def _intervals(spec: CalendarSpec, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    periods = spec.periods(day)
    if not periods:
        return []
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=UTC)  # the wall-clock midnight, read as UTC
    found: list[tuple[dt.datetime, dt.datetime]] = []
    # offsets are within ±26 h: the instants whose wall date is `day` lie in this UTC window
    for seg_start, seg_end, offset in _segments(spec.zone, midnight - DAY - DAY, midnight + 3 * DAY):
        for start, end in periods:
            low = max(midnight + dt.timedelta(minutes=start) - offset, seg_start)
            high = min(midnight + dt.timedelta(minutes=end) - offset, seg_end)
            if low < high:
                found.append((low, high))
    found.sort()
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for low, high in found:
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _local_date(spec: CalendarSpec, instant: dt.datetime) -> dt.date:
    return instant.astimezone(spec.zone).date()


def add_minutes(spec: CalendarSpec, start: dt.datetime, minutes: float) -> dt.datetime:
    """The instant at which `minutes` of working time have passed since `start` (aware). Zero minutes give
    `start` itself; a start outside working hours begins counting at the next working period."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    remaining = dt.timedelta(minutes=minutes)
    if remaining <= dt.timedelta(0):
        return start
    if spec.always:
        return start + remaining
    start = start.astimezone(UTC)
    # a fall-back switch at midnight makes the wall date go back: begin one local day early
    day = _local_date(spec, start) - DAY
    for _ in range(MAX_DAYS):
        for low, high in spec.intervals(day):
            if high <= start:
                continue
            low = max(low, start)
            if high - low >= remaining:
                return low + remaining
            remaining -= high - low
        day += DAY
    raise NoWorkingTime(f"no working time within {MAX_DAYS} days of {start.isoformat()}")


def minutes_between(spec: CalendarSpec, start: dt.datetime, end: dt.datetime) -> float:
    """Working minutes in [start, end) (0 when end is not after start)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    if end <= start:
        return 0.0
    if spec.always:
        return (end - start).total_seconds() / 60
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = dt.timedelta(0)
    day, last = _local_date(spec, start) - DAY, _local_date(spec, end) + DAY
    while day <= last:
        for low, high in spec.intervals(day):
            low, high = max(low, start), min(high, end)
            if low < high:
                total += high - low
        day += DAY
    return total.total_seconds() / 60


def is_working(spec: CalendarSpec, instant: dt.datetime) -> bool:
    """Whether `instant` lies in working time (used to label the clock on the ticket page)."""
    if spec.always:
        return True
    instant = instant.astimezone(UTC)
    local = _local_date(spec, instant)
    return any(low <= instant < high for day in (local - DAY, local) for low, high in spec.intervals(day))
