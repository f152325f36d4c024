"""Isolation: a portal user reaches their own account's records only, never another account's (404 by URL),
never a staff page or the staff API (403), never an internal note, internal article or staff-only field."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.core.access import Access
from kehu.customers.models import Customer
from kehu.sales.models import Order
from kehu.service.models import Ticket, TicketAttachment, TicketMessage
from kehu.service.services.attachments import IncomingFile, attachment_store

pytestmark = pytest.mark.django_db

OWN_PAGES = [
    "portal:home",
    "portal:account",
    "portal:orders",
    "portal:units",
    "portal:billing",
    "portal:tickets",
    "portal:ticket_new",
    "portal:kb",
    "portal:preferences",
    "portal:privacy",
    "portal:security",
]


def _record_urls(w):
    return {
        "order": reverse("portal:order", args=[w.order.pk]),
        "unit": reverse("portal:unit", args=[w.unit.pk]),
        "ticket": reverse("portal:ticket", args=[w.ticket.pk]),
    }


def test_every_portal_page_answers_its_own_user(world, portal_client):
    client = portal_client(world.a.portal)
    for name in OWN_PAGES:
        assert client.get(reverse(name)).status_code == 200, name
    for url in _record_urls(world.a).values():
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("portal:article", args=[world.public_article.pk])).status_code == 200


@pytest.mark.parametrize("who", ["a", "partner"])
def test_another_accounts_records_are_404_by_url(world, portal_client, who):
    profile = world.a.portal if who == "a" else world.partner
    client = portal_client(profile)
    for name, url in _record_urls(world.b if who == "a" else world.a).items():
        if who == "partner" and name == "order" and url.endswith(f"/{world.b.order.pk}/"):
            continue
        assert client.get(url).status_code == 404, url
    # posting to another account's ticket changes nothing
    other = world.b.ticket
    before = TicketMessage.objects.filter(ticket=other).count()
    assert client.post(reverse("portal:ticket", args=[other.pk]), {"body": "hi"}).status_code == 404
    assert client.post(reverse("portal:ticket_close", args=[other.pk])).status_code == 404
    assert client.post(reverse("portal:ticket_rate", args=[other.pk]), {"score": 1}).status_code == 404
    assert TicketMessage.objects.filter(ticket=other).count() == before
    assert Ticket.objects.get(pk=other.pk).status == other.status


def test_attachment_of_another_account_and_of_an_internal_note_are_404(world, portal_client):
    note = TicketMessage.objects.get(ticket=world.a.ticket, kind="note")
    hidden = attachment_store(
        ticket=world.a.ticket, message=note, incoming=IncomingFile("secret.pdf", b"%PDF-1"), by=None
    )
    customer_msg = TicketMessage.objects.filter(ticket=world.b.ticket, kind="customer").first()
    other = attachment_store(
        ticket=world.b.ticket, message=customer_msg, incoming=IncomingFile("b.pdf", b"%PDF-1"), by=None
    )
    client = portal_client(world.a.portal)
    assert client.get(reverse("portal:attachment", args=[hidden.pk])).status_code == 404
    assert client.get(reverse("portal:attachment", args=[other.pk])).status_code == 404
    assert TicketAttachment.objects.count() == 2


def test_internal_notes_fields_and_articles_are_never_shown(world, portal_client):
    client = portal_client(world.a.portal)
    page = client.get(reverse("portal:ticket", args=[world.a.ticket.pk])).content.decode()
    assert "PUBLIC-REPLY-SN-A-1" in page
    assert "SECRET-NOTE-SN-A-1" not in page
    for name in OWN_PAGES:
        body = client.get(reverse(name)).content.decode()
        assert "INTERNAL-NOTE-SN-A-1" not in body, name  # the customer's staff notes
        assert "SN-B-1" not in body and "华信" not in body, name
    kb = client.get(reverse("portal:kb")).content.decode()
    assert "PUBLIC-ARTICLE" in kb and "INTERNAL-ARTICLE" not in kb
    assert client.get(reverse("portal:article", args=[world.internal_article.pk])).status_code == 404


@pytest.mark.parametrize(
    "url", ["/", "/customers/", "/service/", "/sales/orders/", "/settings/", "/interactions/", "/marketing/"]
)
def test_staff_pages_are_out_of_reach(world, portal_client, url):
    client = portal_client(world.a.portal)
    response = client.get(url)
    if url == "/":
        assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("url", ["/api/customers/", "/api/orders/", "/api/tickets/", "/api/schema/"])
def test_staff_api_is_out_of_reach(world, portal_client, url):
    client = portal_client(world.partner)
    response = client.get(url)
    assert response.status_code == 403
    assert "上海宏达" not in response.content.decode()


def test_portal_admin_pages_refuse_portal_users(world, portal_client):
    client = portal_client(world.a.portal)
    response = client.post(
        reverse("portal_staff:invite", args=[world.a.account.pk]), {"email": "x@example.com"}
    )
    assert response.status_code == 403


def test_staff_user_is_not_a_portal_user(world, client):
    client.force_login(world.staff)
    assert client.get(reverse("portal:home")).status_code == 403


def test_the_scope_is_in_the_access_engine(world):
    """Every scoped read of the platform sees only the portal user's account (and contacts)."""
    access = Access.of(world.a.portal.user)
    customers = set(access.filter(Customer.objects.all()).values_list("pk", flat=True))
    assert world.a.account.pk in customers and world.b.account.pk not in customers
    assert set(access.filter(Order.objects.all()).values_list("pk", flat=True)) == {world.a.order.pk}
    assert set(access.filter(TicketMessage.objects.all()).values_list("kind", flat=True)) <= {
        "customer",
        "reply",
    }
    assert not access.can("delete", Ticket)
    assert not access.can("view", "sales.lead")  # a customer user is not a partner
    assert access.filter(Customer.objects.all(), mode="write").filter(pk=world.b.account.pk).count() == 0
    # staff keep their own rights
    assert Access.of(world.staff).external is None


