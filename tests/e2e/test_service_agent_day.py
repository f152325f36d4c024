"""An agent's day in a real browser: the queue → take a ticket → reply to the customer → resolve; and opening
a ticket from the customer's 360° page in two clicks."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kehu.customers.models import Customer
from kehu.service.models import AgentProfile, Availability, Queue, Ticket, TicketMessage
from kehu.service.services import tickets

pytestmark = pytest.mark.e2e


@pytest.fixture
def desk(seeded):
    queue = Queue.objects.create(name="一线客服 Service desk", code="desk", is_default=True, method="manual")
    for username in ("agent", "agent2"):
        profile = AgentProfile.objects.create(user=seeded.users[username], availability=Availability.ONLINE)
        profile.queues.add(queue)
    return queue


def test_queue_take_reply_resolve(seeded, desk, context_factory, login, live_server, mailoutbox):
    agent = seeded.users["agent"]
    customer = Customer.objects.exclude(email="").filter(kind="organization").first()
    ticket = tickets.ticket_create(
        data={"subject": "空压机异响 Compressor noise", "customer": customer, "channel": "email"},
        by=seeded.users["agent2"],
        message="从昨天开始有异响。",
    )
    page = context_factory().new_page()
    login(page, "agent")
    page.goto(f"{live_server.url}/service/")
    row = page.locator("[data-testid=queue-row]", has_text="空压机异响")
    row.locator("[data-testid=take]").click()  # htmx: the row's button turns into a link, no reload
    page.wait_for_selector("[data-testid=taken]")
    assert Ticket.objects.get(pk=ticket.pk).owner == agent
    page.click("[data-testid=taken]")
    page.wait_for_selector("[data-testid=reply-form]")
    page.fill("[data-testid=reply-body]", "您好，工程师明天上午上门检查。")
    page.select_option("select[name=then_status]", "pending")
    page.click("[data-testid=send]")
    page.wait_for_selector("[data-testid=message][data-kind=reply]")
    assert page.inner_text("[data-testid=ticket-status]").strip() in ("Pending customer", "待客户回复")
    reply = TicketMessage.objects.get(ticket=ticket, kind="reply")
    assert reply.author == agent and reply.body.startswith("您好")
    page.click("[data-testid=status-resolved]")
    expect(page.locator("[data-testid=ticket-status]")).to_contain_text("Resolved")  # no eval under the CSP
    done = Ticket.objects.get(pk=ticket.pk)
    assert done.status == "resolved" and done.first_responded_at is not None


def test_ticket_from_the_360_page_in_two_clicks(seeded, desk, context_factory, login, live_server):
    customer = Customer.objects.filter(kind="organization").first()
    page = context_factory().new_page()
    login(page, "agent")
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    page.click("[data-testid=new-ticket]")  # click 1: the quick form opens with the subject focused
    expect(page.locator("[name=subject]:focus")).to_have_count(
        1
    )  # no wait_for_function: the CSP forbids eval
    page.keyboard.type("电话报修：打印机卡纸")
    page.click("[data-testid=ticket-open]")  # click 2
    page.wait_for_selector("[data-testid=ticket-subject]")
    ticket = Ticket.objects.get(subject="电话报修：打印机卡纸")
    assert ticket.customer == customer and page.url.endswith(f"/service/tickets/{ticket.pk}/")
