"""Races on PostgreSQL: two approvers deciding the same step of the engine at once record one decision."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from kehu.approvals import services as engine
from kehu.approvals.models import ApprovalChain, ApprovalEvent, ApprovalStep, ApprovalTask
from kehu.core.exceptions import BusinessRuleError
from kehu.salesmgmt.models import ExpenseCategory
from kehu.salesmgmt.services import expenses
from tests.factories import UserFactory
from tests.sales.conftest import demo_role

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race is exercised on PostgreSQL")


def _race(calls):
    results, errors, barrier = [], [], threading.Barrier(len(calls))

    def run(call):
        from django.db import connections

        try:
            barrier.wait()
            results.append(call())
        except (BusinessRuleError, ValidationError, PermissionDenied) as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_two_approvers_of_one_step_record_one_decision(org):
    chain = ApprovalChain.objects.create(code="pair", name="pair", model="salesmgmt.expense", priority=1)
    ApprovalStep.objects.create(
        chain=chain, position=1, name="managers", approver_kind="role", role=demo_role("sales_manager")
    )
    second = UserFactory(username="mgr2", department=org.north)
    second.roles.add(demo_role("sales_manager"))
    category = ExpenseCategory.objects.create(name="差旅")
    expense = expenses.expense_create(
        data={
            "category": category,
            "amount": Decimal("50"),
            "currency": "CNY",
            "spent_on": timezone.localdate(),
        },
        submit=True,
        by=org.rep1,
    )
    request = engine.pending_request(expense)
    results, errors = _race(
        [
            lambda: engine.approval_decide(request=request, approve=True, comment="ok", by=org.manager),
            lambda: engine.approval_decide(request=request, approve=False, comment="不行", by=second),
        ]
    )
    assert len(results) == 1 and len(errors) == 1 and isinstance(errors[0], BusinessRuleError)
    request.refresh_from_db()
    expense.refresh_from_db()
    decided = ApprovalTask.objects.filter(request=request, status__in=["approved", "rejected"])
    assert decided.count() == 1
    assert ApprovalEvent.objects.filter(request=request, kind__in=["approved", "rejected"]).count() == 1
    assert expense.status == request.status  # "approved" or "rejected", the same on both
