"""What the portal pages show: order status progress and items, warranty and service history, billing, the
help articles, the portal in Chinese."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.sales.models import Contract, InvoiceRequest, Payment
from kehu.service.models import Ticket

pytestmark = pytest.mark.django_db


def test_order_page_shows_status_steps_and_items(world, portal_client):
    page = (
        portal_client(world.a.portal).get(reverse("portal:order", args=[world.a.order.pk])).content.decode()
    )
    assert world.a.order.number in page and "螺杆空压机" in page and "ADDR-SN-A-1" in page
    assert 'class="done current"' in page  # confirmed: the first step reached
    assert "Shipped" in page


def test_unit_page_shows_warranty_and_service_history(world, portal_client):
    Ticket.objects.filter(pk=world.a.ticket.pk).update(installed_product=world.a.unit)
    page = portal_client(world.a.portal).get(reverse("portal:unit", args=[world.a.unit.pk])).content.decode()
    assert "SN-A-1" in page and "under warranty" in page
    assert f"#{world.a.ticket.pk}" in page
    with_expired = world.a.unit
    with_expired.warranty_end = timezone.localdate() - dt.timedelta(days=1)
    with_expired.save()
    units = portal_client(world.a.portal).get(reverse("portal:units")).content.decode()
    assert "out of warranty" in units


def test_billing_shows_own_invoices_and_payments(world, portal_client, staff):
    for acct, amount in ((world.a, "1234.50"), (world.b, "9999.00")):
        contract = Contract.objects.create(
            customer=acct.account,
            owner=staff,
            number=f"HT-{amount}",
            title=f"C-{amount}",
            amount=Decimal(amount),
            start_date=timezone.localdate(),
        )
        InvoiceRequest.objects.create(contract=contract, title=acct.account.name, amount=Decimal(amount))
        Payment.objects.create(contract=contract, amount=Decimal(amount))
    page = portal_client(world.a.portal).get(reverse("portal:billing")).content.decode()
    assert "1234.50" in page and "9999.00" not in page


def test_help_search(world, portal_client):
    client = portal_client(world.a.portal)
    assert "PUBLIC-ARTICLE" in client.get(reverse("portal:kb"), {"q": "belt"}).content.decode()
    assert "PUBLIC-ARTICLE" not in client.get(reverse("portal:kb"), {"q": "nothing-like-it"}).content.decode()
    assert "INTERNAL-ARTICLE" not in client.get(reverse("portal:kb"), {"q": "Staff"}).content.decode()


def test_home_for_a_partner_shows_the_deals_link_and_served_orders(world, portal_client):
    page = portal_client(world.partner).get(reverse("portal:home")).content.decode()
    assert (
        reverse("portal:deals") in page and world.b.order.number in page and world.a.order.number not in page
    )
    customer_page = portal_client(world.a.portal).get(reverse("portal:home")).content.decode()
    assert reverse("portal:deals") not in customer_page


def test_list_pages_read_in_a_constant_number_of_queries(
    world, portal_client, staff, django_assert_max_num_queries
):
    from kehu.sales.services.orders import order_create
    from kehu.service.services.tickets import ticket_create

    client = portal_client(world.a.portal)
    pages = [
        reverse(n)
        for n in ("portal:home", "portal:orders", "portal:tickets", "portal:units", "portal:billing")
    ]
    counts = {}
    for url in pages:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        counts[url] = len(ctx.captured_queries)
    for i in range(5):
        order_create(
            data={"customer": world.a.account},
            lines=[{"product": world.a.product, "quantity": Decimal(1), "unit_price": Decimal(10)}],
            by=staff,
        )
        ticket_create(data={"subject": f"more {i}", "customer": world.a.account}, by=staff)
    for url in pages:
        with django_assert_max_num_queries(counts[url]):
            client.get(url)
