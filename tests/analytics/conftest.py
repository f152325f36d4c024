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
