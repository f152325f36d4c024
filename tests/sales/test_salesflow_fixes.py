"""Fixes found by the lead-to-cash browser flow (tests/e2e/test_sales_flow.py), tested at the service/page level."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from kehu.core.models import Notification
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.sales.models import CustomerPool, PoolEvent, RecycleRule
from kehu.sales.services import pools

pytestmark = pytest.mark.django_db


def _stale(name, by, now):
    customer = customer_services.customer_create(data={"name": name}, by=by)
    Customer.objects.filter(pk=customer.pk).update(created_at=now - dt.timedelta(days=60))
    return customer


@pytest.fixture
def rule(org):
    pool = CustomerPool.objects.create(name="华北公海 North pool", department=org.north)
    return RecycleRule.objects.create(
        name="30 天未跟进", pool=pool, department=org.north, no_followup_days=30, warn_days=3
    )


def test_the_recycle_warning_names_the_customers_and_links_a_single_one(org, rule, now):
    # given one stale customer of rep1 and seven of rep2
    lone = _stale("孤岛贸易 Lone Trading", org.rep1, now)
    many = [_stale(f"客户 {n:02d}", org.rep2, now) for n in range(7)]
    # when the rule runs
    assert pools.pools_recycle(now=now)["warned"] == 8
    # then rep1's notification names the customer and opens its page
    note = Notification.objects.get(user=org.rep1)
    assert lone.name in note.body and note.url == reverse("customers:detail", args=[lone.pk])
    # and rep2's names the first five and counts the rest, opening the pools page
    note = Notification.objects.get(user=org.rep2)
    assert all(c.name in note.body for c in many[:5]) and "and 2 more" in note.body
    assert many[6].name not in note.body and note.url == reverse("sales:pools")


def test_the_recycled_notification_names_the_customers_and_opens_the_pool(org, rule, now):
    lone = _stale("孤岛贸易 Lone Trading", org.rep1, now)
    pools.pools_recycle(now=now)
    assert pools.pools_recycle(now=now + dt.timedelta(days=3, minutes=1))["recycled"] == 1
    note = Notification.objects.filter(user=org.rep1).latest("id")
    assert lone.name in note.body and note.url == reverse("sales:pool", args=[rule.pool_id])


# ---------------------------------------------------------------------------------------- quote → contract
from kehu.core.exceptions import BusinessRuleError  # noqa: E402
from kehu.sales.models import Contract, ContractStatus  # noqa: E402
from kehu.sales.services import contracts, orders  # noqa: E402
from tests.sales.test_orders_contracts import accepted  # noqa: E402, F401 - fixtures
from tests.sales.test_quotes import catalogue, deal  # noqa: E402, F401 - fixtures


def test_one_live_contract_per_quote_and_the_order_is_linked_to_it(org, accepted):  # noqa: F811
    # given a contract made from the accepted quote
    contract = contracts.contract_create(data={}, quote=accepted, by=org.rep1)
    # a second one from the same quote is refused, nothing saved
    with pytest.raises(BusinessRuleError, match=contract.number):
        contracts.contract_create(data={}, quote=accepted, by=org.rep1)
    assert Contract.objects.filter(quote=accepted).count() == 1
    # the order from the quote carries the contract
    order = orders.order_from_quote(quote=accepted, by=org.rep1)
    assert order.contract_id == contract.pk


def test_a_rejected_contract_can_be_made_again(org, accepted):  # noqa: F811
    first = contracts.contract_create(data={}, quote=accepted, by=org.rep1)
    Contract.objects.filter(pk=first.pk).update(status=ContractStatus.REJECTED)
    second = contracts.contract_create(data={}, quote=accepted, by=org.rep1)
    assert second.pk != first.pk
    assert orders.order_from_quote(quote=accepted, by=org.rep1).contract_id == second.pk


def test_quote_page_links_its_contract_instead_of_offering_another(org, accepted, client_for):  # noqa: F811
    client = client_for(org.rep1)
    page = client.get(accepted.get_absolute_url()).content.decode()
    assert 'data-testid="make-contract"' in page and 'data-testid="open-contract"' not in page
    contract = contracts.contract_create(data={}, quote=accepted, by=org.rep1)
    page = client.get(accepted.get_absolute_url()).content.decode()
    assert 'data-testid="make-contract"' not in page
    assert 'data-testid="open-contract"' in page and contract.get_absolute_url() in page


# ------------------------------------------------------------------------------- order delivery with serials
from django.core.exceptions import ValidationError  # noqa: E402

from kehu.products.models import InstalledProduct  # noqa: E402
from kehu.sales.models import OrderLine  # noqa: E402


def test_serial_numbers_given_at_delivery_become_one_unit_each(org, accepted):  # noqa: F811
    order = orders.order_from_quote(quote=accepted, by=org.rep1)
    line = order.lines.get()  # 12 units of the catalogue's product
    orders.order_set_status(
        order=order, status="delivered", by=org.manager, serials={line.pk: "SN-1\n SN-2 \n\nSN-3"}
    )
    assert OrderLine.objects.get(pk=line.pk).serial_numbers == "SN-1\nSN-2\nSN-3"
    units = InstalledProduct.objects.filter(customer=order.customer).order_by("serial_number")
    assert list(units.values_list("serial_number", "quantity")) == [("SN-1", 1), ("SN-2", 1), ("SN-3", 1)]


def test_more_serial_numbers_than_the_quantity_or_repeated_ones_are_refused(org, accepted):  # noqa: F811
    order = orders.order_from_quote(quote=accepted, by=org.rep1)
    line = order.lines.get()
    too_many = "\n".join(f"SN-{n}" for n in range(int(line.quantity) + 1))
    for serials in (too_many, "SN-1\nSN-1"):
        with pytest.raises(ValidationError) as exc:
            orders.order_set_status(
                order=order, status="delivered", by=org.manager, serials={line.pk: serials}
            )
        assert "serials" in exc.value.message_dict
        order.refresh_from_db()
        assert order.status == "confirmed" and not InstalledProduct.objects.exists()
        assert OrderLine.objects.get(pk=line.pk).serial_numbers == ""


def test_order_page_asks_the_serial_numbers_before_delivery_and_stores_them(org, accepted, client_for):  # noqa: F811
    order = orders.order_from_quote(quote=accepted, by=org.rep1)
    line = order.lines.get()
    client = client_for(org.manager)
    page = client.get(order.get_absolute_url()).content.decode()
    assert f'name="serials_{line.pk}"' in page
    response = client.post(
        reverse("sales:order_status", args=[order.pk]),
        {"status": "delivered", "note": "", f"serials_{line.pk}": "A-1\nA-2"},
    )
    assert response.status_code == 302
    assert set(InstalledProduct.objects.values_list("serial_number", flat=True)) == {"A-1", "A-2"}
    page = client.get(order.get_absolute_url()).content.decode()
    assert 'name="serials_' not in page  # delivered: nothing more to ask
    # the return form's button no longer carries its long hint (it widened the page on a phone)
    assert "Create return" in page and "Leave the quantities empty" in page


def test_quote_lines_are_labelled_for_phones(org, accepted, client_for):  # noqa: F811
    page = client_for(org.rep1).get(accepted.get_absolute_url()).content.decode()
    assert 'data-label="Quantity"' in page and 'data-label="Total"' in page


# ------------------------------------------------------------------ recycle: organisations and their contacts
from kehu.interactions.models import Interaction  # noqa: E402


def test_a_call_to_a_contact_person_keeps_the_organisation_and_contacts_go_with_it(org, rule, now):
    # given an organisation and its contact person, both held by rep1 for 60 days
    account = _stale("华通机电 Huatong", org.rep1, now)
    contact = customer_services.customer_create(
        data={"name": "王芳 Wang Fang", "kind": "person", "account": account}, by=org.rep1
    )
    Customer.objects.filter(pk=contact.pk).update(created_at=now - dt.timedelta(days=60))
    # when the rep called the contact person last week
    Interaction.objects.create(  # as the timeline records it: on the contact, rolled up to its account
        customer=contact,
        account=account,
        channel="call",
        subject="回访",
        occurred_at=now - dt.timedelta(days=7),
    )
    # then neither is warned: the call is a follow-up of the organisation; the contact is never recycled alone
    assert pools.pools_recycle(now=now)["warned"] == 0
    # a month later without follow-up the organisation is warned, the contact still not on its own
    later = now + dt.timedelta(days=30)
    assert pools.pools_recycle(now=later)["warned"] == 1
    assert list(PoolEvent.objects.values_list("customer_id", flat=True)) == [account.pk]
