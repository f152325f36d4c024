"""Calendar arithmetic: month ends and leap days."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kehu.core.dates import add_months


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2025, 1, 31), 1, dt.date(2025, 2, 28)),
        (dt.date(2028, 1, 31), 1, dt.date(2028, 2, 29)),
        (dt.date(2028, 2, 29), 12, dt.date(2029, 2, 28)),
        (dt.date(2028, 2, 29), 48, dt.date(2032, 2, 29)),
        (dt.date(2026, 12, 31), 2, dt.date(2027, 2, 28)),
        (dt.date(2026, 3, 31), -1, dt.date(2026, 2, 28)),
        (dt.date(2026, 5, 20), 0, dt.date(2026, 5, 20)),
        (dt.date(2026, 11, 30), 1, dt.date(2026, 12, 30)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_month_end(day, months, expected):
    assert add_months(day, months) == expected


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)), st.integers(-600, 600))
def test_add_months_lands_in_the_right_month_never_past_the_day(day, months):
    moved = add_months(day, months)
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == months
    assert moved.day <= day.day
    assert moved.day == day.day or (moved + dt.timedelta(days=1)).month != moved.month
