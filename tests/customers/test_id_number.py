"""The resident ID number: entered on the person form (checksum validated), stored only as keyed hash and
masked form, and hidden with its field grant."""

from __future__ import annotations

import pytest

from kehu.core.access import Access
from kehu.core.models import FieldGrant, Scope
from kehu.customers import identity
from kehu.customers.models import Customer

pytestmark = pytest.mark.django_db
ALL = ("view", "add", "change", "delete", "export", "transfer")

NUMBER = "11010519491231002X"
PERSON = {"kind": "person", "name": "张三", "customer_type": "consumer", "lifecycle_stage": "prospect"}


@pytest.fixture
def manager(make_user):
    return make_user("customers.customer", actions=ALL, read=Scope.ALL, write=Scope.ALL)


def test_person_form_stores_hash_and_masked_form_only(manager, client):
    client.force_login(manager)
    bad = client.post("/customers/new/", {**PERSON, "id_number": "110105194912310021"})
    assert bad.status_code == 400 and "check digit" in bad.content.decode()
    ok = client.post("/customers/new/", {**PERSON, "id_number": "110105 19491231 002x"})
    assert ok.status_code == 302, ok.content.decode()[:2000]
    customer = Customer.objects.get()
    assert customer.id_number_masked == "1101**********002X"
    assert customer.id_number_hash == identity.digest(NUMBER)
    row = Customer.objects.filter(pk=customer.pk).values().get()
    assert NUMBER not in str(row) and NUMBER.lower() not in str(row)
    page = client.get(customer.get_absolute_url()).content.decode()
    assert "1101**********002X" in page and NUMBER not in page
    # left empty on edit: the stored number stays
    edit = client.get(f"/customers/{customer.pk}/edit/").content.decode()
    assert 'name="id_number"' in edit and NUMBER not in edit
    data = {**PERSON, "name": "张三丰", "version": customer.version}
    assert client.post(f"/customers/{customer.pk}/edit/", data).status_code == 302
    customer.refresh_from_db()
    assert customer.name == "张三丰" and customer.id_number_hash == identity.digest(NUMBER)


def test_hidden_id_number_is_neither_shown_nor_entered(manager, client):
    FieldGrant.objects.create(
        role=manager.roles.get(), model="customers.customer", field="id_number_masked", access="hidden"
    )
    Access.forget(manager)
    client.force_login(manager)
    assert 'name="id_number"' not in client.get("/customers/new/").content.decode()
    assert client.post("/customers/new/", {**PERSON, "id_number": NUMBER}).status_code == 302
    customer = Customer.objects.get()
    assert customer.id_number_hash == "" and customer.id_number_masked == ""


def test_search_by_full_id_number_respects_the_field_grant(manager):
    from kehu.customers import services
    from kehu.customers.search import customer_search

    found = services.customer_create(
        data={**PERSON, "id_number_hash": identity.digest(NUMBER), "id_number_masked": identity.mask(NUMBER)},
        by=manager,
    )
    services.customer_create(data={**PERSON, "name": "李四"}, by=manager)
    assert [c.pk for c in customer_search(user=manager, q="11010519491231002x")] == [found.pk]
    assert customer_search(user=manager, q="110105194912310021") == []  # wrong check digit: plain text
    FieldGrant.objects.create(
        role=manager.roles.get(), model="customers.customer", field="id_number_masked", access="hidden"
    )
    Access.forget(manager)
    assert customer_search(user=manager, q=NUMBER) == []
