"""Fixtures of the portal tests: two customer accounts (A, B) each with a portal user, orders, a unit, a ticket
with a public reply and an internal note; a partner with a linked customer; staff; the real SMTP server."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.customers import services as customer_services
from kehu.portal import services as portal_services
from kehu.portal.models import PartnerLink, PortalKind
from kehu.products.models import InstalledProduct, Product
from kehu.sales.services.orders import order_create
from kehu.service.models import Article, MessageKind, Queue, RoutingMethod, TicketMessage
from kehu.service.services.tickets import ticket_create
from tests.interactions.conftest import smtp_server, smtp_settings  # noqa: F401 - shared fixtures

PASSWORD = "Portal-pass-2026!"


@pytest.fixture
def staff(admin_user):
    return admin_user


@pytest.fixture(autouse=True)
def _queue(db):
    Queue.objects.create(name="一线 First line", code="first", is_default=True, method=RoutingMethod.MANUAL)


def make_portal_user(customer, email, staff, kind=PortalKind.CUSTOMER):
    profile = portal_services.portal_user_invite(
        customer=customer, email=email, name=email.split("@")[0], kind=kind, by=staff
    )
    portal_services.portal_user_activate(user=profile.user, password=PASSWORD)
    profile.user.refresh_from_db()
    return profile


class World:
    pass


def build_account(staff, name, email, serial):
    w = World()
    w.account = customer_services.customer_create(
        data={"name": name, "email": f"office@{email.split('@')[1]}", "notes": f"INTERNAL-NOTE-{serial}"},
        by=staff,
    )
    w.portal = make_portal_user(w.account, email, staff)
    w.product, _ = Product.objects.get_or_create(
        sku="CMP-100", defaults={"name": "螺杆空压机 Screw compressor"}
    )
    today = timezone.localdate()
    w.unit = InstalledProduct.objects.create(
        customer=w.account,
        product=w.product,
        serial_number=serial,
        purchase_date=today - dt.timedelta(days=100),
        warranty_end=today + dt.timedelta(days=265),
    )
    w.order = order_create(
        data={"customer": w.account, "shipping_address": f"ADDR-{serial}"},
        lines=[{"product": w.product, "quantity": Decimal("2"), "unit_price": Decimal("1000.00")}],
        by=staff,
    )
    w.ticket = ticket_create(
        data={"subject": f"Noise {serial}", "customer": w.account},
        by=staff,
        message=f"It is loud {serial}",
    )
    TicketMessage.objects.create(
        ticket=w.ticket, kind=MessageKind.REPLY, body=f"PUBLIC-REPLY-{serial}", author=staff
    )
    TicketMessage.objects.create(
        ticket=w.ticket, kind=MessageKind.NOTE, body=f"SECRET-NOTE-{serial}", author=staff
    )
    return w


@pytest.fixture
def world(staff):
    a = build_account(staff, "上海宏达机械有限公司", "li.na@hongda.example.cn", "SN-A-1")
    b = build_account(staff, "北京华信科技有限公司", "wang.wei@huaxin.example.cn", "SN-B-1")
    partner_account = customer_services.customer_create(
        data={"name": "广州伙伴贸易有限公司", "customer_type": "distributor"}, by=staff
    )
    partner = make_portal_user(partner_account, "chen@partner.example.cn", staff, kind=PortalKind.PARTNER)
    PartnerLink.objects.create(partner=partner_account, customer=b.account)
    public = Article.objects.create(
        title="PUBLIC-ARTICLE", body="Check the belt.", visibility="public", status="published"
    )
    internal = Article.objects.create(
        title="INTERNAL-ARTICLE", body="Staff only.", visibility="internal", status="published"
    )
    w = World()
    w.a, w.b, w.partner, w.partner_account = a, b, partner, partner_account
    w.public_article, w.internal_article, w.staff = public, internal, staff
    return w


@pytest.fixture
def portal_client(client):
    def login(profile):
        client.force_login(profile.user, backend="kehu.portal.backends.AccountBackend")
        return client

    return login
