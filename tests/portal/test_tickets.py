"""Tickets from the portal: open with attachments (the service app's checks), reply, close, rate; each step on
the customer's timeline for staff."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kehu.interactions.models import Interaction
from kehu.service.models import SurveyResponse, Ticket, TicketAttachment, TicketStatus

pytestmark = pytest.mark.django_db


def test_open_a_ticket_with_an_attachment(world, portal_client):
    client = portal_client(world.a.portal)
    photo = SimpleUploadedFile("机器.jpg", b"\xff\xd8\xff\xe0 fake jpeg", content_type="image/jpeg")
    response = client.post(
        reverse("portal:ticket_new"),
        {
            "subject": "压缩机漏油 Oil leak",
            "message": "Oil under the unit",
            "installed_product": world.a.unit.pk,
            "files": [photo],
        },
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get(subject="压缩机漏油 Oil leak")
    assert ticket.customer == world.a.account and ticket.channel == "portal"
    assert ticket.installed_product == world.a.unit and ticket.queue is not None  # routed
    attachment = TicketAttachment.objects.get(ticket=ticket)
    assert attachment.filename == "机器.jpg" and attachment.message.kind == "customer"
    assert attachment.message.author == world.a.portal.user
    # the customer downloads it back; staff see the ticket and the portal event on the timeline
    assert client.get(reverse("portal:attachment", args=[attachment.pk])).status_code == 200
    assert Interaction.objects.filter(customer=world.a.account, subject__contains=f"#{ticket.pk}").exists()


@pytest.mark.parametrize("name", ["setup.exe", "page.html", "noextension", "script.js"])
def test_hostile_files_are_refused_and_nothing_is_created(world, portal_client, name):
    client = portal_client(world.a.portal)
    count = Ticket.objects.count()
    response = client.post(
        reverse("portal:ticket_new"),
        {"subject": "bad", "message": "x", "files": [SimpleUploadedFile(name, b"MZ\x90\x00")]},
    )
    assert response.status_code == 400
    assert "not accepted" in response.content.decode()
    assert Ticket.objects.count() == count


def test_too_large_file_is_refused(world, portal_client, settings):
    settings.KEHU_ATTACHMENT_MAX_BYTES = 10
    client = portal_client(world.a.portal)
    response = client.post(
        reverse("portal:ticket_new"),
        {"subject": "big", "message": "x", "files": [SimpleUploadedFile("a.pdf", b"x" * 11)]},
    )
    assert response.status_code == 400 and not Ticket.objects.filter(subject="big").exists()


def test_reply_close_and_rate(world, portal_client):
    client = portal_client(world.a.portal)
    ticket = world.a.ticket
    assert client.post(reverse("portal:ticket", args=[ticket.pk]), {"body": "Still loud"}).status_code == 302
    assert ticket.messages.filter(kind="customer", body="Still loud").exists()
    # not rateable while open
    client.post(reverse("portal:ticket_rate", args=[ticket.pk]), {"score": 5})
    assert not SurveyResponse.objects.filter(ticket=ticket).exists()
    client.post(reverse("portal:ticket_close", args=[ticket.pk]))
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED
    client.post(reverse("portal:ticket_rate", args=[ticket.pk]), {"score": 9})
    assert not SurveyResponse.objects.filter(ticket=ticket).exists()  # out of range
    client.post(reverse("portal:ticket_rate", args=[ticket.pk]), {"score": 4, "comment": "快"})
    client.post(reverse("portal:ticket_rate", args=[ticket.pk]), {"score": 1})  # only once
    response = SurveyResponse.objects.get(ticket=ticket)
    assert response.score == 4 and response.customer == world.a.account
    summaries = list(
        Interaction.objects.filter(
            customer=world.a.account, related_model="portal.portalactivity"
        ).values_list("subject", flat=True)
    )
    assert any("closed ticket" in s for s in summaries) and any("rated ticket" in s for s in summaries)


def test_staff_see_the_portal_ticket_and_its_attachment(world, portal_client, client):
    c = portal_client(world.a.portal)
    c.post(
        reverse("portal:ticket_new"),
        {"subject": "From the portal", "message": "help", "files": [SimpleUploadedFile("log.txt", b"E42")]},
    )
    ticket = Ticket.objects.get(subject="From the portal")
    client.force_login(world.staff)
    page = client.get(ticket.get_absolute_url()).content.decode()
    assert "From the portal" in page and "log.txt" in page
