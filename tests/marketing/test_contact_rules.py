"""Property tests of the contact-rule arithmetic (kehu/marketing/contact_rules.py) across time zones, daylight
saving and date boundaries: the next slot is allowed, never before the asked instant or day, and no allowed
instant lies between (checked minute by minute against the plain definition)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kehu.marketing import contact_rules as cr

ZONES = [
    "Asia/Shanghai",
    "America/New_York",  # DST at 02:00
    "Europe/London",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Asia/Kathmandu",  # +05:45
    "Pacific/Chatham",  # +12:45/+13:45
    "America/Santiago",  # DST changes at midnight
    "Pacific/Kiritimati",  # +14
    "America/Adak",
]
CFG = cr.config()
instants = st.datetimes(
    min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2033, 12, 31), timezones=st.just(dt.UTC)
)
kinds = st.sampled_from(list(cr.MessageKind.values))


def brute_first_allowed(start, tz, kind, cfg, not_before_day=None, limit_minutes=9 * 24 * 60):
    """The definition, minute by minute (the rules' boundaries are whole minutes)."""
    first = start.replace(second=0, microsecond=0)
    if first < start:
        first += dt.timedelta(minutes=1)
    if cr._allowed(start, tz, kind, cfg, not_before_day):
        return start
    for minute in range(limit_minutes):
        candidate = first + dt.timedelta(minutes=minute)
        if cr._allowed(candidate, tz, kind, cfg, not_before_day):
            return candidate
    return None


@settings(max_examples=150)
@given(instants, st.sampled_from(ZONES), kinds, st.integers(min_value=-1, max_value=4))
def test_next_slot_is_the_first_allowed_instant(after, zone_name, kind, day_offset):
    tz = ZoneInfo(zone_name)
    not_before = None if day_offset < 0 else cr.local_day(after, tz) + dt.timedelta(days=day_offset)
    slot = cr.next_slot(after, tz, kind, CFG, not_before_day=not_before)
    assert slot is not None and slot >= after
    assert cr.why_not_now(slot, tz, kind, CFG) is None
    local = slot.astimezone(tz)
    assert not cr.in_quiet_hours(local.time().replace(tzinfo=None), CFG)
    assert cr.in_window(local, kind, CFG)
    if not_before is not None:
        assert local.date() >= not_before
    assert slot == brute_first_allowed(after, tz, kind, CFG, not_before)


@given(instants, st.sampled_from(ZONES))
def test_marketing_goes_out_on_weekdays_before_the_end_of_a_work_period(after, zone_name):
    tz = ZoneInfo(zone_name)
    local = cr.next_slot(after, tz, cr.MessageKind.MARKETING, CFG).astimezone(tz)
    assert local.weekday() < 5
    assert dt.time(10, 30) <= local.time() < dt.time(11, 45) or dt.time(16) <= local.time() < dt.time(17, 30)


@given(instants, st.sampled_from(ZONES), st.sampled_from([cr.MessageKind.CARE, cr.MessageKind.LEISURE]))
def test_care_and_leisure_go_out_in_the_evening_or_at_the_weekend(after, zone_name, kind):
    tz = ZoneInfo(zone_name)
    local = cr.next_slot(after, tz, kind, CFG).astimezone(tz)
    assert local.weekday() >= 5 or local.time() >= dt.time(19)


@given(
    st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2033, 12, 31)),
    st.integers(min_value=1, max_value=5),
    instants,
    st.sampled_from(ZONES),
)
def test_spacing_never_allows_the_same_or_too_close_a_day(last_day, spacing, after, zone_name):
    cfg = cr.RuleConfig(**{**CFG.__dict__, "spacing_days": spacing})
    earliest = cr.spacing_earliest_day(last_day, cfg)
    assert earliest - last_day == dt.timedelta(days=spacing)
    tz = ZoneInfo(zone_name)
    slot = cr.next_slot(after, tz, cr.MessageKind.MARKETING, cfg, not_before_day=earliest)
    assert cr.local_day(slot, tz) - last_day >= dt.timedelta(days=spacing)


def test_the_daily_cap_holds_even_with_no_spacing():
    cfg = cr.RuleConfig(**{**CFG.__dict__, "spacing_days": 0})
    assert cr.spacing_earliest_day(dt.date(2028, 2, 29), cfg) == dt.date(2028, 3, 1)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2031-12-31T23:59:00", "2032-01-01T19:00:00"),  # quiet hours into a new year (a Thursday)
        ("2028-02-29T16:30:00", "2028-02-29T19:00:00"),  # a leap day (Tuesday) afternoon
        ("2026-05-23T21:45:00", "2026-05-24T10:00:00"),  # Saturday night → Sunday morning
    ],
)
def test_care_slots_at_the_suite_boundaries_in_shanghai(local, expected):
    tz = ZoneInfo("Asia/Shanghai")
    after = dt.datetime.fromisoformat(local).replace(tzinfo=tz)
    slot = cr.next_slot(after, tz, cr.MessageKind.CARE, CFG).astimezone(tz).replace(tzinfo=None)
    assert slot == dt.datetime.fromisoformat(expected)


def test_quiet_hours_wrap_past_midnight_and_an_unknown_zone_falls_back():
    assert cr.in_quiet_hours(dt.time(23, 0), CFG) and cr.in_quiet_hours(dt.time(8, 29), CFG)
    assert not cr.in_quiet_hours(dt.time(8, 30), CFG)
    assert cr.zone("Mars/Olympus") == cr.zone("")


def test_settings_override_the_windows(settings):
    settings.KEHU_CONTACT_RULES = {"windows": {"marketing": [[[0, 1, 2, 3, 4, 5, 6], "09:00", "09:30"]]}}
    cfg = cr.config()
    tz = ZoneInfo("Asia/Shanghai")
    slot = cr.next_slot(dt.datetime(2026, 5, 23, 12, 0, tzinfo=tz), tz, "marketing", cfg)  # a Saturday
    assert slot.astimezone(tz) == dt.datetime(2026, 5, 24, 9, 0, tzinfo=tz)
