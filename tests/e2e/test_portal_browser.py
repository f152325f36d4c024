"""The portal on a phone: staff invite a customer's person from the customer page → the invitation email's
link activates the access → the customer sees their order → opens a ticket with a photo → staff see it."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from kehu.customers.models import Customer
from kehu.products.models import Product
from kehu.sales.services.orders import order_create
from kehu.service.models import Queue, Ticket, TicketAttachment

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


def test_invited_activates_sees_orders_opens_ticket_staff_sees_it(
    seeded, context_factory, login, live_server, mailoutbox
):
    Queue.objects.create(name="一线客服 Service desk", code="desk", is_default=True, method="manual")
    admin = seeded.users["admin"]
    customer = Customer.objects.filter(kind="organization", merged_into__isnull=True).order_by("pk").first()
    other = Customer.objects.filter(kind="organization").exclude(pk=customer.pk).order_by("pk").first()
    product = Product.objects.create(sku="CMP-9", name="螺杆空压机 Screw compressor")
    mine = order_create(
        data={"customer": customer},
        lines=[{"product": product, "quantity": Decimal(1), "unit_price": Decimal(99)}],
        by=admin,
    )
    theirs = order_create(
        data={"customer": other},
        lines=[{"product": product, "quantity": Decimal(1), "unit_price": Decimal(5)}],
        by=admin,
    )

    staff = context_factory().new_page()
    login(staff, "admin")
    staff.goto(f"{live_server.url}/customers/{customer.pk}/")
    invite = staff.locator("[data-testid=portal-invite]")
    invite.locator("input[name=email]").fill("li.na@customer.example.cn")
    invite.locator("input[name=name]").fill("李娜")
    invite.locator("button[type=submit]").click()
    expect(staff.locator("[data-testid=portal-panel]")).to_contain_text("li.na@customer.example.cn")

    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["li.na@customer.example.cn"]
    path = re.search(r"(/portal/activate/\S+)", mailoutbox[0].body).group(1)

    phone = context_factory(**PHONE).new_page()
    phone.goto(f"{live_server.url}{path}")
    phone.fill("input[name=new_password1]", "Portal-pass-2026!")
    phone.fill("input[name=new_password2]", "Portal-pass-2026!")
    phone.click("button[type=submit]")
    phone.wait_for_url(f"{live_server.url}/portal/")
    orders = phone.locator("[data-testid=orders]")
    expect(orders).to_contain_text(mine.number)
    expect(orders).not_to_contain_text(theirs.number)
    # nothing overflows the phone's width
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    phone.click("[data-testid=new-ticket]")
    phone.fill("input[name=subject]", "压缩机漏油 Oil leak")
    phone.fill("textarea[name=message]", "机器下面有油。")
    phone.set_input_files(
        "input[name=files]", files=[{"name": "photo.png", "mimeType": "image/png", "buffer": PNG}]
    )
    phone.click("button[type=submit]")
    expect(phone.locator("[data-testid=attachment]")).to_contain_text("photo.png")
    ticket = Ticket.objects.get(subject="压缩机漏油 Oil leak")
    assert ticket.customer == customer and TicketAttachment.objects.filter(ticket=ticket).count() == 1

    # a staff page stays closed to the portal user
    response = phone.goto(f"{live_server.url}/customers/")
    assert response.status == 403

    staff.goto(f"{live_server.url}/service/tickets/{ticket.pk}/")
    expect(staff.locator("body")).to_contain_text("压缩机漏油 Oil leak")
    expect(staff.locator("body")).to_contain_text("photo.png")
    staff.goto(f"{live_server.url}/customers/{customer.pk}/")
    expect(staff.locator("body")).to_contain_text(f"opened ticket #{ticket.pk}")
