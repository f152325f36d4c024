"""Fixtures of the service tests: agents with the demo agent's rights, queues, a customer with a unit,
SLA policies on a business calendar, and the real SMTP server of tests/interactions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kehu.core.models import Scope
from kehu.customers import services as customer_services
from kehu.products.models import InstalledProduct, Product
from kehu.service.models import (
    AgentProfile,
    Availability,
    BusinessCalendar,
    Queue,
    RoutingMethod,
    SlaPolicy,
    SlaTarget,
    WorkingHours,
)
from tests.factories import RoleFactory, UserFactory, grant
from tests.interactions.conftest import smtp_server, smtp_settings  # noqa: F401 - shared fixtures

ALL = ("view", "add", "change", "delete", "import", "export", "transfer")
TICKET_MODELS = ("service.ticket",)


def make_agent(
    username: str, *, queues=(), scope=Scope.ALL, transfer=True, online=True, capacity=10, **kwargs
):
    """A service agent: sees every customer (changes none), works tickets in `scope`."""
    user = UserFactory(username=username, **kwargs)
    role = RoleFactory()
    grant(role, "customers.customer", ("view",), Scope.ALL, Scope.NONE)
    actions = ("view", "add", "change", "export") + (("transfer",) if transfer else ())
    grant(role, "service.ticket", actions, scope, scope)
    grant(role, "service.cannedresponse", ("view",), Scope.ALL, Scope.NONE)
    grant(role, "service.inboundmessage", ("view",), Scope.ALL, Scope.NONE)
    grant(role, "products.installedproduct", ("view",), Scope.ALL, Scope.NONE)
    grant(role, "interactions.interaction", ("view",), Scope.ALL, Scope.NONE)
    user.roles.add(role)
    profile = AgentProfile.objects.create(
        user=user, availability=Availability.ONLINE if online else Availability.OFFLINE, capacity=capacity
    )
    profile.queues.set(queues)
    return user


@pytest.fixture
def queue(db):
    return Queue.objects.create(
        name="一线 First line", code="first", is_default=True, method=RoutingMethod.MANUAL
    )


@pytest.fixture
def agent(queue):
    return make_agent("agent_a", queues=[queue], email="agent.a@example.com", display_name="赵敏")


@pytest.fixture
def agent2(queue):
    return make_agent("agent_b", queues=[queue], email="agent.b@example.com", display_name="孙强")


@pytest.fixture
def owner_rep(make_user):
    """The sales rep who owns the demo customer."""
    return make_user("customers.customer", read=Scope.OWN, write=Scope.OWN)


@pytest.fixture
def customer(owner_rep):
    return customer_services.customer_create(
        data={
            "name": "上海宏达机械有限公司",
            "email": "service@hongda.example.cn",
            "customer_type": "business",
        },
        by=owner_rep,
    )


@pytest.fixture
def unit(customer):
    product = Product.objects.create(sku="PUMP-100", name="离心泵 Pump 100", warranty_months=12)
    return InstalledProduct.objects.create(
        customer=customer,
        product=product,
        serial_number="SN-0001",
        purchase_date=timezone.localdate() - dt.timedelta(days=500),
        warranty_end=timezone.localdate() - dt.timedelta(days=135),
    )


@pytest.fixture
def calendar(db):
    """Mon–Fri 09:00–18:00 in Shanghai."""
    cal = BusinessCalendar.objects.create(name="上海 Shanghai office", time_zone="Asia/Shanghai")
    for day in range(5):
        WorkingHours.objects.create(calendar=cal, weekday=day, start=dt.time(9), end=dt.time(18))
    return cal


@pytest.fixture
def policy(db):
    """Around the clock: first response 60 min, resolution 8 h (normal); 15/120 min (urgent)."""
    p = SlaPolicy.objects.create(name="Standard", warn_before_minutes=15)
    SlaTarget.objects.create(policy=p, priority="normal", first_response_minutes=60, resolution_minutes=480)
    SlaTarget.objects.create(policy=p, priority="urgent", first_response_minutes=15, resolution_minutes=120)
    SlaTarget.objects.create(policy=p, priority="high", first_response_minutes=30, resolution_minutes=240)
    SlaTarget.objects.create(policy=p, priority="low", first_response_minutes=240, resolution_minutes=2400)
    return p
