"""Calendar arithmetic shared by the apps (warranties, contract terms, instalments, plan periods)."""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved by whole calendar months; a day the target month lacks becomes its last day
    (31 January + 1 month = 28/29 February; 29 February + 12 months = 28 February)."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return day.replace(year=year, month=month + 1, day=min(day.day, calendar.monthrange(year, month + 1)[1]))
