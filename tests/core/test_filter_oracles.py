"""A filter or a sort by a field the reader may not see is an oracle for its value (issue 7 item 3, ADR 0009):
list pages and the API ignore such filters and sorts, while a reader who may see the field still filters and
sorts by it."""

from __future__ import annotations

import pytest

from kehu.core.models import FieldAccess, FieldGrant, Scope
from kehu.customers import services

pytestmark = pytest.mark.django_db

CITIES = {"甲城客户有限公司": "杭州", "乙城客户有限公司": "北京", "丙城客户有限公司": "成都"}


@pytest.fixture
def customers(admin_user):
    return [
        services.customer_create(data={"name": name, "kind": "organization", "city": city}, by=admin_user)
        for name, city in CITIES.items()
    ]


def _reader(make_user, *, hide_city: bool):
    user = make_user("customers.customer", read=Scope.ALL, write=Scope.ALL)
    if hide_city:
        FieldGrant.objects.create(
            role=user.roles.get(), model="customers.customer", field="city", access=FieldAccess.HIDDEN
        )
    return user


def _names_in_page(html: str) -> list[str]:
    return sorted((n for n in CITIES if n in html), key=html.index)


@pytest.mark.parametrize("hide_city", [False, True])
def test_the_list_page_filters_and_sorts_by_a_field_only_for_who_may_see_it(
    customers, make_user, client, hide_city
):
    client.force_login(_reader(make_user, hide_city=hide_city))
    filtered = client.get("/customers/", {"city": "杭州"}).content.decode()
    ascending = _names_in_page(client.get("/customers/", {"sort": "city"}).content.decode())
    descending = _names_in_page(client.get("/customers/", {"sort": "-city"}).content.decode())
    if hide_city:
        assert _names_in_page(filtered) and set(_names_in_page(filtered)) == set(CITIES)  # filter ignored
        assert ascending == descending  # the sort is ignored: the order says nothing about the cities
        assert 'name="city"' not in filtered  # and the filter is not offered
    else:
        assert _names_in_page(filtered) == ["甲城客户有限公司"]
        assert ascending == list(reversed(descending)) and len(ascending) == 3


@pytest.mark.parametrize("hide_city", [False, True])
def test_the_api_filters_by_a_field_only_for_who_may_see_it(customers, make_user, api_for, hide_city):
    api = api_for(_reader(make_user, hide_city=hide_city))
    answer = api.get("/api/customers/", {"city": "杭州"})
    assert answer.status_code == 200
    names = {row["name"] for row in answer.json()["results"]}
    assert names == (set(CITIES) if hide_city else {"甲城客户有限公司"})
    if hide_city:
        assert all("city" not in row for row in answer.json()["results"])
