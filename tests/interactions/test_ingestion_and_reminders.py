"""Idempotent ingestion (external refs, other apps' events), account refresh, reminders through the real
django-tasks database worker and the send_reminders command."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from kehu.core.models import Notification
from kehu.customers import services as customer_services
from kehu.customers.models import Customer, Kind
from kehu.interactions import selectors, services
from kehu.interactions.models import Interaction, Task


@pytest.mark.django_db
def test_external_ref_makes_ingestion_idempotent_and_blank_refs_never_collide(rep, account):
    first = services.interaction_log(
        customer=account,
        data={"channel": "call", "subject": "来电", "external_ref": " pbx-0001 "},
        by=rep,
    )
    again = services.interaction_log(
        customer=account,
        data={"channel": "call", "subject": "来电 (retry)", "external_ref": "pbx-0001"},
        by=rep,
    )
    assert again.pk == first.pk and first.external_ref == "pbx-0001"
    for i in range(2):  # "" is stored as NULL, so any number of entries may lack a reference
        services.interaction_log(
            customer=account, data={"channel": "note", "subject": f"n{i}", "external_ref": ""}, by=rep
        )
    assert Interaction.objects.filter(external_ref__isnull=True).count() == 2
    other = customer_services.customer_create(data={"name": "上海另一家公司"}, by=rep)
    with pytest.raises(ValidationError, match="already used"):
        services.interaction_log(
            customer=other, data={"channel": "call", "subject": "x", "external_ref": "pbx-0001"}, by=rep
        )
    assert Interaction.objects.count() == 3


@pytest.mark.django_db
def test_events_of_other_apps_land_once_on_the_contact_and_account_timelines(rep, account):
    contact = customer_services.customer_create(
        data={"name": "韩梅梅", "kind": Kind.PERSON, "account": account}, by=rep
    )
    when = timezone.now() - dt.timedelta(days=2)
    kwargs = {
        "customer": contact,
        "subject": "订单 SO-1001 已下单",
        "related_model": "sales.order",
        "related_id": 1001,
        "url": "/sales/orders/1001/",
        "occurred_at": when,
    }
    event = services.timeline_event_record(**kwargs)
    assert services.timeline_event_record(**{**kwargs, "subject": "changed"}).pk == event.pk
    assert event.channel == "event" and event.account_id == account.pk and event.user is None
    assert [i.pk for i in selectors.timeline(user=rep, customer=account).items] == [event.pk]
    assert [i.pk for i in selectors.timeline(user=rep, customer=contact).items] == [event.pk]
    other = services.timeline_event_record(**{**kwargs, "related_model": "service.ticket"})
    assert other.pk != event.pk and Interaction.objects.count() == 2


@pytest.mark.django_db
def test_account_refresh_after_a_contact_moves_to_another_account(rep, account):
    contact = customer_services.customer_create(
        data={"name": "王芳", "kind": Kind.PERSON, "account": account}, by=rep
    )
    services.interaction_log(customer=contact, data={"channel": "call", "subject": "旧公司时的通话"}, by=rep)
    new_account = customer_services.customer_create(data={"name": "深圳新公司"}, by=rep)
    Customer.objects.filter(pk=contact.pk).update(account=new_account)
    assert services.interactions_account_refresh(customer_ids=[contact.pk]) == 1
    assert selectors.timeline(user=rep, customer=account).items == []
    assert [i.subject for i in selectors.timeline(user=rep, customer=new_account).items] == ["旧公司时的通话"]
    assert services.interactions_account_refresh(customer_ids=[contact.pk]) == 0


@pytest.mark.django_db
def test_a_new_reminder_time_rearms_the_reminder(rep, account):
    now = timezone.now()
    task = services.task_create(
        data={
            "title": "回电",
            "due_at": now + dt.timedelta(hours=3),
            "remind_at": now - dt.timedelta(minutes=5),
        },
        by=rep,
    )
    assert services.reminders_send_due() == 1
    task.refresh_from_db()
    assert task.reminded_at is not None
    services.task_update(task=task, data={"title": "回电 (改)"}, by=rep, expected_version=task.version)
    task.refresh_from_db()
    assert task.reminded_at is not None  # other edits do not re-arm
    services.task_update(
        task=task, data={"remind_at": now - dt.timedelta(minutes=1)}, by=rep, expected_version=task.version
    )
    task.refresh_from_db()
    assert task.reminded_at is None
    assert services.reminders_send_due() == 1
    assert Notification.objects.filter(user=rep).count() == 2  # one per reminder time (dedup key)


@pytest.mark.django_db
def test_done_cancelled_and_unassigned_tasks_are_not_reminded(rep):
    now = timezone.now()
    base = {"due_at": now + dt.timedelta(hours=1), "remind_at": now - dt.timedelta(minutes=1)}
    done = services.task_create(data={"title": "done", **base}, by=rep)
    services.task_complete(task=done, by=rep)
    services.task_create(data={"title": "cancelled", "status": "cancelled", **base}, by=rep)
    orphan = services.task_create(data={"title": "orphan", **base}, by=rep)
    Task.objects.filter(pk=orphan.pk).update(owner=None)
    assert services.reminders_send_due() == 0
    assert not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_send_reminders_enqueues_a_job_the_database_worker_runs(rep, account, settings, smtp_settings):
    """The production path: `send_reminders` (what `make run` starts with --every 60) enqueues the job into
    django-tasks-db; `db_worker` picks it up, notifies and mails through a real SMTP server."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    from django_tasks_db.models import DBTaskResult

    now = timezone.now()
    task = services.task_create(
        data={
            "title": "周五前发报价",
            "customer": account,
            "due_at": now + dt.timedelta(days=1),
            "remind_at": now - dt.timedelta(minutes=1),
        },
        by=rep,
    )
    out = io.StringIO()
    call_command("send_reminders", stdout=out)
    assert "enqueued" in out.getvalue()
    assert not Notification.objects.exists()  # nothing happens until a worker runs the job
    call_command("db_worker", batch=True, startup_delay=False, reload=False, stdout=io.StringIO())
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    assert Notification.objects.get(user=rep).url == f"/interactions/tasks/{task.pk}/"
    assert len(smtp_settings.messages) == 1 and smtp_settings.messages[0][0] == ["rep@example.com"]
    call_command("send_reminders", stdout=io.StringIO())
    call_command("db_worker", batch=True, startup_delay=False, reload=False, stdout=io.StringIO())
    assert Notification.objects.count() == 1 and len(smtp_settings.messages) == 1


