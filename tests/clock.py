"""The suite's clock: every test runs on a frozen "now", never on the wall clock.

`KEHU_TEST_NOW` (or `pytest --now=...`) moves it: an ISO 8601 instant with its offset, e.g.
`2031-12-31T23:59:00+08:00` (one minute before the new year in Shanghai, 15:59 UTC). CI runs the suite on the
default and again on moved clocks (.ci/run); a test that passes on one and fails on another reads the wall clock
or mixes a literal date with "now". Tests compute their instants from `timezone.now()` / `timezone.localdate()`
(which the clock moves) or from the `now` fixture, and use literal dates only where nothing compares them with
"now" (parsing, formatting, arithmetic on given dates).

The clock ticks from the frozen instant (`tick=True`) so that records written one after the other keep their
order; a test that needs time to stand still or to jump uses the `frozen_clock` fixture:
`frozen_clock.move_to(..., tick=False)`, `frozen_clock.shift(...)`.
"""

from __future__ import annotations

import datetime as dt
import os

# A Wednesday in May, mid-morning in Shanghai: far from month, year and DST boundaries. The moved clocks in CI
# are the boundaries.
DEFAULT_NOW = "2026-05-20T10:30:00+08:00"
ENV = "KEHU_TEST_NOW"


def parse(value: str) -> dt.datetime:
    instant = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if instant.tzinfo is None:
        raise ValueError(f"{ENV} needs an offset or a 'Z' (e.g. 2031-12-31T23:59:00+08:00), got {value!r}")
    return instant


def frozen_now() -> dt.datetime:
    """The instant every test starts at."""
    return parse(os.environ.get(ENV) or DEFAULT_NOW)
