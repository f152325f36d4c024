"""Fixtures of the sales-management tests: the sales tests' organisation (demo roles) plus helpers that
write actuals (won deals, paid orders) straight into the sales tables, since only their sums matter here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.sales.models import Opportunity, Order, OrderLine
from tests.sales.conftest import Org, account, pipeline, stages  # noqa: F401 - fixtures


@pytest.fixture
def org(db):
    return Org()


@pytest.fixture
def won(pipeline, account):  # noqa: F811 - fixtures
    stage = pipeline.stages.get(kind="won")

    def make(owner, amount, closed_at: dt.datetime, currency="CNY"):
        return Opportunity.objects.create(
            name=f"deal {amount}",
            customer=account,
            pipeline=pipeline,
            stage=stage,
            owner=owner,
            status="won",
            amount=Decimal(amount),
            currency=currency,
            closed_at=closed_at,
        )

    return make


@pytest.fixture
def paid_order(account):  # noqa: F811 - fixtures
    counter = {"n": 0}

    def make(owner, amount, day: dt.date, quantity="1", product=None, status="paid"):
        counter["n"] += 1
        order = Order.objects.create(
            number=f"T-{counter['n']}", customer=account, owner=owner, order_date=day, status=status
        )
        OrderLine.objects.create(
            order=order,
            product=product,
            quantity=Decimal(quantity),
            unit_price=Decimal(amount),
            amount=Decimal(amount),
            customer=account,
            order_date=day,
            currency="CNY",
        )
        return order

    return make


@pytest.fixture
def today():
    return timezone.localdate()
