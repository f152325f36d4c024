"""Orders (from an accepted quote, direct, status flow with ERP idempotency, cancellation and returns netting
out, installed base on delivery) and contracts with instalments, payments and invoice requests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.urls import reverse

from kehu.core.exceptions import BusinessRuleError
from kehu.core.models import Notification
from kehu.interactions.models import Interaction
from kehu.products.models import InstalledProduct
from kehu.sales.models import ContractStatus, InstalmentStatus, OrderLine, OrderStatus, OrderStatusChange
from kehu.sales.services import contracts, orders, quotes, receivables
from tests.sales.test_quotes import catalogue, deal  # noqa: F401 - fixtures


@pytest.fixture
def accepted(org, account, deal):  # noqa: F811
    quote = quotes.quote_create(customer=account, opportunity=deal, by=org.rep1)
    quotes.quote_send(quote=quote, by=org.rep1)
    quotes.quote_respond(quote=quote, accepted=True, by=org.rep1)
    return quote


def _revenue(customer) -> D:
    return OrderLine.objects.filter(customer=customer, counted=True).aggregate(s=Sum("amount"))["s"] or D(0)


def test_order_from_accepted_quote_once(org, account, accepted):
    order = orders.order_from_quote(quote=accepted, by=org.rep1)
    assert order.quote == accepted and order.status == OrderStatus.CONFIRMED
    assert (order.net_amount, order.total) == (accepted.net_amount, accepted.total)
    line = order.lines.get()
    assert (line.customer, line.order_date, line.currency, line.counted) == (
        account,
        order.order_date,
        "CNY",
        True,
    )
    with pytest.raises(BusinessRuleError):
        orders.order_from_quote(quote=accepted, by=org.rep1)
    assert Interaction.objects.filter(
        related_model="sales.order.confirmed", related_id=str(order.pk)
    ).exists()


def test_draft_quote_does_not_become_an_order(org, account, deal):  # noqa: F811
    quote = quotes.quote_create(customer=account, opportunity=deal, by=org.rep1)
    with pytest.raises(BusinessRuleError):
        orders.order_from_quote(quote=quote, by=org.rep1)


def test_status_flow_idempotent_keys_delivery_and_installed_base(org, account, accepted):
    order = orders.order_from_quote(quote=accepted, by=org.rep1)
    OrderLine.objects.filter(order=order).update(serial_numbers="")
    orders.order_set_status(
        order=order, status="shipped", by=org.manager, idempotency_key="erp-1", external_ref="ERP-9"
    )
    orders.order_set_status(order=order, status="shipped", by=org.manager, idempotency_key="erp-1")  # replay
    assert OrderStatusChange.objects.filter(order=order, to_status="shipped").count() == 1
    assert order.external_ref == "ERP-9"
    with pytest.raises(BusinessRuleError) as exc:
        orders.order_set_status(order=order, status="paid", by=org.manager)
    assert exc.value.field == "status"
    orders.order_set_status(order=order, status="delivered", by=org.manager, idempotency_key="erp-2")
    unit = InstalledProduct.objects.get(customer=account)
    assert unit.order_reference == order.number and unit.quantity == 12
    assert order.lines.get().delivered_quantity == D("12")


def test_cancel_and_return_net_out_of_revenue(org, account, accepted, catalogue):  # noqa: F811
    order = orders.order_from_quote(quote=accepted, by=org.rep1)
    direct = orders.order_create(
        data={"customer": account},
        lines=[
            {
                "product": catalogue["product"],
                "quantity": D("2"),
                "unit_price": D("1000"),
                "tax_rate": D("13"),
            }
        ],
        by=org.rep1,
    )
    assert _revenue(account) == D("12800.00")
    orders.order_set_status(order=direct, status="cancelled", by=org.manager)
    assert _revenue(account) == D("10800.00")
    orders.order_set_status(order=order, status="delivered", by=org.manager)
    line = order.lines.get()
    ret = orders.order_return(order=order, quantities={line.pk: D("2")}, by=org.manager, note="质量问题")
    assert ret.kind == "return" and ret.original == order and ret.lines.get().quantity == D("-2")
    assert ret.lines.get().returned_line == line
    assert _revenue(account) == D("9000.00")
    with pytest.raises(ValidationError):
        orders.order_return(order=order, quantities={line.pk: D("11")}, by=org.manager)
    orders.order_return(order=order, quantities=None, by=org.manager)
    order.refresh_from_db()
    assert order.status == OrderStatus.RETURNED and _revenue(account) == 0


def test_bad_order_lines_are_refused_and_nothing_saved(org, account, catalogue):  # noqa: F811
    with pytest.raises(ValidationError) as exc:
        orders.order_create(
            data={"customer": account},
            lines=[
                {"product": catalogue["product"], "quantity": D("1"), "unit_price": D("10")},
                {"product": catalogue["product"], "quantity": D("0"), "unit_price": D("10")},
            ],
            by=org.rep1,
        )
    assert "lines.2.quantity" in exc.value.message_dict
    assert not account.orders.exists()


def test_erp_status_by_reference_api(client, org, account, accepted):
    order = orders.order_from_quote(quote=accepted, by=org.rep1)
    order.__class__.objects.filter(pk=order.pk).update(external_ref="SAP-4711")
    client.force_login(org.manager)
    body = {"external_ref": "SAP-4711", "status": "production", "idempotency_key": "evt-1"}
    first = client.post("/api/orders/status-by-ref/", body, content_type="application/json")
    again = client.post("/api/orders/status-by-ref/", body, content_type="application/json")
    assert first.status_code == again.status_code == 200, first.content
    assert again.json()["status"] == "production"
    assert OrderStatusChange.objects.filter(order=order, idempotency_key="evt-1").count() == 1
    bad = client.post(f"/api/orders/{order.pk}/status/", {"status": "paid"}, content_type="application/json")
    assert bad.status_code == 400 and "status" in bad.json()
    client.force_login(org.rep3)
    assert client.post("/api/orders/status-by-ref/", body, content_type="application/json").status_code == 404


def test_order_pages(client, org, account, accepted, catalogue):  # noqa: F811
    client.force_login(org.rep1)
    response = client.post(reverse("sales:quote_action", args=[accepted.pk, "order"]))
    order = account.orders.get()
    assert response["Location"] == order.get_absolute_url()
    assert order.number in client.get(order.get_absolute_url()).content.decode()
    assert order.number in client.get(reverse("sales:orders")).content.decode()
    created = client.post(
        reverse("sales:order_create"),
        {
            "customer": account.pk,
            "order_date": "",
            "currency": "CNY",
            "lines-TOTAL_FORMS": "3",
            "lines-INITIAL_FORMS": "0",
            "lines-MIN_NUM_FORMS": "1",
            "lines-MAX_NUM_FORMS": "1000",
            "lines-0-product": catalogue["product"].pk,
            "lines-0-quantity": "3",
            "lines-0-discount_percent": "0",
            "lines-0-tax_rate": "13.00",
            "lines-1-discount_percent": "0",
            "lines-1-tax_rate": "13.00",
            "lines-2-discount_percent": "0",
            "lines-2-tax_rate": "13.00",
        },  # fmt: skip
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    direct = account.orders.exclude(pk=order.pk).get()
    assert direct.total == D("4068.00") and direct.owner == org.rep1  # 3 × 1200 + 13% VAT
    client.force_login(org.manager)
    client.post(reverse("sales:order_status", args=[order.pk]), {"status": "delivered"})
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED


# ------------------------------------------------------------------------------------------- contracts
@pytest.fixture
def contract(org, accepted):
    return contracts.contract_create(data={}, quote=accepted, by=org.rep1)


def test_contract_from_quote_approval_and_signing(org, contract, accepted, smtp_settings):
    assert (contract.amount, contract.currency, contract.quote) == (accepted.total, "CNY", accepted)
    assert contract.number.startswith("HT")
    contracts.contract_set_status(contract=contract, status="pending", by=org.rep1)
    # the approver is sent to the request's page on the approval engine
    from kehu.approvals.services import pending_request

    assert Notification.objects.filter(
        user=org.manager, url=pending_request(contract).get_absolute_url()
    ).exists()
    with pytest.raises(ValidationError):
        contracts.contract_set_status(contract=contract, status="rejected", by=org.manager)
    contracts.contract_set_status(contract=contract, status="approved", by=org.manager)
    with pytest.raises(ValidationError) as exc:
        contracts.contract_set_status(contract=contract, status="active", by=org.rep1)
    assert "signed_date" in exc.value.message_dict
    contracts.contract_set_status(
        contract=contract, status="active", by=org.rep1, signed_date=contract.start_date
    )
    assert contract.status == ContractStatus.ACTIVE


def test_plan_payments_oldest_first_and_limits(org, contract, now):
    today = now.date()
    half = (contract.amount / 2).quantize(D("0.01"))
    with pytest.raises(ValidationError) as exc:
        receivables.instalment_plan_set(
            contract=contract, rows=[{"due_date": today, "amount": half}], by=org.rep1
        )
    assert "amount" in exc.value.message_dict
    first, second = receivables.instalment_plan_set(
        contract=contract,
        rows=[
            {"due_date": today + dt.timedelta(days=60), "amount": contract.amount - half},
            {"due_date": today - dt.timedelta(days=5), "amount": half},
        ],
        by=org.rep1,
    )
    assert first.due_date < second.due_date
    with pytest.raises(ValidationError) as exc:
        receivables.payment_record(contract=contract, data={"amount": contract.amount + 1}, by=org.rep1)
    assert "amount" in exc.value.message_dict
    payment = receivables.payment_record(
        contract=contract, data={"amount": half + D("100"), "external_ref": "FIN-1"}, by=org.rep1
    )
    again = receivables.payment_record(
        contract=contract, data={"amount": half + D("100"), "external_ref": "FIN-1"}, by=org.rep1
    )
    assert again.pk == payment.pk
    first.refresh_from_db()
    second.refresh_from_db()
    contract.refresh_from_db()
    assert first.status == InstalmentStatus.PAID and second.paid_amount == D("100")
    assert second.status == InstalmentStatus.PARTLY_PAID and contract.paid_amount == half + D("100")
    assert Interaction.objects.filter(related_model="sales.payment", related_id=str(payment.pk)).exists()


def test_invoice_requests_limited_to_the_contract_amount(org, contract):
    data = {"invoice_type": "ordinary", "title": "上海启明星科技有限公司", "amount": contract.amount - 1}
    receivables.invoice_request_create(contract=contract, data=data, by=org.rep1)
    with pytest.raises(ValidationError) as exc:
        receivables.invoice_request_create(contract=contract, data={**data, "amount": D("2")}, by=org.rep1)
    assert "amount" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        receivables.invoice_request_create(
            contract=contract, data={**data, "invoice_type": "special", "amount": D("1")}, by=org.rep1
        )
    assert "tax_number" in exc.value.message_dict
    contract.refresh_from_db()
    assert contract.invoiced_amount == contract.amount - 1


def test_overdue_instalments_reminded_once(org, contract, now, frozen_clock):
    today = now.date()
    receivables.instalment_plan_set(
        contract=contract,
        rows=[{"due_date": today + dt.timedelta(days=3), "amount": contract.amount}],
        by=org.rep1,
    )
    assert receivables.instalments_overdue_remind() == 0
    frozen_clock.shift(dt.timedelta(days=5))
    assert receivables.instalments_overdue_remind() == 1
    assert receivables.instalments_overdue_remind() == 0
    assert Notification.objects.filter(user=org.rep1, url=contract.get_absolute_url()).count() == 1


def test_contract_pages_and_api(client, org, account, contract, now):
    client.force_login(org.rep1)
    page = client.get(contract.get_absolute_url())
    assert page.status_code == 200 and contract.number in page.content.decode()
    client.post(
        reverse("sales:contract_plan", args=[contract.pk]),
        {"plan": f"{now.date().isoformat()} {contract.amount}"},
    )
    assert contract.instalments.count() == 1
    client.post(
        reverse("sales:contract_payment", args=[contract.pk]),
        {
            "amount": "100.00",
            "received_on": now.date().isoformat(),
            "method": "transfer",
            "counts_as_actual": "on",
        },
    )
    contract.refresh_from_db()
    assert contract.paid_amount == D("100.00")
    assert client.get(reverse("sales:receivables")).status_code == 200
    api = client.post(
        "/api/payments/",
        {"contract": contract.pk, "amount": str(contract.amount), "received_on": now.date().isoformat()},
        content_type="application/json",
    )
    assert api.status_code == 400 and "amount" in api.json()
    plan = client.get(f"/api/contracts/{contract.pk}/plan/")
    assert plan.status_code == 200 and plan.json()[0]["paid_amount"] == "100.00"
    client.force_login(org.rep3)
    assert client.get(f"/api/contracts/{contract.pk}/").status_code == 404
    assert client.get(contract.get_absolute_url()).status_code == 404


def test_quote_order_contract_lists_have_a_constant_query_count(org, account, deal, api_for, client_for):  # noqa: F811
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from kehu.core.access import Access

    api, client = api_for(org.manager), client_for(org.manager)

    def add(n):
        for _ in range(n):
            quote = quotes.quote_create(customer=account, opportunity=deal, by=org.rep1)
            quotes.quote_send(quote=quote, by=org.rep1)
            quotes.quote_respond(quote=quote, accepted=True, by=org.rep1)
            orders.order_from_quote(quote=quote, by=org.rep1)
            contracts.contract_create(data={}, quote=quote, by=org.rep1)

    def count(fn) -> int:
        with CaptureQueriesContext(connection) as ctx:
            fn()
        return len(ctx.captured_queries)

    def measure():
        Access.forget(org.manager)
        return tuple(
            count(fn)
            for fn in (
                lambda: api.get("/api/quotes/").json(),
                lambda: api.get("/api/orders/").json(),
                lambda: api.get("/api/contracts/").json(),
                lambda: client.get(reverse("sales:quotes")),
                lambda: client.get(reverse("sales:orders")),
                lambda: client.get(reverse("sales:contracts")),
                lambda: client.get(reverse("sales:receivables")),
            )
        )

    add(1)
    measure()  # warm-up: the API client's user object keeps its portal link (one query, once) afterwards
    few = measure()
    add(4)
    assert measure() == few
