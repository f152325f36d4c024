"""Service pages and API: the agent's queue (query count independent of the queue's length), the ticket page
(independent of the conversation's length), entry from the 360° page, replies with attachments, take with
409, the API with scope, ETag and If-Match."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.core.models import Scope
from kehu.service.models import MessageKind, Ticket, TicketAttachment, TicketMessage
from kehu.service.services import conversation, tickets

from .conftest import make_agent


def many(agent, customer, n, **data):
    return [
        tickets.ticket_create(
            data={"subject": f"问题 {i}", "customer": customer, **data}, by=agent, message="描述"
        )
        for i in range(n)
    ]


def count_queries(client, url) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return len(ctx.captured_queries), response


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.django_db
def test_queue_page_lists_unassigned_with_take_and_a_constant_query_count(
    client_for, agent, customer, policy
):
    many(agent, customer, 3)
    client = client_for(agent)
    few, response = count_queries(client, "/service/")
    assert response.content.decode().count('data-testid="take"') == 3
    many(agent, customer, 20)
    more, response = count_queries(client, "/service/")
    assert response.content.decode().count('data-testid="queue-row"') == 23
    assert more == few, (few, more)
    mine, response = count_queries(client, "/service/?view=mine")
    assert "Nothing waiting here" in response.content.decode()


@pytest.mark.django_db
def test_ticket_page_query_count_does_not_grow_with_the_conversation(client_for, agent, customer, policy):
    ticket = many(agent, customer, 1)[0]
    client = client_for(agent)
    for i in range(4):
        conversation.ticket_note(ticket=ticket, body=f"备注 {i}", by=agent)
    few, response = count_queries(client, ticket.get_absolute_url())
    assert response.content.decode().count('data-testid="message"') == 5
    for i in range(10):
        conversation.ticket_note(ticket=ticket, body=f"更多 {i}", by=agent)
    more, _ = count_queries(client, ticket.get_absolute_url())
    assert more == few, (few, more)


@pytest.mark.django_db
def test_two_clicks_from_the_360_page(client_for, agent, customer, unit):
    client = client_for(agent)
    page = client.get(customer.get_absolute_url()).content.decode()
    assert 'data-testid="tickets-panel"' in page and 'data-testid="new-ticket"' in page
    assert "SN-0001" in page and "out of warranty" in page  # the unit to pick, flagged
    response = client.post(
        f"/service/customer/{customer.pk}/ticket/",
        {
            "subject": "电话报修：泵不转",
            "kind": "repair",
            "priority": "high",
            "channel": "phone",
            "installed_product": unit.pk,
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == ticket.get_absolute_url()
    assert ticket.customer == customer and ticket.installed_product == unit and ticket.out_of_warranty
    detail = client.get(ticket.get_absolute_url()).content.decode()
    assert 'data-testid="warranty"' in detail and "out of warranty" in detail
    bad = client.post(f"/service/customer/{customer.pk}/ticket/", {"subject": ""})
    assert bad.status_code == 302 and Ticket.objects.count() == 1


@pytest.mark.django_db
def test_reply_with_attachment_and_download_rights(client_for, agent, customer, make_user, mailoutbox):
    ticket = many(agent, customer, 1)[0]
    client = client_for(agent)
    upload = SimpleUploadedFile("报价.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    response = client.post(
        f"/service/tickets/{ticket.pk}/message/",
        {
            "kind": "reply",
            "body": "报价见附件",
            "then_status": "pending",
            "files": [upload],
            "version": ticket.version,
        },
    )
    assert response.status_code == 302
    reply = TicketMessage.objects.get(kind=MessageKind.REPLY)
    attachment = reply.attachments.get()
    assert Ticket.objects.get(pk=ticket.pk).status == "pending"
    download = client.get(attachment.get_absolute_url())
    assert download.status_code == 200 and download["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in download["Content-Disposition"] and b"".join(
        download.streaming_content
    ).startswith(b"%PDF")
    stranger = make_user("customers.customer", read=Scope.OWN, write=Scope.OWN)
    from tests.factories import grant

    grant(stranger.roles.get(), "service.ticket", ("view",), Scope.OWN, Scope.OWN)
    assert client_for(stranger).get(attachment.get_absolute_url()).status_code == 404
    # a refused file loses nothing: the page answers 400 and shows the typed text
    exe = SimpleUploadedFile("tool.exe", b"MZ")
    refused = client_for(agent).post(
        f"/service/tickets/{ticket.pk}/message/", {"kind": "note", "body": "我写了很多字", "files": [exe]}
    )
    assert refused.status_code == 400 and "我写了很多字" in refused.content.decode()
    assert TicketAttachment.objects.count() == 1


@pytest.mark.django_db
def test_take_from_the_queue_page_answers_409_naming_the_winner(client_for, agent, agent2, customer):
    ticket = many(agent, customer, 1)[0]
    assert (
        client_for(agent).post(f"/service/tickets/{ticket.pk}/take/", HTTP_HX_REQUEST="true").status_code
        == 200
    )
    from django.test import Client

    other = Client()
    other.force_login(agent2)
    late = other.post(f"/service/tickets/{ticket.pk}/take/", HTTP_HX_REQUEST="true")
    assert late.status_code == 409 and "赵敏" in late.content.decode()


@pytest.mark.django_db
def test_ticket_form_create_and_stale_edit(client_for, agent, customer):
    client = client_for(agent)
    assert client.get(f"/service/tickets/new/?customer={customer.pk}").status_code == 200
    created = client.post(
        "/service/tickets/new/",
        {
            "subject": "表单新建",
            "kind": "inquiry",
            "priority": "normal",
            "channel": "agent",
            "customer": customer.pk,
        },
    )
    ticket = Ticket.objects.get(subject="表单新建")
    assert created.status_code == 302
    tickets.ticket_update(ticket=ticket, data={"priority": "high"}, by=agent, expected_version=ticket.version)
    stale = client.post(
        f"/service/tickets/{ticket.pk}/edit/",
        {
            "subject": "改标题",
            "kind": "inquiry",
            "priority": "low",
            "channel": "agent",
            "customer": customer.pk,
            "version": 1,
        },
    )
    assert stale.status_code == 400 and "changed while you were editing" in stale.content.decode()
    assert client.get("/service/tickets/?q=%23" + str(ticket.pk)).status_code == 200


@pytest.mark.django_db
def test_api_tickets_etag_if_match_take_reply_and_messages(api_for, agent, agent2, customer, policy):
    api = api_for(agent)
    created = api.post(
        "/api/tickets/",
        {"subject": "API 报修", "customer": customer.pk, "message": "通过接口提交"},
        format="json",
    )
    assert created.status_code == 201, created.content
    pk, etag = created.json()["id"], created["ETag"]
    assert created.json()["first_response_due"] and created.json()["reference"] == f"[#KH-{pk}]"
    assert api.patch(f"/api/tickets/{pk}/", {"priority": "high"}, format="json").status_code == 428
    ok = api.patch(f"/api/tickets/{pk}/", {"priority": "high"}, format="json", HTTP_IF_MATCH=etag)
    assert ok.status_code == 200 and ok.json()["priority"] == "high"
    assert (
        api.patch(f"/api/tickets/{pk}/", {"priority": "low"}, format="json", HTTP_IF_MATCH=etag).status_code
        == 409
    )
    moved = api.patch(f"/api/tickets/{pk}/", {"owner": agent2.pk}, format="json", HTTP_IF_MATCH=ok["ETag"])
    assert moved.status_code == 400 and "owner" in moved.json()  # not silently ignored
    assert api.post(f"/api/tickets/{pk}/take/").status_code == 200
    late = api_for(agent2).post(f"/api/tickets/{pk}/take/")
    assert late.status_code == 409 and late.json()["taken_by"] == agent.pk
    bad = api.post(f"/api/tickets/{pk}/status/", {"status": "closed"}, format="json")
    assert bad.status_code == 400 and "status" in bad.json()
    reply = api.post(f"/api/tickets/{pk}/reply/", {"body": "已安排", "then_status": "pending"}, format="json")
    assert reply.status_code == 201 and reply.json()["kind"] == "reply"
    listed = api.get("/api/ticket-messages/", {"ticket": pk}).json()["results"]
    assert [m["kind"] for m in listed] == ["customer", "reply"]
    assert api.get(f"/api/tickets/{pk}/").json()["status"] == "pending"
    # out of scope: a rep without this customer sees neither the ticket nor its messages
    rep = make_agent("api_rep", queues=[], scope=Scope.OWN)
    from kehu.core.models import ModelGrant

    ModelGrant.objects.filter(role__users=rep, model="customers.customer").update(read_scope=Scope.OWN)
    assert api_for(rep).get(f"/api/tickets/{pk}/").status_code == 404
    assert api_for(rep).get("/api/ticket-messages/", {"ticket": pk}).json()["results"] == []


@pytest.mark.django_db
def test_api_list_query_count(api_for, agent, customer):
    many(agent, customer, 3)
    api = api_for(agent)
    with CaptureQueriesContext(connection) as few:
        assert api.get("/api/tickets/").status_code == 200
    many(agent, customer, 10)
    with CaptureQueriesContext(connection) as more:
        assert len(api.get("/api/tickets/").json()["results"]) == 13
    assert len(more.captured_queries) == len(few.captured_queries)


@pytest.mark.django_db
def test_holidays_are_configured_per_year_over_the_api(
    api_for, admin_user, agent, customer, policy, calendar
):
    api = api_for(admin_user)
    for day, kind in (("2027-02-08", "holiday"), ("2027-02-20", "workday"), ("2026-10-01", "holiday")):
        created = api.post(
            "/api/service/calendar-days/",
            {"calendar": calendar.pk, "date": day, "kind": kind, "name": "春节"},
            format="json",
        )
        assert created.status_code == 201, created.content
    listed = api.get("/api/service/calendar-days/", {"calendar": calendar.pk, "year": 2027}).json()["results"]
    assert sorted(d["date"] for d in listed) == ["2027-02-08", "2027-02-20"]
    bad = api.post(
        "/api/service/calendar-days/",
        {"calendar": calendar.pk, "date": "2027-02-21", "kind": "workday", "hours_like": 6},
        format="json",
    )
    assert bad.status_code == 400 and "hours_like" in bad.json()  # Sunday has no hours to copy
    assert api_for(agent).post("/api/service/calendar-days/", {}, format="json").status_code == 403


@pytest.mark.django_db
def test_hidden_fields_stay_hidden_on_the_ticket_page_and_api(client_for, api_for, agent, customer):
    from kehu.core.access import Access
    from kehu.core.models import FieldGrant

    ticket = many(agent, customer, 1)[0]
    FieldGrant.objects.create(
        role=agent.roles.get(), model="service.ticket", field="requester_email", access="hidden"
    )
    Access.forget(agent)  # the agent's rights were read (and cached on the object) when the ticket was opened
    page = client_for(agent).get(ticket.get_absolute_url()).content.decode()
    assert customer.email not in page
    data = api_for(agent).get(f"/api/tickets/{ticket.pk}/").json()
    assert "requester_email" not in data
