"""Interactions: logging, account roll-up, keyset paging, scope, tasks, reminders (real SMTP), transfer, API."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kehu.core.models import AuditEntry, Notification
from kehu.core.services import ownership_transfer
from kehu.customers import services as customer_services
from kehu.customers.models import Kind
from kehu.interactions import selectors, services
from kehu.interactions.models import Interaction, Task


@pytest.mark.django_db
def test_log_validates_and_rolls_up_to_account(rep, account):
    contact = customer_services.customer_create(
        data={"name": "李雷", "kind": Kind.PERSON, "account": account}, by=rep
    )
    services.interaction_log(customer=contact, data={"channel": "call", "subject": "  电话回访  "}, by=rep)
    services.interaction_log(customer=account, data={"channel": "visit", "subject": "上门拜访"}, by=rep)
    item = Interaction.objects.get(customer=contact)
    assert item.subject == "电话回访" and item.account == account and item.user == rep
    assert [i.subject for i in selectors.timeline(user=rep, customer=account).items] == [
        "上门拜访",
        "电话回访",
    ]
    assert [i.subject for i in selectors.timeline(user=rep, customer=contact).items] == ["电话回访"]
    with pytest.raises(Exception) as exc:
        services.interaction_log(customer=account, data={"channel": "call", "subject": "   "}, by=rep)
    assert "subject" in str(exc.value)
    with pytest.raises(Exception) as exc:
        services.interaction_log(
            customer=account,
            data={"channel": "visit", "subject": "x", "latitude": 91, "longitude": 10},
            by=rep,
        )
    assert "out of range" in str(exc.value)
    assert AuditEntry.objects.filter(model="interactions.interaction", action="create").count() == 2


@pytest.mark.django_db
def test_keyset_pages_neither_skip_nor_repeat_with_equal_timestamps(rep, account):
    same = timezone.now().replace(microsecond=0)
    for i in range(45):
        services.interaction_log(
            customer=account,
            data={"channel": "note", "subject": f"n{i}", "occurred_at": same - dt.timedelta(minutes=i // 10)},
            by=rep,
        )
    seen, cursor = [], None
    while True:
        page = selectors.timeline(user=rep, customer=account, cursor=cursor, size=7)
        seen.extend(i.pk for i in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = list(Interaction.objects.order_by("-occurred_at", "-id").values_list("pk", flat=True))
    assert seen == expected
    assert selectors.timeline(user=rep, customer=account, cursor="garbage!!").items  # bad cursor = first page


@pytest.mark.django_db
def test_out_of_scope_customers_interactions_are_404_everywhere(rep, make_user, client, api_for, account):
    other = make_user("customers.customer")
    services.interaction_log(customer=account, data={"channel": "call", "subject": "秘密通话"}, by=rep)
    item = Interaction.objects.get()
    from kehu.core.models import ModelGrant

    ModelGrant.objects.create(
        role=other.roles.get(), model="interactions.interaction", can_view=True, can_add=True
    )
    with pytest.raises(Http404):
        services.interaction_log(customer=account, data={"channel": "call", "subject": "x"}, by=other)
    client.force_login(other)
    assert client.get(f"/interactions/{item.pk}/").status_code == 404
    assert client.get(f"/interactions/customer/{account.pk}/timeline/").status_code == 404
    assert (
        client.post(
            f"/interactions/customer/{account.pk}/log/", {"channel": "call", "subject": "x"}
        ).status_code
        == 404
    )
    assert "秘密通话" not in client.get("/interactions/").content.decode()
    api = api_for(other)
    assert api.get(f"/api/interactions/{item.pk}/").status_code == 404
    assert api.get("/api/interactions/").json()["results"] == []
    assert Interaction.objects.count() == 1


@pytest.mark.django_db
def test_two_click_log_through_htmx_returns_the_new_item(rep, account, client):
    client.force_login(rep)
    response = client.post(
        f"/interactions/customer/{account.pk}/log/",
        {"channel": "wechat", "subject": "微信发资料", "direction": "out"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "微信发资料" in response.content.decode()
    bad = client.post(
        f"/interactions/customer/{account.pk}/log/",
        {"channel": "wechat", "subject": ""},
        HTTP_HX_REQUEST="true",
    )
    assert bad.status_code == 400 and "required" in bad.content.decode()
    assert Interaction.objects.count() == 1


@pytest.mark.django_db
def test_360_timeline_panel_uses_constant_queries(rep, account, client):
    client.force_login(rep)
    url = f"/customers/{account.pk}/"
    services.interaction_log(customer=account, data={"channel": "call", "subject": "第一次"}, by=rep)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for i in range(30):
        services.interaction_log(customer=account, data={"channel": "email", "subject": f"邮件{i}"}, by=rep)
        services.task_create(
            data={"title": f"任务{i}", "customer": account, "due_at": timezone.now() + dt.timedelta(days=1)},
            by=rep,
        )
    with CaptureQueriesContext(connection) as many:
        page = client.get(url)
    assert "邮件29" in page.content.decode() and "Load more" in page.content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.django_db
def test_task_lists_complete_and_transfer_of_open_tasks(rep, make_user, admin_user, account):
    now = timezone.now()
    overdue = services.task_create(
        data={"title": "逾期", "customer": account, "due_at": now - dt.timedelta(days=1)}, by=rep
    )
    services.task_create(data={"title": "下周", "due_at": now + dt.timedelta(days=3)}, by=rep)
    done = services.task_create(data={"title": "已完成", "due_at": now - dt.timedelta(days=2)}, by=rep)
    services.task_complete(task=done, by=rep)
    assert [t.title for t in selectors.due_tasks(user=rep, view="overdue")] == ["逾期"]
    assert overdue.is_overdue
    assert {t.title for t in selectors.due_tasks(user=rep, view="week")} == {"逾期", "下周"}
    with pytest.raises(ValidationError, match="reminder"):
        services.task_create(
            data={"title": "x", "due_at": now, "remind_at": now + dt.timedelta(hours=1)}, by=rep
        )
    successor = make_user("customers.customer")
    moved = ownership_transfer(from_user=rep, to_user=successor, by=admin_user)
    assert moved["interactions.task"] == 2
    assert set(Task.objects.filter(owner=successor).values_list("title", flat=True)) == {"逾期", "下周"}
    assert Task.objects.get(title="已完成").owner == rep  # history stays with who did it
    assert moved["customers.customer"] == 1


@pytest.mark.django_db
def test_reminder_notifies_and_mails_through_real_smtp_once(
    rep, account, smtp_settings, django_capture_on_commit_callbacks
):
    sink = smtp_settings
    now = timezone.now()
    task = services.task_create(
        data={
            "title": "给客户回电",
            "customer": account,
            "due_at": now + dt.timedelta(hours=2),
            "remind_at": now - dt.timedelta(minutes=1),
        },
        by=rep,
    )
    services.task_create(
        data={
            "title": "later",
            "due_at": now + dt.timedelta(days=2),
            "remind_at": now + dt.timedelta(days=1),
        },
        by=rep,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reminders_send_due() == 1  # the mail leaves after the commit
        assert services.reminders_send_due() == 0
    assert Notification.objects.get(user=rep).title.endswith("给客户回电")
    assert len(sink.messages) == 1
    recipients, content = sink.messages[0]
    assert recipients == [rep.email] and f"/interactions/tasks/{task.pk}/" in content


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_one_reminder_twice(rep, account):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the concurrent claim is exercised on PostgreSQL in CI")
    now = timezone.now()
    for i in range(20):
        services.task_create(
            data={
                "title": f"r{i}",
                "due_at": now + dt.timedelta(hours=1),
                "remind_at": now - dt.timedelta(minutes=1),
            },
            by=rep,
        )
    results, barrier = [], threading.Barrier(2)

    def worker():
        from django.db import connections

        barrier.wait()
        results.append(services.reminders_send_due())
        connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 20
    assert Notification.objects.filter(user=rep).count() == 20


@pytest.mark.django_db
def test_api_cursor_pagination_and_task_complete(rep, account, api_for):
    api = api_for(rep)
    for i in range(5):
        created = api.post(
            "/api/interactions/",
            {"customer": account.pk, "channel": "call", "subject": f"c{i}"},
            format="json",
        )
        assert created.status_code == 201, created.content
    first = api.get("/api/interactions/", {"page_size": 2, "account": account.pk}).json()
    second = api.get(first["next"]).json()
    assert [r["subject"] for r in first["results"] + second["results"]] == ["c4", "c3", "c2", "c1"]
    task = api.post(
        "/api/tasks/", {"title": "API 任务", "due_at": timezone.now().isoformat()}, format="json"
    ).json()
    done = api.post(f"/api/tasks/{task['id']}/complete/")
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert api.get("/api/tasks/", {"status": "done"}).json()["results"][0]["id"] == task["id"]


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_job_loses_no_reminder(rep, account, monkeypatch):
    """The worker dies after claiming the first task but before its notification is stored: the claim is
    rolled back with it, and the next run sends every reminder exactly once."""
    from kehu.interactions import services as svc

    now = timezone.now()
    for i in range(3):
        services.task_create(
            data={
                "title": f"k{i}",
                "due_at": now + dt.timedelta(hours=1),
                "remind_at": now - dt.timedelta(minutes=3 - i),
            },
            by=rep,
        )
    real_notify, calls = svc.notify, []

    def dying_notify(**kwargs):
        calls.append(kwargs["title"])
        if len(calls) == 2:
            raise SystemExit("worker killed")
        return real_notify(**kwargs)

    monkeypatch.setattr(svc, "notify", dying_notify)
    with pytest.raises(SystemExit):
        services.reminders_send_due()
    assert Task.objects.filter(reminded_at__isnull=False).count() == 1
    monkeypatch.setattr(svc, "notify", real_notify)
    assert services.reminders_send_due() == 2
    assert Notification.objects.filter(user=rep).count() == 3
    assert Task.objects.filter(reminded_at__isnull=True).count() == 0
