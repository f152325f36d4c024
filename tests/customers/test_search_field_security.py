"""Field-level security holds in search (issue 7 item 3, ADR 0009): a field a role may not see never makes a
customer match — not by its whole value, not by a prefix — while the fields it may see still do. Runs on the
database under test (SQLite FTS5 or PostgreSQL GIN)."""

from __future__ import annotations

import pytest

from kehu.core.models import FieldAccess, FieldGrant, Scope
from kehu.customers import services
from kehu.customers.models import Customer
from kehu.customers.search import customer_search, filter_customers

pytestmark = pytest.mark.django_db

TAX_ID = "91526100MA7Q3KX2Y8"
VALUES = {
    "name": "云南滇红茶业有限公司",
    "alias": "Dianhong Tea Works",
    "phone": "13987651234",
    "email": "buyer@dianhong-tea.example",
    "tax_id": TAX_ID,
}
# field → queries that find the customer by that field alone
QUERIES = {
    "name": ["滇红茶业", "yunnan", "dhcy"],
    "alias": ["works"],
    "phone": ["1398765", "51234", "139-8765-1234"],
    "email": ["buyer@dianhong", "dianhong-tea.example"],
    "tax_id": [TAX_ID, "915261", "91526100ma7"],
}


def _user(make_user, hidden=()):
    user = make_user("customers.customer", read=Scope.ALL, write=Scope.ALL)
    role = user.roles.get()
    for fname in hidden:
        FieldGrant.objects.create(
            role=role, model="customers.customer", field=fname, access=FieldAccess.HIDDEN
        )
    return user


@pytest.fixture
def customer(admin_user):
    return services.customer_create(data=dict(VALUES), by=admin_user)


def _found_everywhere(user, client, api_for, q) -> list[bool]:
    """Whether the customer is found by q through every search door: the ranked search, the list filter, the
    API filter, the API search, the global search page."""
    client.force_login(user)
    api = api_for(user)
    customer_id = Customer.objects.get(name=VALUES["name"]).pk
    return [
        any(c.name == VALUES["name"] for c in customer_search(user=user, q=q)),
        VALUES["name"] in client.get("/customers/", {"q": q}).content.decode(),
        api.get("/api/customers/", {"q": q}).json()["count"] == 1,
        any(r["id"] == customer_id for r in api.get("/api/customers/search/", {"q": q}).json()),
        VALUES["name"] in client.get("/search/", {"q": q}).content.decode(),
    ]


@pytest.mark.parametrize("field", list(QUERIES))
def test_a_hidden_field_never_matches_a_visible_one_does(field, customer, make_user, client, api_for):
    hiding = _user(make_user, hidden=[field])
    seeing = _user(make_user)
    for q in QUERIES[field]:
        assert _found_everywhere(seeing, client, api_for, q) == [True] * 5, q
        if field == "name":
            # the name is the record's title on every page; the search doors by name stay shut
            assert not any(c.pk == customer.pk for c in customer_search(user=hiding, q=q)), q
            assert api_for(hiding).get("/api/customers/", {"q": q}).json()["count"] == 0, q
            continue
        assert _found_everywhere(hiding, client, api_for, q) == [False] * 5, q


def test_tax_id_cannot_be_recovered_by_extending_a_prefix(customer, make_user, api_for):
    """The attack of the review: extend a prefix one character at a time while the customer is returned."""
    agent = _user(make_user, hidden=["tax_id"])
    api = api_for(agent)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    prefix = "9152"
    for _ in range(4):
        hits = [ch for ch in alphabet if api.get("/api/customers/", {"q": prefix + ch}).json()["count"]]
        assert hits == []
        prefix += TAX_ID[len(prefix)]
    # the same requests by a role that sees the tax id do find it
    assert api_for(_user(make_user)).get("/api/customers/", {"q": prefix}).json()["count"] == 1


def test_grants_add_up_and_a_query_may_mix_visible_fields(customer, make_user):
    agent = _user(make_user, hidden=["tax_id", "email"])
    # name + phone in one query: both visible
    assert [c.pk for c in customer_search(user=agent, q="滇红 51234")] == [customer.pk]
    # name + hidden tax id: the tax id group cannot match
    assert customer_search(user=agent, q="滇红 915261") == []
    # a second role without the restriction lifts it (the most permissive role wins)
    from tests.factories import RoleFactory, grant

    role = RoleFactory()
    grant(role, "customers.customer", ("view",), Scope.ALL, Scope.NONE)
    agent.roles.add(role)
    from kehu.core.access import Access

    Access.forget(agent)
    assert [c.pk for c in customer_search(user=agent, q="915261")] == [customer.pk]


def test_internal_callers_without_a_user_search_the_shared_bag_only(customer):
    assert list(filter_customers(Customer.objects.all(), "滇红茶业")) == [customer]
    assert list(filter_customers(Customer.objects.all(), "915261")) == []


def test_restricted_tokens_are_tagged_and_kept_out_of_the_shared_bag(customer):
    customer.refresh_from_db()
    assert "915261" not in customer.search_text and "1398765" not in customer.search_text
    assert f"tax_id+{TAX_ID.lower()}" in customer.search_restricted.split()
    assert "phone+13987651234" in customer.search_restricted.split()
    # a user typing a tag searches the shared bag, where no tagged token is
    assert "+" not in customer.search_text
