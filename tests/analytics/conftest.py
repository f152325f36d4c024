"""Fixtures of the analytics tests: the demo roles' organisation (tests/sales/conftest.py) and a way to record
purchases. There is no order service yet (sales phase 2), so `buy` writes an order and its line the way the
order services will: the line carries the order's customer, date, currency and `counted` flag (ADR 0006)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from kehu.customers import services as customer_services
from kehu.sales.models import Order, OrderLine
from tests.sales.conftest import Org, demo_role  # noqa: F401 - shared helpers

_numbers = itertools.count(1)


def buy(customer, day: dt.date, amount, *, currency="CNY", cancelled=False, returns=None) -> Order:
    """A sale (or, with `returns=<order>`, a return of negative `amount`) on `day`."""
    amount = Decimal(str(amount))
    kind = "return" if returns is not None else "sale"
    if kind == "return":
        amount = -abs(amount)
    order = Order.objects.create(
        number=f"T{next(_numbers):06d}",
        kind=kind,
        original=returns,
        customer=customer,
        order_date=day,
        currency=currency,
        owner=customer.owner,
        status="cancelled" if cancelled else "confirmed",
        net_amount=amount,
        total=amount,
    )
    quantity = Decimal(-1 if kind == "return" else 1)
    OrderLine.objects.create(
        order=order,
        line_no=1,
        description="goods",
        quantity=quantity,
        unit_price=abs(amount),
        amount=amount,
        customer=customer,
        order_date=day,
        currency=currency,
        counted=not cancelled,
    )
    return order


@pytest.fixture
def org(db):
    return Org()


@pytest.fixture
def make_customer(org):
    def make(name, owner=None):
        return customer_services.customer_create(data={"name": name}, by=owner or org.rep1)

    return make


# report builder tests (anreport)
from tests.interactions.conftest import smtp_server, smtp_settings  # noqa: E402, F401 - fixtures

D = dt.date


@pytest.fixture
def report_sales(org, make_customer):
    """Report builder tests (anreport): rep1: two customers (orders in Jan and Mar 2026); rep3 (another department): one customer in Mar."""
    a = make_customer("北京优选贸易有限公司", owner=org.rep1)
    b = make_customer("广州旧客户有限公司", owner=org.rep1)
    c = make_customer("杭州东方电子有限公司", owner=org.rep3)
    buy(a, D(2026, 1, 5), 100)
    buy(a, D(2026, 1, 20), 200)
    buy(b, D(2026, 3, 2), 50)
    buy(c, D(2026, 3, 9), 1000)
    buy(c, D(2026, 3, 10), 400, cancelled=True)
    return {"a": a, "b": b, "c": c}