def test_partner_reads_its_customers_orders_only(world, portal_client):
    access = Access.of(world.partner.user)
    assert set(access.filter(Order.objects.all()).values_list("pk", flat=True)) == {world.b.order.pk}
    assert not access.filter(Ticket.objects.all()).exists()  # not the customer's tickets
    client = portal_client(world.partner)
    assert client.get(reverse("portal:order", args=[world.b.order.pk])).status_code == 200
    assert client.get(reverse("portal:order", args=[world.a.order.pk])).status_code == 404
    assert client.get(reverse("portal:ticket", args=[world.b.ticket.pk])).status_code == 404
    assert access.filter(Order.objects.all(), mode="write").count() == 0


def test_a_portal_users_api_token_opens_no_staff_api(world):
    """Even with a token (which no portal page hands out), the staff API refuses a portal user."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    token = Token.objects.create(user=world.a.portal.user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    for url in ("/api/orders/", f"/api/orders/{world.a.order.pk}/", "/api/tickets/", "/api/customers/"):
        assert api.get(url).status_code == 403, url
    assert api.post("/api/tickets/", {"subject": "x"}, format="json").status_code == 403


# every portal route with an id, and the model of that id: a new route must be added here (and so be tested)
ID_ROUTES = {
    "order": "order",
    "unit": "unit",
    "ticket": "ticket",
    "ticket_close": "ticket",
    "ticket_rate": "ticket",
    "attachment": "attachment",
    "article": "article",
}


def _id_routes():
    from django.urls import get_resolver

    resolver = get_resolver()
    portal = next(p for p in resolver.url_patterns if getattr(p, "namespace", None) == "portal")
    return {p.name for p in portal.url_patterns if "<int:" in str(p.pattern)}


def test_every_portal_route_with_an_id_is_walked():
    assert _id_routes() == set(ID_ROUTES)


@pytest.mark.parametrize("who", ["a", "b", "partner"])
def test_walk_every_portal_id_route_with_the_others_ids(world, portal_client, who):
    """Each of two customers and a partner walks every portal URL that takes an id, GET and POST, with the ids
    of records that are not theirs: always 404."""
    from kehu.service.services.attachments import IncomingFile, attachment_store

    attachments = {}
    for key in ("a", "b"):
        acct = getattr(world, key)
        msg = TicketMessage.objects.filter(ticket=acct.ticket, kind="customer").first()
        attachments[key] = attachment_store(
            ticket=acct.ticket, message=msg, incoming=IncomingFile("f.pdf", b"%PDF"), by=None
        )
    profile = world.partner if who == "partner" else getattr(world, who).portal
    # what is not theirs: the other account's records (the partner reads account b's order only)
    foreign = {"a": ["b"], "b": ["a"], "partner": ["a", "b"]}[who]
    client = portal_client(profile)
    for key in foreign:
        acct = getattr(world, key)
        ids = {
            "order": acct.order.pk,
            "unit": acct.unit.pk,
            "ticket": acct.ticket.pk,
            "attachment": attachments[key].pk,
            "article": world.internal_article.pk,
        }
        for name, kind in ID_ROUTES.items():
            if who == "partner" and key == "b" and kind == "order":
                continue  # the partner serves b: its order is readable (test_partner_reads_its_customers_orders_only)
            url = reverse(f"portal:{name}", args=[ids[kind]])
            for method in ("get", "post"):
                status = getattr(client, method)(url).status_code
                assert status in (404, 405), (who, key, method, url, status)
                if method == "get" and name in ("order", "unit", "ticket", "attachment", "article"):
                    assert status == 404, (who, url)
