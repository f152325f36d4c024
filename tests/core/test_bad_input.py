"""Bad input answers 4xx with a clear message, never 500 (issue 7 item 6): NUL characters, deep JSON, scalar
bodies, out-of-range offsets, non-numeric ids, a SKU that differs only in case."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from kehu.core.models import CustomField, Tag
from kehu.customers import services
from kehu.customers.models import Customer
from kehu.products.models import Product

pytestmark = pytest.mark.django_db
MODEL = "customers.customer"


@pytest.fixture
def admin_api(admin_user):
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(admin_user)
    return api


@pytest.fixture
def admin_web(admin_user):
    web = Client(raise_request_exception=False)
    web.force_login(admin_user)
    return web


@pytest.fixture
def region(db):
    return CustomField.objects.create(model=MODEL, key="region", label="区域", field_type="text")


@pytest.fixture
def customer(admin_user):
    return services.customer_create(
        data={"kind": "organization", "name": "北京测试科技有限公司"}, by=admin_user
    )


def test_nul_in_a_custom_field_filter_is_400(admin_api, admin_web, region):
    response = admin_api.get("/api/customers/", {"cf_region": "a\x00b"})
    assert response.status_code == 400
    assert "NUL" in response.content.decode()
    page = admin_web.get("/customers/?cf_region=%00")
    assert page.status_code == 400
    assert "NUL" in page.content.decode()


def test_nul_in_any_query_parameter_or_form_field_is_400(admin_api, admin_web):
    assert admin_api.get("/api/customers/?q=%00").status_code == 400
    assert admin_api.get("/api/customers/?x%00y=1").status_code == 400
    assert admin_web.post("/customers/new/", {"kind": "organization", "name": "a\x00b"}).status_code == 400
    assert not Customer.objects.filter(name__contains="a").exists()


def test_nul_in_a_json_body_is_400(admin_api, region, customer):
    response = admin_api.patch(
        f"/api/customers/{customer.pk}/",
        {"custom": {"region": "a\x00b"}},
        format="json",
        HTTP_IF_MATCH=f'"{customer.pk}-{customer.version}"',
    )
    assert response.status_code == 400
    assert "NUL" in response.content.decode()
    response = admin_api.post("/api/customers/", {"kind": "organization", "name": "x\x00"}, format="json")
    assert response.status_code == 400
    customer.refresh_from_db()
    assert customer.custom.get("region") is None


def test_a_deeply_nested_json_body_is_400(admin_api):
    body = "[" * 100_000 + "]" * 100_000
    response = admin_api.post("/api/customers/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


@pytest.mark.parametrize("body", ["1", '"text"', "null", "[1, 2]", "true"])
@pytest.mark.parametrize("method", ["put", "patch", "post"])
def test_a_json_body_that_is_not_an_object_is_400(admin_api, customer, method, body):
    url = "/api/customers/" if method == "post" else f"/api/customers/{customer.pk}/"
    response = getattr(admin_api, method)(
        url, body, content_type="application/json", HTTP_IF_MATCH=f'"{customer.pk}-{customer.version}"'
    )
    assert response.status_code == 400, response.content


@pytest.mark.parametrize("offset", ["+16:00", "-16:00", "+99:00", "+23:59"])
def test_a_datetime_filter_with_an_impossible_offset_is_400(admin_api, offset):
    response = admin_api.get("/api/interactions/", {"since": f"2025-01-01T00:00:00{offset}"})
    assert response.status_code == 400
    assert "since" in response.json()


def test_a_datetime_filter_with_a_possible_offset_works(admin_api):
    assert admin_api.get("/api/interactions/", {"since": "2025-01-01T00:00:00+15:59"}).status_code == 200
    assert admin_api.get("/api/interactions/", {"since": "2025-01-01T00:00:00-15:59"}).status_code == 200


def test_a_non_numeric_merge_id_is_404(admin_api):
    assert admin_api.post("/api/merges/abc/undo/").status_code == 404


@pytest.mark.parametrize(("field", "message"), [("owner", "Choose an active user"), ("tag", "Choose a tag")])
def test_bulk_with_a_non_numeric_owner_or_tag_says_so(admin_web, customer, field, message):
    Tag.objects.create(name="VIP")
    response = admin_web.post(
        "/customers/bulk/", {"ids": [customer.pk], "action": field, field: "abc"}, follow=True
    )
    assert response.status_code == 200
    assert message in " ".join(str(m) for m in response.context["messages"])
    customer.refresh_from_db()
    assert customer.version == 1


def test_a_sku_differing_only_in_case_is_400(admin_api):
    Product.objects.create(sku="ABC-1", name="Pump", currency="CNY")
    response = admin_api.post(
        "/api/products/", {"sku": "abc-1", "name": "Pump 2", "currency": "CNY"}, format="json"
    )
    assert response.status_code == 400
    assert "sku" in response.json()
    assert Product.objects.count() == 1
    other = Product.objects.create(sku="XYZ", name="Valve", currency="CNY")
    response = admin_api.patch(
        f"/api/products/{other.pk}/",
        {"sku": " abc-1 "},
        format="json",
        HTTP_IF_MATCH=f'"{other.pk}-{other.version}"',
    )
    assert response.status_code == 400
    assert "sku" in response.json()


def test_numbers_beyond_64_bits_are_400_or_404(admin_api, customer):
    huge = "499077014161712870326272"
    response = admin_api.get("/api/customers/", {"tags": huge})
    assert response.status_code == 400  # SQLite: out of range; PostgreSQL: not one of the choices
    assert "tags" in response.json() or "out of range" in response.content.decode()
    assert admin_api.get(f"/api/customers/{huge}/").status_code == 404
    assert (
        admin_api.post(
            "/api/interactions/", {"customer": int(huge), "channel": "call", "subject": "x"}, format="json"
        ).status_code
        == 400
    )
