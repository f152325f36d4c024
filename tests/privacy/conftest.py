"""A person with data in many apps (profile, contact points, sensitive values, interactions, an order, a ticket
with messages, a lead, a notification, a portal account), a namesake who must survive an erasure, and a
privacy officer role (staff) and an approver."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kehu.core.models import Notification, Role, Scope
from kehu.customers import services as customer_services
from kehu.interactions.services import interaction_log
from kehu.privacy import sensitive
from kehu.products.models import Product
from kehu.sales.services.orders import order_create
from kehu.service.models import MessageKind, Queue, RoutingMethod, TicketMessage
from kehu.service.services.tickets import ticket_create
from tests.factories import UserFactory, grant
from tests.portal.conftest import make_portal_user

NAME = "欧阳晓梅"
PHONE = "+8613912345678"
PHONE2 = "+8613800001111"
EMAIL = "xiaomei.ouyang@example.cn"
EMAIL2 = "ouyang.private@example.net"
ID_NUMBER = "11010519491231002X"
BANK = "6222021234567890123"
TAX_ID = "91310000MA1FL0XX11"
STREET = "浦东新区世纪大道1001号"
FREE_TEXT = "MEMO-Ouyang-likes-green-tea"
WECHAT = "xiaomei_wx_8899"


@pytest.fixture(autouse=True)
def _tombstones(settings, tmp_path):
    settings.KEHU_PRIVACY_TOMBSTONE_FILE = str(tmp_path / "erasures.jsonl")
    Queue.objects.get_or_create(
        code="first", defaults={"name": "First", "is_default": True, "method": RoutingMethod.MANUAL}
    )


@pytest.fixture
def officer(db):
    role = Role.objects.create(code="privacy_officer", name="Privacy officer")
    grant(role, "privacy.privacyrequest", ("view", "add", "change"), Scope.ALL, Scope.ALL)
    grant(role, "privacy.retentionrule", ("view", "add", "change"), Scope.ALL, Scope.ALL)
    grant(role, "privacy.sensitivevalue", ("view",), Scope.ALL, Scope.NONE)
    grant(role, "customers.customer", ("view", "change"), Scope.ALL, Scope.ALL)

    def make(username):
        user = UserFactory(username=username)
        user.roles.add(role)
        return user

    return make("dpo"), make("dpo2")


class Subject:
    pass


@pytest.fixture
def subject(admin_user):
    staff = admin_user
    s = Subject()
    s.customer = customer_services.customer_create(
        data={
            "name": NAME,
            "kind": "person",
            "customer_type": "consumer",
            "phone": PHONE,
            "email": EMAIL,
            "tax_id": TAX_ID,
            "notes": f"{FREE_TEXT} call {PHONE2}",
            "city": "上海",
            "job_title": "采购主管",
        },
        by=staff,
    )
    c = s.customer
    customer_services.contact_point_add(customer=c, kind="phone", value=PHONE2, by=staff)
    customer_services.contact_point_add(customer=c, kind="email", value=EMAIL2, by=staff)
    customer_services.contact_point_add(
        customer=c, kind="address", value=STREET, by=staff, address={"city": "上海", "province": "上海"}
    )
    customer_services.contact_point_add(customer=c, kind="social", value=WECHAT, label="wechat", by=staff)
    c.refresh_from_db()
    sensitive.sensitive_set(instance=c, name="id_number", value=ID_NUMBER, by=staff)
    sensitive.sensitive_set(instance=c, name="bank_account", value=BANK, by=staff)
    c.refresh_from_db()
    customer_services.customer_update(
        customer=c, data={"job_title": "采购经理"}, by=staff, expected_version=c.version
    )
    c.refresh_from_db()
    s.interaction = interaction_log(
        customer=c,
        data={
            "channel": "call",
            "direction": "in",
            "subject": f"{NAME} asked about delivery",
            "body": f"She gave {EMAIL2} and {STREET}",
        },
        by=staff,
    )
    product, _ = Product.objects.get_or_create(sku="P-1", defaults={"name": "Widget"})
    s.order = order_create(
        data={"customer": c, "shipping_address": f"{STREET} {NAME} {PHONE}"},
        lines=[{"product": product, "quantity": Decimal("3"), "unit_price": Decimal("250.00")}],
        by=staff,
    )
    s.ticket = ticket_create(
        data={"subject": f"Refund for {NAME}", "customer": c},
        by=staff,
        message=f"My number is {PHONE}, ID {ID_NUMBER}",
    )
    TicketMessage.objects.create(
        ticket=s.ticket, kind=MessageKind.NOTE, body=f"{FREE_TEXT} bank {BANK}", author=staff
    )
    Notification.objects.create(user=staff, title=f"New ticket from {NAME}", body=f"Call {PHONE} back")
    s.portal = make_portal_user(c, EMAIL, staff)
    # a namesake with the same name: another person, whose data an erasure must not touch
    s.namesake = customer_services.customer_create(
        data={"name": NAME, "kind": "person", "customer_type": "consumer", "phone": "+8613700009999"},
        by=staff,
    )
    s.staff = staff
    return s


PERSONAL = [
    NAME,
    PHONE,
    PHONE[3:],
    PHONE2,
    PHONE2[3:],
    EMAIL,
    EMAIL2,
    ID_NUMBER,
    BANK,
    TAX_ID,
    STREET,
    FREE_TEXT,
    WECHAT,
]
