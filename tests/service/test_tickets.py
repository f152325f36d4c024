"""Ticket use cases: opening, taking (incl. two agents at once on PostgreSQL), assignment rights, the status
workflow with reopen on reply, merge and split, watchers, attachments, canned answers, the timeline, scope."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404

from kehu.core.access import Access
from kehu.core.exceptions import BusinessRuleError, FieldNotWritable, StaleRecordError
from kehu.core.models import AuditEntry, Notification, Scope
from kehu.core.selectors import scoped
from kehu.customers import services as customer_services
from kehu.interactions.models import Interaction
from kehu.service.models import (
    CannedResponse,
    MessageKind,
    Queue,
    Ticket,
    TicketAttachment,
    TicketMessage,
    TicketStatus,
)
from kehu.service.services import attachments as files
from kehu.service.services import conversation, tickets
from kehu.service.services.common import TicketTaken

from .conftest import make_agent


def open_ticket(by, customer, **data):
    return tickets.ticket_create(
        data={"subject": data.pop("subject", "空调不制冷"), "customer": customer, **data},
        by=by,
        message="设备不制冷了",
    )


@pytest.mark.django_db
def test_open_from_agent_entry_links_contact_unit_warranty_and_timeline(
    agent, customer, unit, policy, owner_rep
):
    contact = customer_services.customer_create(
        data={"name": "李工", "kind": "person", "account": customer, "email": "li@hongda.example.cn"},
        by=owner_rep,
    )
    ticket = tickets.ticket_create(
        data={"subject": "泵漏水", "customer": contact, "installed_product": unit, "priority": "urgent"},
        by=agent,
        message="现场漏水",
    )
    # a contact chosen as the customer: the account's ticket, raised by the contact, who gets the replies
    assert ticket.customer == customer and ticket.contact == contact
    assert ticket.requester_email == "li@hongda.example.cn"
    assert ticket.out_of_warranty  # the unit's warranty ended before today
    assert ticket.status == TicketStatus.NEW and ticket.owner is None and ticket.queue.is_default
    assert ticket.first_response_due == ticket.created_at + __import__("datetime").timedelta(minutes=15)
    first = TicketMessage.objects.get(ticket=ticket)
    assert first.kind == MessageKind.CUSTOMER and first.author == agent and ticket.message_count == 1
    subjects = list(Interaction.objects.filter(customer=customer).values_list("subject", flat=True))
    assert any(f"#{ticket.pk}" in s for s in subjects)
    assert AuditEntry.objects.filter(
        model="service.ticket", object_id=str(ticket.pk), action="create"
    ).exists()


@pytest.mark.django_db
def test_a_unit_of_another_customer_is_refused(agent, customer, unit, owner_rep):
    other = customer_services.customer_create(data={"name": "杭州另一家公司"}, by=owner_rep)
    with pytest.raises(ValidationError) as err:
        tickets.ticket_create(data={"subject": "x", "customer": other, "installed_product": unit}, by=agent)
    assert "installed_product" in err.value.message_dict


@pytest.mark.django_db
def test_customer_outside_the_scope_is_not_found(queue, customer, make_user):
    stranger = make_user("customers.customer", read=Scope.OWN, write=Scope.OWN)
    from tests.factories import grant

    grant(stranger.roles.get(), "service.ticket", ("view", "add"), Scope.OWN, Scope.OWN)
    with pytest.raises(Http404):
        tickets.ticket_create(data={"subject": "x", "customer": customer}, by=stranger)


@pytest.mark.django_db
def test_take_then_a_second_agent_is_told_who_took_it(agent, agent2, customer):
    ticket = open_ticket(agent, customer)
    tickets.ticket_take(ticket=ticket, by=agent)
    with pytest.raises(TicketTaken) as err:
        tickets.ticket_take(ticket=Ticket.objects.get(pk=ticket.pk), by=agent2)
    assert err.value.owner == agent and "赵敏" in str(err.value)
    ticket.refresh_from_db()
    assert ticket.owner == agent and ticket.status == TicketStatus.OPEN


@pytest.mark.django_db(transaction=True)
def test_two_agents_take_the_same_ticket_at_once_one_wins(queue, customer):
    if connection.vendor != "postgresql":
        pytest.skip("in-memory SQLite test databases are not shared between threads; runs on PostgreSQL")
    a = make_agent("race_a", queues=[queue], display_name="甲")
    b = make_agent("race_b", queues=[queue], display_name="乙")
    ticket = open_ticket(a, customer)
    barrier, outcomes = threading.Barrier(2), {}

    def take(user):
        from django.db import connections

        try:
            barrier.wait()
            tickets.ticket_take(ticket=Ticket.objects.get(pk=ticket.pk), by=user)
            outcomes[user.username] = "won"
        except TicketTaken as exc:
            outcomes[user.username] = ("lost", exc.owner.username)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=take, args=(u,)) for u in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winner = Ticket.objects.get(pk=ticket.pk).owner.username
    loser = ({"race_a", "race_b"} - {winner}).pop()
    assert outcomes == {winner: "won", loser: ("lost", winner)}
    assert (
        AuditEntry.objects.filter(model="service.ticket", object_id=str(ticket.pk), action="update").count()
        == 1
    )


@pytest.mark.django_db
def test_assigning_others_needs_the_transfer_right(queue, customer):
    lead = make_agent("lead", queues=[queue])
    plain = make_agent("plain", queues=[queue], transfer=False)
    ticket = open_ticket(lead, customer)
    with pytest.raises(FieldNotWritable):
        tickets.ticket_assign(ticket=ticket, to=lead, by=plain)
    tickets.ticket_assign(ticket=ticket, to=plain, by=lead)
    ticket.refresh_from_db()
    assert ticket.owner == plain and Notification.objects.filter(user=plain).exists() is False  # after commit
    tickets.ticket_assign(ticket=ticket, to=None, by=plain)  # releasing one's own ticket is allowed
    assert Ticket.objects.get(pk=ticket.pk).owner is None


@pytest.mark.django_db
def test_status_workflow_and_refusals(agent, customer, policy):
    ticket = open_ticket(agent, customer)
    with pytest.raises(BusinessRuleError):
        tickets.ticket_set_status(ticket=ticket, status=TicketStatus.CLOSED, by=agent)  # new → closed
    tickets.ticket_set_status(ticket=ticket, status=TicketStatus.PENDING, by=agent)
    ticket.refresh_from_db()
    assert ticket.sla_paused_at is not None and ticket.owner == agent  # working on it: the agent's now
    tickets.ticket_set_status(ticket=ticket, status=TicketStatus.RESOLVED, by=agent)
    tickets.ticket_set_status(ticket=ticket, status=TicketStatus.CLOSED, by=agent)
    ticket.refresh_from_db()
    assert ticket.closed_at and ticket.resolved_at
    with pytest.raises(BusinessRuleError):
        tickets.ticket_set_status(ticket=ticket, status=TicketStatus.OPEN, by=agent)
    with pytest.raises(StaleRecordError):
        tickets.ticket_set_status(ticket=ticket, status="open", by=agent, expected_version=1)


@pytest.mark.django_db
def test_a_customer_reply_reopens_a_resolved_ticket_and_a_closed_one_gets_a_follow_up(
    agent, customer, policy
):
    ticket = open_ticket(agent, customer)
    conversation.ticket_reply(ticket=ticket, body="已修好", by=agent, then_status="resolved")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED and ticket.sla_paused_at is not None
    conversation.customer_message_receive(ticket=ticket, body="又坏了", from_email=customer.email)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN and ticket.reopened_count == 1 and ticket.resolved_at is None
    tickets.ticket_set_status(ticket=ticket, status="resolved", by=agent)
    tickets.ticket_set_status(ticket=ticket, status="closed", by=agent)
    message = conversation.customer_message_receive(ticket=ticket, body="还有问题", from_email=customer.email)
    follow_up = message.ticket
    assert follow_up.pk != ticket.pk and follow_up.split_from_id == ticket.pk
    assert follow_up.customer == customer and Ticket.objects.get(pk=ticket.pk).status == TicketStatus.CLOSED


@pytest.mark.django_db
def test_reply_needs_an_address_and_write_access(agent, customer, queue, make_user):
    ticket = tickets.ticket_create(data={"subject": "电话报修", "customer": customer}, by=agent)
    Ticket.objects.filter(pk=ticket.pk).update(requester_email="")
    with pytest.raises(BusinessRuleError):
        conversation.ticket_reply(ticket=Ticket.objects.get(pk=ticket.pk), body="hi", by=agent)
    reader = make_agent("reader", queues=[], scope=Scope.OWN)
    with pytest.raises(PermissionDenied):  # sees the customer's ticket, not in reader's queues: read-only
        conversation.ticket_note(ticket=ticket, body="x", by=reader)
    stranger = make_user("customers.customer", read=Scope.OWN, write=Scope.OWN)
    from tests.factories import grant

    grant(stranger.roles.get(), "service.ticket", ("view", "change"), Scope.OWN, Scope.OWN)
    with pytest.raises(Http404):  # neither assigned, queued for, nor a customer of theirs: not found
        conversation.ticket_note(ticket=ticket, body="x", by=stranger)


@pytest.mark.django_db
def test_merge_moves_the_conversation_and_split_moves_it_back(agent, customer, policy):
    a = open_ticket(agent, customer, subject="打印机卡纸")
    b = open_ticket(agent, customer, subject="打印机卡纸（重复）")
    b_message = TicketMessage.objects.get(ticket=b)
    merged = tickets.ticket_merge(source=b, target=a, by=agent)
    b.refresh_from_db()
    assert merged.pk == a.pk and b.merged_into_id == a.pk and b.status == TicketStatus.CLOSED
    assert TicketMessage.objects.filter(ticket=a, kind=MessageKind.CUSTOMER).count() == 2
    with pytest.raises(BusinessRuleError):
        tickets.ticket_merge(source=b, target=a, by=agent)
    # a reply to the merged ticket's thread lands on the target
    reply = conversation.customer_message_receive(ticket=b, body="补充信息", from_email=customer.email)
    assert reply.ticket_id == a.pk
    new = tickets.ticket_split(ticket=a, message_ids=[b_message.pk], subject="另一个问题", by=agent)
    assert TicketMessage.objects.get(pk=b_message.pk).ticket_id == new.pk and new.split_from_id == a.pk
    with pytest.raises(BusinessRuleError):
        tickets.ticket_split(
            ticket=new, message_ids=[b_message.pk], subject="", by=agent
        )  # nothing would stay


@pytest.mark.django_db
def test_merge_refuses_tickets_of_different_customers(agent, customer, owner_rep):
    other = customer_services.customer_create(data={"name": "深圳远方电子"}, by=owner_rep)
    with pytest.raises(BusinessRuleError):
        tickets.ticket_merge(source=open_ticket(agent, customer), target=open_ticket(agent, other), by=agent)


@pytest.mark.django_db
def test_watchers_are_told_of_notes(agent, agent2, customer, django_capture_on_commit_callbacks):
    ticket = open_ticket(agent, customer)
    tickets.ticket_watch(ticket=ticket, user=agent2, by=agent2)
    conversation.ticket_note(ticket=ticket, body="客户是VIP，优先处理", by=agent)
    assert Notification.objects.filter(user=agent2, url=ticket.get_absolute_url()).exists()
    assert not Notification.objects.filter(user=agent, title__contains="note").exists()


@pytest.mark.django_db
def test_attachment_limits(agent, customer, settings):
    settings.KEHU_ATTACHMENT_MAX_BYTES = 1024
    ticket = open_ticket(agent, customer)
    with pytest.raises(ValidationError, match=r"\.exe"):
        conversation.ticket_note(
            ticket=ticket, body="x", by=agent, attachments=[files.IncomingFile("tool.exe", b"MZ")]
        )
    with pytest.raises(ValidationError, match="limit"):
        conversation.ticket_note(
            ticket=ticket, body="x", by=agent, attachments=[files.IncomingFile("big.pdf", b"0" * 2048)]
        )
    assert not TicketAttachment.objects.exists() and TicketMessage.objects.filter(kind="note").count() == 0
    note = conversation.ticket_note(
        ticket=ticket,
        body="照片",
        by=agent,
        attachments=[files.IncomingFile("../../etc/现场.JPG", b"\xff\xd8")],
    )
    kept = note.attachments.get()
    assert kept.filename == "现场.JPG" and kept.content_type == "image/jpeg" and kept.uploaded_by == agent


@pytest.mark.django_db
def test_canned_answer_fills_placeholders(agent, customer):
    ticket = open_ticket(agent, customer)
    canned = CannedResponse.objects.create(title="致谢", body="{requester}您好，{ticket} 已收到。{agent}")
    text = conversation.canned_render(canned=canned, ticket=ticket, by=agent)
    assert text == f"上海宏达机械有限公司您好，[#KH-{ticket.pk}] 已收到。赵敏"
    bad = CannedResponse(title="坏", body="{unknown}")
    with pytest.raises(ValidationError):
        bad.full_clean()


@pytest.mark.django_db
def test_scope_queue_members_see_unassigned_reps_see_their_customers(queue, customer, owner_rep, make_user):
    from tests.factories import grant

    own_agent = make_agent("own_scope", queues=[queue], scope=Scope.OWN)
    outsider = make_agent("outsider", queues=[], scope=Scope.OWN)
    grant(owner_rep.roles.get(), "service.ticket", ("view",), Scope.OWN, Scope.NONE)
    Access.forget(owner_rep)  # the rep's rights were read (and cached) when they created the customer
    lead = make_agent("lead2", queues=[queue])
    ticket = open_ticket(lead, customer)
    assert scoped(Ticket, user=own_agent).filter(pk=ticket.pk).exists()  # waiting in my queue
    assert scoped(Ticket, user=own_agent, mode="write").filter(pk=ticket.pk).exists()  # so I may take it
    assert scoped(Ticket, user=owner_rep).filter(pk=ticket.pk).exists()  # my customer's ticket
    assert not scoped(Ticket, user=owner_rep, mode="write").filter(pk=ticket.pk).exists()
    tickets.ticket_assign(ticket=ticket, to=lead, by=lead)
    # outsider: agents see every customer, so they read the customer's tickets but may not change them
    assert scoped(Ticket, user=outsider).filter(pk=ticket.pk).exists()
    assert not scoped(Ticket, user=outsider, mode="write").filter(pk=ticket.pk).exists()
    assert not scoped(Ticket, user=own_agent, mode="write").filter(pk=ticket.pk).exists()  # taken by lead
    assert scoped(TicketMessage, user=owner_rep).filter(ticket=ticket).exists()  # the conversation too
    with pytest.raises(PermissionDenied):
        conversation.ticket_note(ticket=ticket, body="x", by=own_agent)


@pytest.mark.django_db
def test_transfer_moves_active_tickets_only(agent, agent2, customer, admin_user):
    from kehu.core.services import ownership_transfer

    active = open_ticket(agent, customer)
    done = open_ticket(agent, customer)
    tickets.ticket_take(ticket=active, by=agent)
    tickets.ticket_take(ticket=done, by=agent)
    tickets.ticket_set_status(ticket=done, status="resolved", by=agent)
    ownership_transfer(from_user=agent, to_user=agent2, by=admin_user)
    assert Ticket.objects.get(pk=active.pk).owner == agent2
    assert Ticket.objects.get(pk=done.pk).owner == agent


@pytest.mark.django_db
def test_queue_invariants(queue):
    second = Queue(name="VIP", code="vip", is_default=True)
    with pytest.raises(ValidationError):
        second.full_clean()
