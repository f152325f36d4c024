"""SLA business time against a simple reference: a minute-by-minute walk over local wall-clock time.

Property tests draw calendars (weekly hours incl. periods across the night, holidays, adjusted working days),
time zones with daylight saving (Berlin, New York, Sydney, Lord Howe's half-hour switch, Santiago's midnight
switch) and without (Shanghai, Kolkata), and start instants around the switches."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kehu.service import businesstime as bt
from kehu.service.businesstime import CalendarSpec

UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)
ZONES = [
    "Asia/Shanghai",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "UTC",
]
# instants near daylight-saving switches (and plain days), 2026–2027
ANCHORS = [
    dt.datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # Berlin spring forward 01:00 UTC
    dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # Berlin fall back
    dt.datetime(2026, 3, 8, 6, 0, tzinfo=UTC),  # New York spring forward
    dt.datetime(2026, 11, 1, 5, 0, tzinfo=UTC),  # New York fall back
    dt.datetime(2026, 4, 4, 15, 0, tzinfo=UTC),  # Sydney / Lord Howe fall back
    dt.datetime(2026, 10, 3, 15, 0, tzinfo=UTC),  # Sydney / Lord Howe spring forward
    dt.datetime(2026, 4, 5, 2, 0, tzinfo=UTC),  # Santiago fall back at midnight
    dt.datetime(2026, 9, 6, 3, 0, tzinfo=UTC),  # Santiago spring forward at midnight
    dt.datetime(2026, 2, 13, 1, 0, tzinfo=UTC),  # before the Spring Festival
    dt.datetime(2027, 12, 31, 15, 59, tzinfo=UTC),  # year end in Shanghai
]


def ref_working(spec: CalendarSpec, minute: dt.datetime) -> bool:
    local = minute.astimezone(zoneinfo.ZoneInfo(spec.time_zone) if spec.time_zone != "UTC" else UTC)
    m = local.hour * 60 + local.minute
    return any(start <= m < end for start, end in spec.periods(local.date()))


def ref_add(spec: CalendarSpec, start: dt.datetime, minutes: int) -> dt.datetime:
    t, left = start, minutes
    while left > 0:
        if ref_working(spec, t):
            left -= 1
        t += MINUTE
    return t


def ref_between(spec: CalendarSpec, start: dt.datetime, end: dt.datetime) -> int:
    t, count = start, 0
    while t < end:
        count += ref_working(spec, t)
        t += MINUTE
    return count


@st.composite
def periods(draw):
    """0–2 working periods of one weekday, in whole minutes."""
    result = []
    for _ in range(draw(st.integers(0, 2))):
        start = draw(st.integers(0, 1439))
        end = draw(st.integers(start + 1, min(1440, start + 720)))
        result.append((start, end))
    return result


@st.composite
def calendars(draw):
    zone = draw(st.sampled_from(ZONES))
    hours = []
    for weekday in range(7):
        hours += [(weekday, s, e) for s, e in draw(periods())]
    total = sum(e - s for _, s, e in hours)
    if total < 900:  # keep the reference walk short: at least 15 working hours a week
        hours.append((draw(st.integers(0, 6)), 0, 1440))
    anchor = draw(st.sampled_from(ANCHORS))
    base = anchor.date()
    near = st.dates(min_value=base - dt.timedelta(days=3), max_value=base + dt.timedelta(days=20))
    holidays = draw(st.frozensets(near, max_size=6))
    weekdays_with_hours = sorted({w for w, _, _ in hours})
    workdays = draw(st.dictionaries(near, st.sampled_from(weekdays_with_hours), max_size=3))
    spec = CalendarSpec.build(time_zone=zone, hours=hours, holidays=holidays, workdays=workdays)
    offset = draw(st.integers(-3 * 1440, 3 * 1440))
    return spec, anchor + dt.timedelta(minutes=offset)


@settings(max_examples=120, deadline=None)
@given(calendars(), st.integers(0, 1500))
def test_add_minutes_matches_the_minute_walk(case, minutes):
    spec, start = case
    assert bt.add_minutes(spec, start, minutes) == ref_add(spec, start, minutes)


@settings(max_examples=80, deadline=None)
@given(calendars(), st.integers(0, 4 * 1440))
def test_minutes_between_matches_the_minute_walk(case, span):
    spec, start = case
    end = start + dt.timedelta(minutes=span)
    assert bt.minutes_between(spec, start, end) == ref_between(spec, start, end)


@settings(max_examples=80, deadline=None)
@given(calendars(), st.integers(1, 3000))
def test_adding_then_measuring_gives_the_minutes_back(case, minutes):
    spec, start = case
    due = bt.add_minutes(spec, start, minutes)
    assert bt.minutes_between(spec, start, due) == minutes
    assert bt.is_working(spec, due - MINUTE)  # the last counted minute is working time


def china_2026() -> CalendarSpec:
    """Mon–Fri 09:00–12:00, 13:30–18:00 in Shanghai; the 2026 Spring Festival holiday 15–23 February with
    the adjusted working Saturdays 14 and 28 February (official schedule)."""
    hours = [(d, 540, 720) for d in range(5)] + [(d, 810, 1080) for d in range(5)]
    holidays = {dt.date(2026, 2, 15) + dt.timedelta(days=i) for i in range(9)}
    workdays = {dt.date(2026, 2, 14): 0, dt.date(2026, 2, 28): 0}
    return CalendarSpec.build(time_zone="Asia/Shanghai", hours=hours, holidays=holidays, workdays=workdays)


SH = zoneinfo.ZoneInfo("Asia/Shanghai")


def test_spring_festival_and_adjusted_working_days():
    spec = china_2026()
    friday_5pm = dt.datetime(2026, 2, 13, 17, 0, tzinfo=SH)
    # 1 h left on Friday, the adjusted Saturday counts (7.5 h), then nothing until Tuesday 24 February
    assert bt.add_minutes(spec, friday_5pm, 60) == dt.datetime(2026, 2, 13, 18, 0, tzinfo=SH)
    assert bt.add_minutes(spec, friday_5pm, 61) == dt.datetime(2026, 2, 14, 9, 1, tzinfo=SH)
    assert bt.add_minutes(spec, friday_5pm, 60 + 450 + 1) == dt.datetime(2026, 2, 24, 9, 1, tzinfo=SH)
    # the lunch break does not count
    assert bt.add_minutes(spec, dt.datetime(2026, 2, 24, 11, 30, tzinfo=SH), 60) == dt.datetime(
        2026, 2, 24, 14, 0, tzinfo=SH
    )
    assert bt.is_working(spec, dt.datetime(2026, 2, 28, 10, 0, tzinfo=SH))  # adjusted Saturday
    assert not bt.is_working(spec, dt.datetime(2026, 2, 16, 10, 0, tzinfo=SH))  # holiday Monday


def test_daylight_saving_switch_in_berlin():
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    night = CalendarSpec.build(time_zone="Europe/Berlin", hours=[(6, 60, 240)])  # Sunday 01:00–04:00
    spring = dt.datetime(2026, 3, 29, 0, 0, tzinfo=berlin)
    autumn = dt.datetime(2026, 10, 25, 0, 0, tzinfo=berlin)
    assert (
        bt.minutes_between(night, spring, spring + dt.timedelta(hours=6)) == 120
    )  # 02:00–03:00 never happens
    assert bt.minutes_between(night, autumn, autumn + dt.timedelta(hours=6)) == 240  # 02:00–03:00 twice
    assert bt.add_minutes(night, spring, 120) == dt.datetime(2026, 3, 29, 4, 0, tzinfo=berlin)


def test_the_same_calendar_in_two_time_zones():
    shanghai = CalendarSpec.build(time_zone="Asia/Shanghai", hours=[(d, 540, 1080) for d in range(5)])
    new_york = CalendarSpec.build(time_zone="America/New_York", hours=[(d, 540, 1080) for d in range(5)])
    start = dt.datetime(2026, 5, 20, 2, 30, tzinfo=UTC)  # Wednesday 10:30 in Shanghai, 22:30 Tuesday in NY
    assert bt.add_minutes(shanghai, start, 60) == dt.datetime(2026, 5, 20, 3, 30, tzinfo=UTC)
    assert bt.add_minutes(new_york, start, 60) == dt.datetime(2026, 5, 20, 14, 0, tzinfo=UTC)  # 10:00 EDT


def test_around_the_clock_and_a_calendar_without_hours():
    start = dt.datetime(2026, 5, 20, 2, 30, tzinfo=UTC)
    assert bt.add_minutes(CalendarSpec.around_the_clock(), start, 90) == start + dt.timedelta(minutes=90)
    with pytest.raises(bt.NoWorkingTime):
        bt.add_minutes(CalendarSpec.build(time_zone="UTC", hours=[]), start, 1)
    with pytest.raises(ValueError):
        bt.add_minutes(CalendarSpec.around_the_clock(), start.replace(tzinfo=None), 1)
