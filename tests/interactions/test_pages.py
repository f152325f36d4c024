"""Interaction and task pages: list filters, due views, complete from the list, task form, calendar, home
widget, quick add from the 360° page, and scope on every page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kehu.customers import services as customer_services
from kehu.interactions import services
from kehu.interactions.models import Interaction, Task

from .conftest import grant_interactions


def _log(customer, by, subject, channel="call", **extra):
    return services.interaction_log(
        customer=customer, data={"channel": channel, "subject": subject, **extra}, by=by
    )


@pytest.mark.django_db
def test_interaction_list_filters_by_channel_user_and_date_range(rep, account, client):
    now = timezone.now()
    _log(account, rep, "今天的电话", "call", occurred_at=now)
    _log(account, rep, "上月的拜访", "visit", occurred_at=now - dt.timedelta(days=40))
    client.force_login(rep)

    def subjects(**params):
        html = client.get("/interactions/", params).content.decode()
        return {s for s in ("今天的电话", "上月的拜访") if s in html}

    assert subjects() == {"今天的电话", "上月的拜访"}
    assert subjects(channel="visit") == {"上月的拜访"}
    assert subjects(user=rep.pk) == {"今天的电话", "上月的拜访"}
    since = (timezone.localdate() - dt.timedelta(days=7)).isoformat()
    assert subjects(since=since) == {"今天的电话"}
    assert subjects(until=since) == {"上月的拜访"}


@pytest.mark.django_db
def test_task_due_views_and_complete_from_the_list(rep, account, client):
    now = timezone.localtime()
    overdue = services.task_create(
        data={"title": "逾期任务", "customer": account, "due_at": now - dt.timedelta(days=2)}, by=rep
    )
    services.task_create(data={"title": "下月任务", "due_at": now + dt.timedelta(days=30)}, by=rep)
    client.force_login(rep)

    def titles(view):
        html = client.get("/interactions/tasks/", {"view": view}).content.decode()
        return {t for t in ("逾期任务", "下月任务") if t in html}

    assert titles("overdue") == {"逾期任务"}
    assert titles("week") == {"逾期任务"}
    assert titles("open") == {"逾期任务", "下月任务"}
    response = client.post(
        f"/interactions/tasks/{overdue.pk}/complete/", {"next": "/interactions/tasks/?view=overdue"}
    )
    assert response.status_code == 302 and response["Location"] == "/interactions/tasks/?view=overdue"
    overdue.refresh_from_db()
    assert overdue.status == "done" and overdue.completed_at is not None
    assert titles("overdue") == set() and titles("done") == {"逾期任务"}
    evil = client.post(f"/interactions/tasks/{overdue.pk}/complete/", {"next": "//evil.example/"})
    assert evil["Location"] == overdue.get_absolute_url()


@pytest.mark.django_db
def test_task_form_creates_and_edits_with_reminder(rep, account, client):
    client.force_login(rep)
    assert client.get(f"/interactions/tasks/new/?customer={account.pk}").status_code == 200
    response = client.post(
        "/interactions/tasks/new/",
        {
            "title": "准备续约方案",
            "customer": account.pk,
            "due_at": "2030-03-01T10:00",
            "remind_at": "2030-03-01T09:00",
            "priority": "high",
            "status": "open",
            "owner": rep.pk,
            "notes": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    task = Task.objects.get()
    assert task.owner == rep and task.customer == account and task.priority == "high"
    assert client.get(task.get_absolute_url()).status_code == 200
    bad = client.post(
        f"/interactions/tasks/{task.pk}/edit/",
        {
            "title": "准备续约方案",
            "customer": account.pk,
            "due_at": "2030-03-01T10:00",
            "remind_at": "2030-03-02T09:00",
            "priority": "high",
            "status": "open",
            "owner": rep.pk,
            "version": task.version,
        },
    )
    assert bad.status_code == 400 and "reminder must not be after" in bad.content.decode()


@pytest.mark.django_db
def test_quick_add_task_and_htmx_log_error_keeps_the_form(rep, account, client):
    client.force_login(rep)
    response = client.post(
        f"/interactions/customer/{account.pk}/task/",
        {"title": "下周回访", "due_at": "2030-01-10T10:00", "remind_at": "2030-01-10T09:30"},
    )
    assert response.status_code == 302
    task = Task.objects.get()
    assert task.customer == account and task.owner == rep and task.remind_at is not None
    page = client.get(f"/customers/{account.pk}/").content.decode()
    assert "下周回访" in page and 'data-testid="tasks-panel"' in page and 'data-testid="check-in"' in page
    bad = client.post(
        f"/interactions/customer/{account.pk}/log/", {"channel": "fax", "subject": ""}, HTTP_HX_REQUEST="true"
    )
    assert bad.status_code == 400 and bad["HX-Retarget"] == "#quick-log-errors"
    good = client.post(
        f"/interactions/customer/{account.pk}/log/",
        {"channel": "visit", "subject": "上门拜访", "latitude": "31.230416", "longitude": "121.473701"},
        HTTP_HX_REQUEST="true",
    )
    assert 'id="quick-log-errors" hx-swap-oob="true"' in good.content.decode()  # clears the old error
    visit = Interaction.objects.get()
    assert visit.channel == "visit" and str(visit.latitude) == "31.230416"


@pytest.mark.django_db
def test_calendar_month_shows_tasks_and_meetings_with_prev_next(rep, account, client):
    tz = timezone.get_current_timezone()
    services.task_create(
        data={"title": "三月任务", "due_at": dt.datetime(2030, 3, 14, 10, tzinfo=tz)}, by=rep
    )
    _log(account, rep, "三月会议", "meeting", occurred_at=dt.datetime(2025, 3, 3, 15, tzinfo=tz))
    _log(account, rep, "三月电话", "call", occurred_at=dt.datetime(2025, 3, 4, 15, tzinfo=tz))
    client.force_login(rep)
    html = client.get("/interactions/calendar/", {"year": 2030, "month": 3}).content.decode()
    assert "三月任务" in html and "year=2030&month=2" in html and "year=2030&month=4" in html
    html = client.get("/interactions/calendar/", {"year": 2025, "month": 3}).content.decode()
    assert "三月会议" in html and "三月电话" not in html  # meetings and visits, not every call
    december = client.get("/interactions/calendar/", {"year": 2025, "month": 12}).content.decode()
    assert "year=2026&month=1" in december
    assert client.get("/interactions/calendar/", {"year": "x", "month": 13}).status_code == 200


@pytest.mark.django_db
def test_home_shows_my_open_tasks_soonest_first_and_kpis(rep, account, client):
    now = timezone.now()
    services.task_create(data={"title": "later-task", "due_at": now + dt.timedelta(days=5)}, by=rep)
    services.task_create(data={"title": "sooner-task", "due_at": now - dt.timedelta(hours=1)}, by=rep)
    _log(account, rep, "本周电话")
    client.force_login(rep)
    html = client.get("/").content.decode()
    assert html.index("sooner-task") < html.index("later-task")
    for label in ("My open tasks", "Overdue tasks", "My interactions this week"):
        assert label in html


@pytest.mark.django_db
def test_pages_404_for_tasks_and_customers_out_of_scope(rep, account, make_user, client):
    task = services.task_create(
        data={"title": "别人的任务", "customer": account, "due_at": timezone.now()}, by=rep
    )
    other = make_user("customers.customer")
    grant_interactions(other)
    client.force_login(other)
    for url in (
        task.get_absolute_url(),
        f"/interactions/tasks/{task.pk}/edit/",
        f"/customers/{account.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/interactions/tasks/{task.pk}/complete/").status_code == 404
    assert client.post(f"/interactions/customer/{account.pk}/task/", {"title": "x"}).status_code == 404
    assert "别人的任务" not in client.get("/interactions/tasks/?mine=0").content.decode()
    assert "别人的任务" not in client.get("/interactions/calendar/?mine=0").content.decode()
    task.refresh_from_db()
    assert task.status == "open"


@pytest.mark.django_db
def test_a_second_owner_cannot_attach_work_to_a_customer_they_cannot_see(rep, account, make_user):
    other = make_user("customers.customer")
    grant_interactions(other)
    theirs = customer_services.customer_create(data={"name": "他们的客户"}, by=other)
    from django.http import Http404

    with pytest.raises(Http404):
        services.task_create(data={"title": "x", "customer": account, "due_at": timezone.now()}, by=other)
    task = services.task_create(data={"title": "x", "customer": theirs, "due_at": timezone.now()}, by=other)
    with pytest.raises(Http404):
        services.task_update(task=task, data={"customer": account}, by=other, expected_version=task.version)


@pytest.mark.django_db
def test_the_customer_column_is_called_customer_not_the_won_stage_in_chinese(rep, account, client):
    services.task_create(data={"title": "中文列名", "customer": account, "due_at": timezone.now()}, by=rep)
    _log(account, rep, "中文列名电话")
    rep.language = "zh-hans"
    rep.save()
    client.force_login(rep)
    for url in ("/interactions/tasks/", "/interactions/"):
        page = client.get(url).content.decode()
        assert ">客户<" in page and "成交客户" not in page, url
