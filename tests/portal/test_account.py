"""Own details (change request or direct edit), contact preferences (consent history), personal data ZIP."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.urls import reverse

from kehu.customers.models import ConsentEvent, Customer
from kehu.portal.models import ChangeRequest

pytestmark = pytest.mark.django_db

FORM = {
    "name": "李娜",
    "phone": "",
    "email": "li.na@hongda.example.cn",
    "job_title": "采购经理",
    "city": "",
    "preferred_language": "",
}


def test_change_request_then_staff_apply(world, portal_client, client):
    c = portal_client(world.a.portal)
    person = world.a.portal.contact
    response = c.post(reverse("portal:account"), {**FORM, "name": person.name, "notes": "HACK"})
    assert response.status_code == 302
    request = ChangeRequest.objects.get(customer=person)
    assert request.changes == {"job_title": "采购经理"}  # notes is not editable, unchanged fields left out
    from kehu.core.models import Notification

    assert Notification.objects.filter(user=world.a.account.owner, title__contains=person.name).exists()
    person.refresh_from_db()
    assert person.job_title == "" and "HACK" not in person.notes
    client.force_login(world.staff)
    page = client.get(reverse("customers:detail", args=[world.a.account.pk])).content.decode()
    assert 'data-testid="change-requests"' in page
    client.post(reverse("portal_staff:decide", args=[request.pk]), {"approve": "1"})
    person.refresh_from_db()
    assert person.job_title == "采购经理"
    assert ChangeRequest.objects.get(pk=request.pk).status == "approved"


def test_direct_edit_when_configured(world, portal_client, settings):
    settings.KEHU_PORTAL_PROFILE_EDIT = "direct"
    c = portal_client(world.a.portal)
    person = world.a.portal.contact
    c.post(reverse("portal:account"), {**FORM, "name": person.name, "city": "上海"})
    person.refresh_from_db()
    assert person.city == "上海" and not ChangeRequest.objects.exists()


def test_direct_edit_cannot_touch_other_fields(world):
    """The portal scope makes every field but the editable ones read-only in the record service."""
    from kehu.core.exceptions import FieldNotWritable
    from kehu.customers.services import customer_update

    with pytest.raises(FieldNotWritable):
        customer_update(
            customer=world.a.portal.contact,
            data={"notes": "x"},
            by=world.a.portal.user,
            expected_version=None,
        )
    from django.http import Http404

    with pytest.raises(Http404):
        customer_update(
            customer=world.b.account, data={"city": "x"}, by=world.a.portal.user, expected_version=None
        )


def test_preferences_are_recorded_in_the_consent_history(world, portal_client):
    c = portal_client(world.a.portal)
    c.post(reverse("portal:preferences"), {"email": "on"})
    person = Customer.objects.get(pk=world.a.portal.contact.pk)
    event = ConsentEvent.objects.get(customer=person)
    assert (event.channel, event.status, event.method) == ("email", "granted", "portal")
    assert person.consent["email"]["status"] == "granted"
    c.post(reverse("portal:preferences"), {})
    assert ConsentEvent.objects.filter(customer=person, channel="email", status="withdrawn").count() == 1
    c.post(reverse("portal:preferences"), {})  # nothing changed: nothing recorded
    assert ConsentEvent.objects.filter(customer=person).count() == 2
    page = c.get(reverse("portal:preferences")).content.decode()
    assert "Withdrawn" in page


def test_personal_data_download(world, portal_client):
    c = portal_client(world.a.portal)
    response = c.post(reverse("portal:privacy"))
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert {"personal_data.json", "orders.csv", "consent_history.csv", "tickets.csv"} <= set(
        archive.namelist()
    )
    data = json.loads(archive.read("personal_data.json"))
    numbers = [o["number"] for o in data["orders"]]
    assert numbers == [world.a.order.number]
    text = archive.read("personal_data.json").decode()
    assert "SECRET-NOTE" not in text and "SN-B-1" not in text and "INTERNAL-NOTE" not in text
    assert world.a.order.number in archive.read("orders.csv").decode("utf-8-sig")
