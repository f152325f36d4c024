"""The API keeps its documented protocol (issue 7 item 8): DELETE needs If-Match (428), redirects after a form
stay on the site, the OpenAPI schema says what the API does, and date-times are RFC 3339 even before 1901."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
import yaml
from rest_framework.test import APIClient

from kehu.core.models import SavedView
from kehu.customers import services
from kehu.customers.models import Customer

pytestmark = pytest.mark.django_db
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.fixture
def customer(admin_user):
    return services.customer_create(
        data={"kind": "organization", "name": "上海协议测试有限公司"}, by=admin_user
    )


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        return yaml.safe_load(Client().get("/api/schema/").content)


def test_delete_without_if_match_is_428_and_deletes_nothing(api, customer):
    response = api.delete(f"/api/customers/{customer.pk}/")
    assert response.status_code == 428
    assert "If-Match" in response.json()["detail"]
    assert Customer.objects.filter(pk=customer.pk).exists()
    stale = f'"{customer.pk}-{customer.version - 1}"'
    assert api.delete(f"/api/customers/{customer.pk}/", HTTP_IF_MATCH=stale).status_code == 409
    etag = api.get(f"/api/customers/{customer.pk}/")["ETag"]
    assert api.delete(f"/api/customers/{customer.pk}/", HTTP_IF_MATCH=etag).status_code == 204
    assert not Customer.objects.filter(pk=customer.pk).exists()


def test_delete_of_an_opportunity_line_needs_if_match_too(api, admin_user, customer):
    from kehu.products.models import Product

    product = Product.objects.create(sku="P-1", name="Pump", currency="CNY", list_price=100)
    deal = api.post("/api/opportunities/", {"name": "Deal", "customer": customer.pk}, format="json")
    assert deal.status_code == 201, deal.content
    line = api.post(
        "/api/opportunity-lines/", {"opportunity": deal.json()["id"], "product": product.pk}, format="json"
    )
    assert line.status_code == 201, line.content
    url = f"/api/opportunity-lines/{line.json()['id']}/"
    assert api.delete(url).status_code == 428
    assert api.delete(url, HTTP_IF_MATCH=line["ETag"]).status_code == 204


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example/x", "/\\evil.example/x", "\\\\evil.example", "javascript:x"],
)
def test_no_redirect_off_the_site_after_a_saved_view_or_bulk_action(admin_user, client, target):
    client.force_login(admin_user)
    view = SavedView.objects.create(user=admin_user, list_key="customers", name="Mine", query="")
    response = client.post(f"/views/{view.pk}/delete/", {"next": target})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert not SavedView.objects.filter(pk=view.pk).exists()
    response = client.post("/views/save/", {"name": "V", "list_key": "customers", "next": target})
    assert response["Location"] == "/"
    response = client.post("/customers/bulk/", {"ids": [], "action": "tag", "next": target})
    assert response["Location"] == "/customers/"
    response = client.post("/language/", {"language": "en", "next": target})
    assert response["Location"] == "/"


def test_a_redirect_within_the_site_is_kept(admin_user, client):
    client.force_login(admin_user)
    view = SavedView.objects.create(user=admin_user, list_key="customers", name="Mine", query="")
    response = client.post(f"/views/{view.pk}/delete/", {"next": "/customers/?city=%E4%B8%8A%E6%B5%B7"})
    assert response["Location"] == "/customers/?city=%E4%B8%8A%E6%B5%B7"


def test_schema_lists_are_not_paginated_where_the_api_returns_lists(api, schema, customer):
    for path in ("/api/customers/search/", "/api/imports/targets/"):
        body = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert body["type"] == "array", path
    assert isinstance(api.get("/api/customers/search/", {"q": "上海"}).json(), list)
    assert isinstance(api.get("/api/imports/targets/").json(), list)


def test_schema_says_if_match_is_required_and_documents_404_409_428(schema):
    for method in ("put", "patch", "delete"):
        operation = schema["paths"]["/api/customers/{id}/"][method]
        if_match = [p for p in operation["parameters"] if p["name"] == "If-Match"]
        assert if_match and if_match[0]["required"] is True, method
        assert {"404", "409", "428"} <= set(operation["responses"]), method
    assert "404" in schema["paths"]["/api/customers/{id}/"]["get"]["responses"]
    assert "Error" in schema["components"]["schemas"]


def test_date_times_before_1901_are_rfc_3339(api, customer):
    from kehu.interactions.models import Interaction

    old = dt.datetime(1900, 5, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    response = api.post(
        "/api/interactions/",
        {"customer": customer.pk, "channel": "call", "subject": "旧", "occurred_at": old.isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.content
    value = response.json()["occurred_at"]
    assert RFC3339.match(value), value
    assert "+08:05" not in value
    assert dt.datetime.fromisoformat(value.replace("Z", "+00:00")) == old
    stored = Interaction.objects.get(pk=response.json()["id"])
    listed = api.get(f"/api/interactions/{stored.pk}/").json()["occurred_at"]
    assert RFC3339.match(listed), listed
    # today's date-times keep the caller's zone
    recent = api.get(f"/api/customers/{customer.pk}/").json()["created_at"]
    assert recent.endswith("+08:00"), recent


def test_the_api_docs_page_serves_swagger_without_inline_script_or_style(admin_user, client):
    client.force_login(admin_user)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="swagger-ui"' in html and "<style" not in html
    assert "<script>" not in html  # the start-up script comes from a URL (the split view)
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content
