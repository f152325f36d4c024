# ruff: noqa: F811 - the contract fixtures are imported from the other sales tests
"""Outstanding and overdue receivables per customer and per rep (selectors_collections.receivables_by): amounts,
the contract's record scope, the team filter, cancelled and paid instalments left out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from kehu.customers import services as customer_services
from kehu.sales.models import Contract, Instalment
from kehu.sales.selectors_collections import overdue_instalments, receivables_by
from kehu.sales.services import receivables
from tests.sales.test_orders_contracts import accepted, contract  # noqa: F401 - fixtures
from tests.sales.test_quotes import catalogue, deal  # noqa: F401 - fixtures


def _contract(owner, customer, number, rows, today):
    contract = Contract.objects.create(
        number=number, title=number, customer=customer, amount=sum(r[1] for r in rows), start_date=today,
        owner=owner,
    )  # fmt: skip
    for seq, (days, amount, paid, status) in enumerate(rows, start=1):
        Instalment.objects.create(
            contract=contract, sequence=seq, due_date=today + dt.timedelta(days=days), amount=amount,
            paid_amount=paid, status=status,
        )  # fmt: skip
    # rows made directly: derive the contract's receivable figures as the plan and payment services do
    receivables.contract_receivables_refresh(contract_ids=[contract.pk])
    return contract


@pytest.fixture
def book(org, now):
    today = now.date()
    north = customer_services.customer_create(data={"name": "北京华信科技有限公司"}, by=org.rep1)
    east = customer_services.customer_create(data={"name": "上海东方贸易有限公司"}, by=org.rep3)
    _contract(org.rep1, north, "R1", [
        (-10, D("100"), D("0"), "open"),       # overdue
        (-5, D("50"), D("20"), "partly"),      # overdue, 30 outstanding
        (-3, D("70"), D("70"), "paid"),        # paid: left out
        (20, D("200"), D("0"), "open"),        # outstanding, not overdue
        (-1, D("999"), D("0"), "cancelled"),   # cancelled: left out
    ], today)  # fmt: skip
    _contract(org.rep2, north, "R2", [(-2, D("40"), D("0"), "open")], today)
    _contract(org.rep3, east, "R3", [(-8, D("500"), D("0"), "open"), (30, D("10"), D("0"), "open")], today)
    return {"north": north, "east": east}


def _table(rows):
    return {(r.label, r.currency): (r.outstanding, r.overdue) for r in rows}


def test_outstanding_and_overdue_per_customer_and_rep(org, book):
    assert _table(receivables_by(user=org.exec, by="customer")) == {
        ("北京华信科技有限公司", "CNY"): (D("370"), D("170")),
        ("上海东方贸易有限公司", "CNY"): (D("510"), D("500")),
    }
    by_rep = receivables_by(user=org.exec, by="owner")
    assert [r.key for r in by_rep] == [org.rep3.pk, org.rep1.pk, org.rep2.pk]  # largest first
    assert _table(by_rep)[(org.rep1.display_name or "—", "CNY")] == (D("330"), D("130"))


def test_scope_and_team_filter(org, book):
    # a rep sees the receivables of their own contracts; the manager those of the department (north)
    assert _table(receivables_by(user=org.rep3, by="customer")) == {
        ("上海东方贸易有限公司", "CNY"): (D("510"), D("500"))
    }
    assert _table(receivables_by(user=org.manager, by="customer")) == {
        ("北京华信科技有限公司", "CNY"): (D("370"), D("170"))
    }
    # filtered to owners: only their contracts, within the user's scope
    only_rep2 = receivables_by(user=org.exec, by="customer", owner_ids=[org.rep2.pk])
    assert _table(only_rep2) == {("北京华信科技有限公司", "CNY"): (D("40"), D("40"))}
    assert receivables_by(user=org.manager, by="owner", owner_ids=[org.rep3.pk]) == []
    assert receivables_by(user=org.rep1, by="owner", owner_ids=[]) == []


def test_the_services_keep_the_contracts_outstanding_and_first_due_date(org, contract, now):
    today = now.date()
    half = (contract.amount / 2).quantize(D("0.01"))
    assert (contract.receivable_outstanding, contract.receivable_due_from) == (D("0"), None)
    receivables.instalment_plan_set(
        contract=contract,
        rows=[
            {"due_date": today + dt.timedelta(days=60), "amount": contract.amount - half},
            {"due_date": today - dt.timedelta(days=5), "amount": half},
        ],
        by=org.rep1,
    )
    contract.refresh_from_db()
    assert contract.receivable_outstanding == contract.amount
    assert contract.receivable_due_from == today - dt.timedelta(days=5)
    (row,) = receivables_by(user=org.rep1, by="customer")
    assert (row.outstanding, row.overdue) == (contract.amount, half)

    # a refused payment changes nothing
    with pytest.raises(ValidationError):
        receivables.payment_record(contract=contract, data={"amount": contract.amount + 1}, by=org.rep1)
    contract.refresh_from_db()
    assert contract.receivable_outstanding == contract.amount

    # the overdue instalment paid and 100 more on the next one
    receivables.payment_record(contract=contract, data={"amount": half + D("100")}, by=org.rep1)
    contract.refresh_from_db()
    assert contract.receivable_outstanding == contract.amount - half - D("100")
    assert contract.receivable_due_from == today + dt.timedelta(days=60)
    (row,) = receivables_by(user=org.rep1, by="owner")
    assert (row.key, row.outstanding, row.overdue) == (org.rep1.pk, contract.amount - half - D("100"), D("0"))
    assert overdue_instalments(user=org.rep1) == []

    # everything received: the contract leaves the receivables
    receivables.payment_record(
        contract=contract, data={"amount": contract.amount - half - D("100")}, by=org.rep1
    )
    contract.refresh_from_db()
    assert (contract.receivable_outstanding, contract.receivable_due_from) == (D("0"), None)
    assert receivables_by(user=org.rep1, by="customer") == []
