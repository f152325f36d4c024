"""Dates where they matter, at the boundaries: the Asia/Shanghai/UTC date line (UTC 16:00–24:00 is already the
next day in China), leap days, month ends and daylight-saving switches in the assignee's time zone
(Europe/Berlin, America/New_York). Each test sets its own instant with the suite's frozen clock, so it means the
same whatever clock the run starts on (tests/clock.py)."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from kehu.core.models import Notification
from kehu.interactions import services
from kehu.interactions.models import Task

UTC = dt.UTC
SHANGHAI, BERLIN, NEW_YORK = (
    ZoneInfo("Asia/Shanghai"),
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("America/New_York"),
)

pytestmark = pytest.mark.django_db


def _task(rep, account, title, due, **extra):
    return services.task_create(data={"title": title, "customer": account, "due_at": due, **extra}, by=rep)


def _calendar(client, year, month) -> dict[str, str]:
    """The calendar page's day cells: {ISO date: the cell's HTML}."""
    page = client.get("/interactions/calendar/", {"year": year, "month": month}).content.decode()
    cells = re.findall(
        r'<div class="([^"]*)" data-date="([0-9-]+)">(.*?)(?=<div class="[^"]*" data-date=|$)', page, re.S
    )
    return {day: f"{classes}|{html}" for classes, day, html in cells}


def test_the_calendar_grid_shows_tasks_on_the_neighbouring_months_days_and_the_leap_day(
    rep, account, client, frozen_clock
):
    frozen_clock.move_to(dt.datetime(2028, 2, 10, 9, 0, tzinfo=SHANGHAI))
    # February 2028 starts on a Tuesday and ends on Tuesday the 29th: the grid runs Mon 31 Jan – Sun 5 Mar
    _task(rep, account, "一月最后一天", dt.datetime(2028, 1, 31, 10, 0, tzinfo=SHANGHAI))
    _task(
        rep, account, "闰日深夜", dt.datetime(2028, 2, 29, 23, 30, tzinfo=SHANGHAI)
    )  # 15:30 UTC on the 29th
    _task(
        rep, account, "三月一日凌晨", dt.datetime(2028, 2, 29, 16, 30, tzinfo=UTC)
    )  # 00:30 on 1 March in China
    _task(rep, account, "格外之外", dt.datetime(2028, 3, 6, 10, 0, tzinfo=SHANGHAI))  # after the grid
    client.force_login(rep)
    cells = _calendar(client, 2028, 2)
    assert min(cells) == "2028-01-31" and max(cells) == "2028-03-05" and len(cells) == 35
    assert "一月最后一天" in cells["2028-01-31"] and cells["2028-01-31"].startswith("other")
    assert "闰日深夜" in cells["2028-02-29"] and "23:30" in cells["2028-02-29"]
    assert "三月一日凌晨" in cells["2028-03-01"] and "00:30" in cells["2028-03-01"]
    assert not any("格外之外" in html for html in cells.values())


def test_the_calendar_puts_a_task_on_the_day_of_the_viewers_time_zone(rep, account, client, frozen_clock):
    frozen_clock.move_to(dt.datetime(2027, 3, 10, 9, 0, tzinfo=UTC))
    _task(rep, account, "跨日任务", dt.datetime(2027, 3, 15, 20, 0, tzinfo=UTC))  # 16 March 04:00 in Shanghai
    client.force_login(rep)
    assert [day for day, html in _calendar(client, 2027, 3).items() if "跨日任务" in html] == ["2027-03-16"]
    rep.time_zone = "Europe/Berlin"
    rep.save()
    assert [day for day, html in _calendar(client, 2027, 3).items() if "跨日任务" in html] == ["2027-03-15"]


def test_the_calendar_refuses_out_of_range_months_with_the_current_month(rep, client, frozen_clock):
    frozen_clock.move_to(dt.datetime(2026, 12, 31, 23, 59, tzinfo=SHANGHAI))  # 15:59 UTC
    client.force_login(rep)
    for year, month in (("9999", "12"), ("0", "1"), ("2026", "13"), ("x", "1")):
        response = client.get("/interactions/calendar/", {"year": year, "month": month})
        assert response.status_code == 200
        assert (
            "2026-12" in response.content.decode()
        )  # Shanghai's month, although UTC is still in December too
    frozen_clock.move_to(dt.datetime(2026, 12, 31, 16, 1, tzinfo=UTC))  # 1 January 00:01 in Shanghai
    assert "2027-01" in client.get("/interactions/calendar/").content.decode()


@pytest.mark.parametrize(
    ("zone", "due_utc", "shown"),
    [
        # New York springs forward on 14 March 2027 at 02:00 EST → 03:00 EDT
        ("America/New_York", dt.datetime(2027, 3, 14, 6, 30, tzinfo=UTC), "2027-03-14 01:30"),
        ("America/New_York", dt.datetime(2027, 3, 14, 7, 30, tzinfo=UTC), "2027-03-14 03:30"),
        # Berlin springs forward on 28 March 2027 at 02:00 CET → 03:00 CEST
        ("Europe/Berlin", dt.datetime(2027, 3, 28, 0, 30, tzinfo=UTC), "2027-03-28 01:30"),
        ("Europe/Berlin", dt.datetime(2027, 3, 28, 1, 30, tzinfo=UTC), "2027-03-28 03:30"),
        # Berlin falls back on 31 October 2027: 02:30 happens twice, an hour apart
        ("Europe/Berlin", dt.datetime(2027, 10, 31, 0, 30, tzinfo=UTC), "2027-10-31 02:30"),
        ("Europe/Berlin", dt.datetime(2027, 10, 31, 1, 30, tzinfo=UTC), "2027-10-31 02:30"),
        # 31 December 23:59 in Shanghai is still 15:59 on 31 December in UTC
        ("Asia/Shanghai", dt.datetime(2027, 12, 31, 15, 59, tzinfo=UTC), "2027-12-31 23:59"),
        ("Asia/Shanghai", dt.datetime(2027, 12, 31, 16, 0, tzinfo=UTC), "2028-01-01 00:00"),
    ],
)
def test_reminders_show_the_due_time_in_the_assignees_zone_across_dst_and_the_date_line(
    rep, account, frozen_clock, zone, due_utc, shown
):
    frozen_clock.move_to(due_utc - dt.timedelta(hours=3))
    rep.time_zone = zone
    rep.save()
    _task(rep, account, "回访", due_utc, remind_at=due_utc - dt.timedelta(hours=2))
    assert services.reminders_send_due() == 0  # not yet: the reminder is an hour away
    frozen_clock.shift(dt.timedelta(hours=1))
    assert services.reminders_send_due() == 1
    assert shown in Notification.objects.get(user=rep).body


def test_a_local_time_that_does_not_exist_or_happens_twice_is_refused_with_a_clear_message(
    rep, account, client, frozen_clock
):
    frozen_clock.move_to(dt.datetime(2027, 3, 1, 9, 0, tzinfo=BERLIN))
    rep.time_zone = "Europe/Berlin"
    rep.save()
    client.force_login(rep)
    for local in ("2027-03-28T02:30", "2027-10-31T02:30"):  # skipped in spring, twice in autumn
        response = client.post(
            "/interactions/tasks/new/",
            {"title": "夏令时任务", "due_at": local, "priority": "normal", "status": "open"},
        )
        assert response.status_code == 400  # the form again, with the error on the field
        assert "couldn’t be interpreted in time zone Europe/Berlin" in response.content.decode()
    response = client.post(
        "/interactions/tasks/new/",
        {"title": "夏令时任务", "due_at": "2027-03-28T03:30", "priority": "normal", "status": "open"},
    )
    assert response.status_code == 302
    task = Task.objects.get(title="夏令时任务")
    assert task.due_at == dt.datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


def test_due_views_follow_the_users_day_not_the_servers(rep, account, client, frozen_clock):
    frozen_clock.move_to(dt.datetime(2026, 5, 20, 16, 30, tzinfo=UTC))  # 21 May 00:30 in Shanghai
    _task(rep, account, "清晨任务", dt.datetime(2026, 5, 21, 9, 0, tzinfo=SHANGHAI))
    client.force_login(rep)

    def today():
        return "清晨任务" in client.get("/interactions/tasks/", {"view": "today"}).content.decode()

    assert today()  # it is already the 21st in Shanghai
    rep.time_zone = "UTC"
    rep.save()
    assert not today()  # still the 20th in UTC: the task is due tomorrow


def test_timezone_now_is_the_frozen_clock(frozen_clock, now):
    frozen_clock.move_to(now, tick=False)
    assert timezone.now() == now
