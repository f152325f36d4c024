"""The demo quote-to-cash data adds up: quotes, orders with two years of lines, contracts whose instalments sum
to the contract amount and whose payments equal what was received; visible by the demo roles' scope."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db.models import Max, Min, Sum
from django.utils import timezone

from kehu.core.models import User
from kehu.core.selectors import scoped
from kehu.sales.models import Contract, Instalment, Order, OrderLine, Payment, Quote, QuoteLine

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_consistent_quotes_orders_and_contracts():
    call_command("seed_demo", customers=300, seed=7, stdout=io.StringIO())
    assert Quote.objects.filter(status="accepted").exists() and Quote.objects.filter(status="sent").exists()
    span = OrderLine.objects.aggregate(first=Min("order_date"), last=Max("order_date"))
    assert (timezone.localdate() - span["first"]).days > 365
    for quote in Quote.objects.all()[:40]:
        assert quote.total == QuoteLine.objects.filter(quote=quote).aggregate(s=Sum("total"))["s"]
    for order in Order.objects.all()[:40]:
        lines = OrderLine.objects.filter(order=order)
        assert order.net_amount == lines.aggregate(s=Sum("amount"))["s"]
        assert set(lines.values_list("counted", flat=True)) == {order.status != "cancelled"}
    assert Contract.objects.exists()
    for contract in Contract.objects.all()[:40]:
        assert Instalment.objects.filter(contract=contract).aggregate(s=Sum("amount"))["s"] == contract.amount
        paid = Payment.objects.filter(contract=contract).aggregate(s=Sum("amount"))["s"] or 0
        assert paid == contract.paid_amount
    rep1 = User.objects.get(username="rep1")
    mine = scoped(Order, user=rep1)
    assert mine.exists() and not mine.exclude(owner=rep1).exists()
