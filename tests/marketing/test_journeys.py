"""A journey: send → wait → branch on opened → a task for the owner rep (openers) → end."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kehu.interactions.models import Task
from kehu.marketing.models import EnrolmentStatus, Message
from kehu.marketing.services import campaigns as services
from kehu.marketing.services import sending

from .campaigning import campaign, customer, launch, static_segment, to_next_slot

pytestmark = pytest.mark.django_db

STEPS = [
    {"kind": "send", "subject": "新品", "body": "https://shop.example.com/"},
    {"kind": "wait", "wait_hours": 48},
    {"kind": "branch", "condition": "opened", "yes_step": 4, "no_step": 5},
    {"kind": "task", "task_title": "回访打开邮件的客户", "task_due_days": 2},
    {"kind": "end"},
]


def test_send_wait_branch_task_end(org, mail_sink, frozen_clock):
    to_next_slot(frozen_clock)
    opener, silent = customer("打开者", org.rep1), customer("沉默者", org.rep2)
    made = launch(
        campaign(org.marketer, static_segment(org.marketer, [opener, silent]), steps=STEPS),
        org.marketer,
        org.exec,
    )
    services.journeys_advance()
    assert sending.dispatch().sent == 2
    Message.objects.filter(customer=opener).update(opened_at=timezone.now())
    services.journeys_advance(now=timezone.now() + dt.timedelta(minutes=10))  # send done → wait starts
    assert set(made.enrolments.values_list("position", flat=True)) == {2}
    services.journeys_advance(now=timezone.now() + dt.timedelta(hours=47))  # still waiting
    assert not Task.objects.exists()
    services.journeys_advance(now=timezone.now() + dt.timedelta(hours=49))
    task = Task.objects.get()
    assert (task.customer, task.owner, task.title) == (opener, org.rep1, "回访打开邮件的客户")
    assert set(made.enrolments.values_list("status", flat=True)) == {EnrolmentStatus.DONE}
    made.refresh_from_db()
    assert made.status == "completed"
