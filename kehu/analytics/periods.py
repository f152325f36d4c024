"""Calendar periods of the scorecard: month, quarter, year. A period is [start, end) in local dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class PeriodType(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


MONTHS = {PeriodType.MONTH: 1, PeriodType.QUARTER: 3, PeriodType.YEAR: 12}


def _add_months(day: dt.date, months: int) -> dt.date:
    """The first of the month `months` after `day`'s, clamped to the calendar's ends (year 1 … 9999)."""
    index = day.year * 12 + day.month - 1 + months
    if index // 12 > dt.MAXYEAR:
        return dt.date.max
    if index // 12 < dt.MINYEAR:
        return dt.date.min
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    kind: str
    start: dt.date
    end: dt.date  # exclusive

    @property
    def months(self) -> int:
        return MONTHS[PeriodType(self.kind)]

    @property
    def label(self) -> str:
        if self.kind == PeriodType.MONTH:
            return f"{self.start:%Y-%m}"
        if self.kind == PeriodType.QUARTER:
            return f"{self.start.year} Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}"

    @property
    def key(self) -> str:
        """The `?at=` value that selects this period."""
        return self.start.isoformat()

    def shift(self, n: int) -> Period:
        start = _add_months(self.start, n * self.months)
        return Period(self.kind, start, _add_months(start, self.months))

    def previous(self) -> Period:
        return self.shift(-1)

    def back(self, n: int) -> list[Period]:
        """The n periods ending with this one, oldest first."""
        return [self.shift(-i) for i in range(n - 1, -1, -1)]

    def contains(self, day: dt.date) -> bool:
        return self.start <= day < self.end


def period_of(kind: str, day: dt.date) -> Period:
    """The period of `kind` that contains `day`."""
    kind = PeriodType(kind)
    months = MONTHS[kind]
    month = (day.month - 1) // months * months + 1
    start = dt.date(day.year, month, 1)
    return Period(kind.value, start, _add_months(start, months))


def parse(kind: str | None, at: str | None, *, today: dt.date) -> Period:
    """The period a request asks for (`?period=quarter&at=2026-04-01`). Without `at` (or with a bad one): the
    last complete period of the kind (default quarter) — a scorecard is reviewed on a finished period."""
    try:
        kind = PeriodType(kind or PeriodType.QUARTER)
    except ValueError:
        kind = PeriodType.QUARTER
    last_complete = period_of(kind, today).previous()
    if not at:
        return last_complete
    try:
        day = dt.date.fromisoformat(at[:10]) if len(at) >= 10 else dt.date.fromisoformat(f"{at[:7]}-01")
    except ValueError:
        return last_complete
    if not dt.date(1900, 1, 1) <= day <= dt.date(2999, 12, 31):
        return last_complete
    return period_of(kind, day)
