"""Races on PostgreSQL: two managers deciding the same approval at once record one decision; two payments
racing for the same outstanding amount cannot together exceed it."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from kehu.core.exceptions import BusinessRuleError
from kehu.sales.models import ApprovalDecision, DiscountLimit, Payment, QuoteApproval
from kehu.sales.services import contracts, quotes, receivables
from tests.factories import UserFactory
from tests.sales.conftest import demo_role
from tests.sales.test_quotes import catalogue, deal  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def _race(calls):
    results, errors, barrier = [], [], threading.Barrier(len(calls))

    def run(call):
        from django.db import connections

        try:
            barrier.wait()
            results.append(call())
        except (BusinessRuleError, ValidationError) as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race is exercised on PostgreSQL")


def test_two_managers_deciding_at_once_record_one_decision(org, account, deal):  # noqa: F811
    manager_role = demo_role("sales_manager")
    DiscountLimit.objects.create(
        role=demo_role("sales_rep"),
        max_line_discount=D("10"),
        max_total_discount=D("5"),
        approver_role=manager_role,
    )
    second = UserFactory(username="mgr2", department=org.north)
    second.roles.add(manager_role)
    quote = quotes.quote_create(customer=account, opportunity=deal, by=org.rep1)
    quotes.quote_line_update(line=quote.lines.get(), data={"discount_percent": D("20")}, by=org.rep1)
    approval = quotes.quote_submit(quote=quote, by=org.rep1)
    results, errors = _race(
        [
            lambda: quotes.quote_decide(approval=approval, approve=True, comment="ok", by=org.manager),
            lambda: quotes.quote_decide(approval=approval, approve=False, comment="太低", by=second),
        ]
    )
    assert len(results) == 1 and len(errors) == 1
    approval.refresh_from_db()
    quote.refresh_from_db()
    assert approval.decision != ApprovalDecision.PENDING
    assert quote.status == ("approved" if approval.decision == "approved" else "rejected")
    assert QuoteApproval.objects.filter(quote=quote).count() == 1


def test_two_payments_cannot_exceed_the_outstanding_amount(org, account, deal, now):  # noqa: F811
    quote = quotes.quote_create(customer=account, opportunity=deal, by=org.rep1)
    quotes.quote_send(quote=quote, by=org.rep1)
    quotes.quote_respond(quote=quote, accepted=True, by=org.rep1)
    contract = contracts.contract_create(data={}, quote=quote, by=org.rep1)
    part = (contract.amount * D("0.7")).quantize(D("0.01"))
    results, errors = _race(
        [
            lambda: receivables.payment_record(contract=contract, data={"amount": part}, by=org.rep1),
            lambda: receivables.payment_record(contract=contract, data={"amount": part}, by=org.manager),
        ]
    )
    assert len(results) == 1 and len(errors) == 1
    contract.refresh_from_db()
    assert contract.paid_amount == part == Payment.objects.get(contract=contract).amount