@pytest.mark.django_db
def test_send_reminders_now_runs_in_process(rep):
    now = timezone.now()
    services.task_create(
        data={
            "title": "x",
            "due_at": now + dt.timedelta(hours=1),
            "remind_at": now - dt.timedelta(minutes=1),
        },
        by=rep,
    )
    out = io.StringIO()
    call_command("send_reminders", "--now", stdout=out)
    assert "reminders sent: 1" in out.getvalue()
    assert Notification.objects.filter(user=rep).count() == 1


@pytest.mark.django_db
def test_demo_seed_is_deterministic_and_rolls_contacts_up(make_user):
    import random

    from django.db import transaction

    from kehu.core.demo import seed_org
    from kehu.customers.demo import seed_customers
    from kehu.interactions import demo

    org = seed_org()
    ids = seed_customers(count=80, owners=org.owners, rng=random.Random(3))

    def run():
        with transaction.atomic():
            summary = demo.seed(
                {"rng": random.Random(9), "org": org, "customer_ids": ids, "stdout": io.StringIO()}
            )
            rows = sorted(
                Interaction.objects.values_list(
                    "customer_id", "account_id", "channel", "direction", "subject"
                )
            )
            tasks = sorted(Task.objects.values_list("customer_id", "title", "owner_id"))
            transaction.set_rollback(True)
        return summary, rows, tasks

    summary, rows, tasks = run()
    again = run()
    assert again == (summary, rows, tasks)
    assert summary == f"{len(ids) * 4} interactions, {len(tasks)} tasks" and len(tasks) == len(ids[::20])
    accounts = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "account_id"))
    assert all(account == (accounts[c] or c) for c, account, *_ in rows)
    assert {channel for _c, _a, channel, *_ in rows} >= {"call", "email", "wechat", "visit"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_event_records_store_one_entry(rep, account):
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race is exercised on PostgreSQL")
    results, barrier = [], threading.Barrier(4)

    def worker():
        barrier.wait()
        results.append(
            services.timeline_event_record(
                customer=account, subject="工单 T-7 已关闭", related_model="service.ticket", related_id=7
            ).pk
        )
        connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1
    assert Interaction.objects.filter(related_model="service.ticket").count() == 1


@pytest.mark.django_db
def test_reminders_are_written_in_the_assignees_language_and_time_zone_with_an_absolute_link(
    rep, account, settings, smtp_settings, django_capture_on_commit_callbacks
):
    """The worker runs in the server's defaults; the reminder is for the assignee."""
    settings.KEHU_BASE_URL = "https://crm.example.cn"
    rep.language, rep.time_zone = "zh-hans", "Europe/Berlin"
    rep.save()
    due = (timezone.now() + dt.timedelta(days=1)).replace(second=0, microsecond=0)
    task = services.task_create(
        data={"title": "回访", "customer": account, "due_at": due, "remind_at": timezone.now()}, by=rep
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reminders_send_due() == 1
    note = Notification.objects.get(user=rep)
    in_berlin = due.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M")
    assert note.title == "提醒：回访" and in_berlin in note.body
    ((recipients, content),) = smtp_settings.messages
    assert recipients == ["rep@example.com"]
    assert f"https://crm.example.cn/interactions/tasks/{task.pk}/" in content
