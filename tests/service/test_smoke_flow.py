import pytest

from kehu.service.models import Ticket, TicketStatus
from kehu.service.services import conversation, tickets


@pytest.mark.django_db
def test_flow(agent, customer, unit, policy, django_capture_on_commit_callbacks, mailoutbox):
    t = tickets.ticket_create(
        data={"subject": "泵漏水", "customer": customer, "installed_product": unit},
        by=agent,
        message="漏水严重",
    )
    assert t.out_of_warranty and t.sla_policy == policy and t.queue is not None
    tickets.ticket_take(ticket=t, by=agent)
    with django_capture_on_commit_callbacks(execute=True):
        conversation.ticket_reply(ticket=t, body="我们马上处理", by=agent, then_status="pending")
    t.refresh_from_db()
    assert t.status == TicketStatus.PENDING and t.first_responded_at
    assert len(mailoutbox) == 1 and t.reference in mailoutbox[0].subject
    tickets.ticket_set_status(ticket=t, status="resolved", by=agent)
    assert Ticket.objects.get().status == "resolved"
