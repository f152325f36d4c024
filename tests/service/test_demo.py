"""The service demo data: a calendar with the 2026 and 2027 Chinese holidays, policies, queues, and tickets
across states and channels over the last year, consistent with the SLA rules."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import timezone

from kehu.interactions.models import Interaction
from kehu.service.models import CalendarDay, Queue, SlaPolicy, Ticket, TicketMessage


@pytest.mark.django_db
def test_demo_tickets_cover_states_channels_and_a_year():
    from kehu.core.demo import seed_org
    from kehu.customers.demo import seed_customers
    from kehu.products import demo as products_demo
    from kehu.service import demo

    org = seed_org()
    rng = random.Random(5)
    ids = seed_customers(count=400, owners=org.owners, rng=rng)
    ctx = {"rng": rng, "org": org, "customer_ids": ids}
    products_demo.seed(ctx)
    summary = demo.seed(ctx)
    assert "tickets" in summary
    days = CalendarDay.objects.all()
    assert {d.date.year for d in days} == {2026, 2027}
    assert days.filter(
        date=dt.date(2026, 2, 14), kind="workday"
    ).exists()  # 调休 Saturday before Spring Festival
    assert days.filter(date=dt.date(2026, 10, 1), kind="holiday").exists()
    assert SlaPolicy.objects.count() == 2 and Queue.objects.filter(fast_lane=True).exists()
    tickets = Ticket.objects.all()
    assert tickets.count() > 50
    assert set(tickets.values_list("status", flat=True)) == {"new", "open", "pending", "resolved", "closed"}
    assert {"email", "phone", "web_form", "wechat", "agent"} <= set(tickets.values_list("channel", flat=True))
    oldest = tickets.order_by("created_at").first().created_at
    assert timezone.now() - oldest > dt.timedelta(days=180)
    assert TicketMessage.objects.filter(kind="reply").exists()
    for t in tickets.filter(status__in=["new", "open"])[:20]:
        assert t.first_response_due is not None and t.messages.exists()
    assert not tickets.filter(status="new", owner__isnull=False).exists()
    assert Interaction.objects.filter(related_model="service.ticket").count() == tickets.count()
