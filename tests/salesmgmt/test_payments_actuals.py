"""Payments received count as a plan's actuals where the plan says so (issue #16 item 5, "payments count as
actuals for plans where configured"): payments on contracts marked "counts towards targets", received in the
period, in the plan's currency, credited to the contract's owner; hidden with the payment amount on the
performance page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from django.urls import reverse

from kehu.core.models import FieldAccess, FieldGrant
from kehu.sales.models import Contract, Payment
from kehu.salesmgmt.models import ActualsSource, PlanLevel
from kehu.salesmgmt.services import plans
from kehu.salesmgmt.services.actuals import attainment, plan_actuals


def _contract(account, owner, number, currency="CNY"):
    return Contract.objects.create(
        customer=account,
        owner=owner,
        number=number,
        title=number,
        amount=D("100000"),
        currency=currency,
        start_date=dt.date(2000, 1, 1),
    )


def test_payments_received_in_the_period_count_for_the_contract_owner(org, account, today):
    year = today.year
    first = _contract(account, org.rep1, "HT-1")
    other = _contract(account, org.rep2, "HT-2")
    dollars = _contract(account, org.rep1, "HT-3", currency="USD")
    Payment.objects.create(contract=first, amount=D("300"), received_on=dt.date(year, 3, 1))
    Payment.objects.create(contract=first, amount=D("200"), received_on=dt.date(year, 12, 31))
    Payment.objects.create(
        contract=first, amount=D("999"), received_on=dt.date(year - 1, 12, 31)
    )  # last year
    Payment.objects.create(  # finance said it does not count (e.g. a deposit returned later)
        contract=first, amount=D("777"), received_on=dt.date(year, 5, 1), counts_as_actual=False
    )
    Payment.objects.create(contract=other, amount=D("50"), received_on=dt.date(year, 6, 1))
    Payment.objects.create(
        contract=dollars, amount=D("40"), currency="USD", received_on=dt.date(year, 6, 1)
    )  # another currency than the plan's
    actuals = plan_actuals(
        period_kind="year", year=year, number=0, source=ActualsSource.PAYMENTS, currency="CNY"
    )
    assert actuals.node(PlanLevel.REP, org.rep1.pk, None) == (D("500"), D("0"))
    assert actuals.node(PlanLevel.REP, org.rep2.pk, None) == (D("50"), D("0"))
    assert actuals.node(PlanLevel.COMPANY, None, None) == (D("550"), D("0"))
    narrowed = plan_actuals(
        period_kind="year", year=year, number=0, source="payments", currency="CNY", owners={org.rep2.pk}
    )
    assert narrowed.totals == {org.rep2.pk: [D("50"), D("0")]}

    plan = plans.plan_create(
        data={"name": "Cash plan", "period_kind": "year", "year": year, "actuals_source": "payments"},
        by=org.manager,
    )
    company = plans.plan_company_set(
        plan=plan, product_line=None, amount="1100.00", units="0", by=org.manager, expected_version=None
    )
    top = attainment(plan=plan, target=company)
    assert top["target"]["actual_amount"] == D("550")
    assert top["target"]["attainment"] == D("50.0")


def test_the_performance_page_hides_payment_results_with_the_payment_amount(org, account, today, client_for):
    year = today.year
    plans.plan_create(
        data={"name": "Cash plan", "period_kind": "year", "year": year, "actuals_source": "payments"},
        by=org.manager,
    )
    Payment.objects.create(
        contract=_contract(account, org.rep1, "HT-9"), amount=D("4321.00"), received_on=dt.date(year, 2, 2)
    )
    url = reverse("salesmgmt:performance") + f"?period={year}"
    page = client_for(org.manager).get(url)
    assert page.status_code == 200 and "4,321" in page.content.decode().replace("4321", "4,321")
    for role in org.manager.roles.all():
        FieldGrant.objects.create(role=role, model="sales.payment", field="amount", access=FieldAccess.HIDDEN)
    hidden = client_for(org.manager).get(url).content.decode()
    assert "4,321" not in hidden and "4321" not in hidden
