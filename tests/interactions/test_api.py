"""Interactions and tasks API: filters, cursor pages under equal timestamps, scope, constant query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kehu.customers import services as customer_services
from kehu.customers.models import Kind
from kehu.interactions import services

from .conftest import grant_interactions


@pytest.mark.django_db
def test_interaction_filters_and_cursor_pages_with_equal_timestamps(rep, account, api_for):
    contact = customer_services.customer_create(
        data={"name": "赵敏", "kind": Kind.PERSON, "account": account}, by=rep
    )
    same = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)
    for i in range(12):
        services.interaction_log(
            customer=contact if i % 2 else account,
            data={"channel": "email" if i % 3 else "call", "subject": f"s{i}", "occurred_at": same},
            by=rep,
        )
    api = api_for(rep)
    seen, url = [], f"/api/interactions/?page_size=5&account={account.pk}"
    while url:
        body = api.get(url).json()
        seen += [r["id"] for r in body["results"]]
        url = body["next"]
    assert len(seen) == 12 and len(set(seen)) == 12 and seen == sorted(seen, reverse=True)
    by_contact = api.get("/api/interactions/", {"customer": contact.pk}).json()["results"]
    assert len(by_contact) == 6 and {r["account"] for r in by_contact} == {account.pk}
    calls = api.get("/api/interactions/", {"channel": "call"}).json()["results"]
    assert {r["subject"] for r in calls} == {"s0", "s3", "s6", "s9"}
    again = api.post(
        "/api/interactions/",
        {"customer": account.pk, "channel": "call", "subject": "dup", "external_ref": "wx-1"},
        format="json",
    )
    dup = api.post(
        "/api/interactions/",
        {"customer": account.pk, "channel": "call", "subject": "dup", "external_ref": "wx-1"},
        format="json",
    )
    assert again.status_code == 201 and dup.status_code == 200 and dup.json()["id"] == again.json()["id"]


@pytest.mark.django_db
def test_task_filters_scope_and_complete(rep, account, api_for, make_user):
    now = timezone.now()
    soon = services.task_create(data={"title": "soon", "due_at": now + dt.timedelta(hours=2)}, by=rep)
    services.task_create(data={"title": "later", "due_at": now + dt.timedelta(days=9)}, by=rep)
    api = api_for(rep)
    window = {"due_after": now.isoformat(), "due_before": (now + dt.timedelta(days=1)).isoformat()}
    assert [t["title"] for t in api.get("/api/tasks/", window).json()["results"]] == ["soon"]
    mine = api.get("/api/tasks/", {"assigned_to": rep.pk, "status": "open"}).json()["results"]
    assert {t["title"] for t in mine} == {"soon", "later"}
    assert all(t["is_overdue"] is False for t in mine)
    other = make_user("customers.customer")
    grant_interactions(other)
    stranger = api_for(other)
    assert stranger.get(f"/api/tasks/{soon.pk}/").status_code == 404
    assert stranger.post(f"/api/tasks/{soon.pk}/complete/").status_code == 404
    assert stranger.get("/api/tasks/").json()["results"] == []
    done = api.post(f"/api/tasks/{soon.pk}/complete/")
    assert done.status_code == 200 and done.json()["completed_at"]
    assert api.post(f"/api/tasks/{soon.pk}/complete/").json()["status"] == "done"  # idempotent


@pytest.mark.django_db
def test_api_lists_use_constant_queries(rep, account, api_for):
    api = api_for(rep)

    def count(url):
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(url).status_code == 200
        return len(ctx.captured_queries)

    services.interaction_log(customer=account, data={"channel": "call", "subject": "c"}, by=rep)
    services.task_create(data={"title": "t", "customer": account, "due_at": timezone.now()}, by=rep)
    few = count("/api/interactions/"), count("/api/tasks/")
    for i in range(15):
        other = customer_services.customer_create(data={"name": f"客户{i}"}, by=rep)
        services.interaction_log(customer=other, data={"channel": "call", "subject": f"c{i}"}, by=rep)
        services.task_create(data={"title": f"t{i}", "customer": other, "due_at": timezone.now()}, by=rep)
    assert (count("/api/interactions/"), count("/api/tasks/")) == few
