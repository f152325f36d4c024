"""Products and the installed base: validation, scope through the holding customer, both sides, search, API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kehu.core import records
from kehu.core.dates import add_months
from kehu.core.models import ModelGrant, Scope
from kehu.customers import services as customer_services
from kehu.customers.models import Kind
from kehu.products.models import InstalledProduct, Product

pytestmark = pytest.mark.django_db
ACTIONS = ("view", "add", "change", "delete")


def _with_products(user, read=Scope.ALL):
    role = user.roles.get()
    ModelGrant.objects.create(role=role, model="products.product", can_view=True, read_scope=Scope.ALL)
    ModelGrant.objects.create(
        role=role,
        model="products.installedproduct",
        read_scope=read,
        write_scope=read,
        **{f"can_{a}": True for a in ACTIONS},
    )
    return user


@pytest.fixture
def rep(make_user):
    return _with_products(make_user("customers.customer"))


@pytest.fixture
def product(admin_user):
    return records.record_create(
        model=Product, data={"sku": " ac-200 ", "name": "工业空压机", "warranty_months": 24}, by=admin_user
    )


def unit(by, customer, product, **extra):
    data = {
        "customer": customer,
        "product": product,
        "serial_number": "sn 001",
        "purchase_date": dt.date(2025, 1, 31),
    }
    return records.record_create(model=InstalledProduct, data={**data, **extra}, by=by)


def test_unit_validation_and_warranty_default(rep, product):
    customer = customer_services.customer_create(data={"name": "上海机械有限公司"}, by=rep)
    assert product.sku == "AC-200"
    bought = timezone.localdate() - dt.timedelta(days=100)
    u = unit(rep, customer, product, purchase_date=bought)
    # 24 months of warranty from the purchase date (a month end stays a month end, 29 Feb becomes 28 Feb)
    assert u.serial_number == "SN001" and u.warranty_end == add_months(bought, 24) and u.under_warranty
    expired = unit(
        rep, customer, product, serial_number="OLD1", purchase_date=bought - dt.timedelta(days=800)
    )
    assert not expired.under_warranty
    with pytest.raises(ValidationError) as exc:
        unit(rep, customer, product)
    assert "already has serial number SN001" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        unit(
            rep,
            customer,
            product,
            serial_number="X2",
            purchase_date=timezone.localdate() + dt.timedelta(days=3),
        )
    assert "future" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        unit(rep, customer, product, serial_number="X3", warranty_end=dt.date(2024, 1, 1))
    assert "before the purchase date" in str(exc.value)


def test_units_follow_the_customers_scope_and_need_write_access_to_add(
    rep, make_user, product, client, api_for
):
    other = _with_products(make_user("customers.customer"), read=Scope.OWN)
    theirs = customer_services.customer_create(data={"name": "别人的客户"}, by=other)
    u = unit(other, theirs, product, serial_number="HIDDEN-1")
    with pytest.raises(Http404):
        unit(rep, theirs, product, serial_number="X9")
    client.force_login(rep)
    assert client.get(f"/products/units/{u.pk}/").status_code == 404
    assert "HIDDEN-1" not in client.get("/products/units/").content.decode()
    assert "HIDDEN-1" not in client.get("/search/", {"q": "HIDDEN"}).content.decode()
    assert api_for(rep).get(f"/api/installed-products/{u.pk}/").status_code == 404
    # product page lists only holders the user may see
    page = client.get(f"/products/{product.pk}/").content.decode()
    assert "别人的客户" not in page
    # a reader without write access on the customer cannot attach units to it
    viewer = _with_products(make_user("customers.customer", read=Scope.ALL, write=Scope.OWN))
    with pytest.raises(PermissionDenied):
        unit(viewer, theirs, product, serial_number="X10")
    assert InstalledProduct.objects.count() == 1


def test_visible_from_both_sides_and_panel_query_count(rep, product, client):
    account = customer_services.customer_create(data={"name": "杭州博雅电子有限公司"}, by=rep)
    contact = customer_services.customer_create(
        data={"name": "周杰", "kind": Kind.PERSON, "account": account}, by=rep
    )
    unit(rep, account, product, serial_number="A-1")
    client.force_login(rep)
    url = f"/customers/{account.pk}/"
    with CaptureQueriesContext(connection) as few:
        page = client.get(url).content.decode()
    assert "A-1" in page
    for i in range(10):
        unit(rep, contact, product, serial_number=f"C-{i}")
    with CaptureQueriesContext(connection) as many:
        page = client.get(url).content.decode()
    assert "C-9" in page and "周杰" in page
    assert len(many.captured_queries) == len(few.captured_queries)
    product_page = client.get(f"/products/{product.pk}/").content.decode()
    assert "杭州博雅电子有限公司" in product_page and "周杰" in product_page
    found = client.get("/search/", {"q": "c-9", "partial": "1"}).content.decode()
    assert "C-9" in found


def test_api_create_and_locking(rep, product, api_for):
    customer = customer_services.customer_create(data={"name": "API 客户"}, by=rep)
    api = api_for(rep)
    created = api.post(
        "/api/installed-products/",
        {
            "customer": customer.pk,
            "product": product.pk,
            "serial_number": "api-1",
            "purchase_date": (timezone.localdate() - dt.timedelta(days=30)).isoformat(),
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    bought = timezone.localdate() - dt.timedelta(days=30)
    assert body["serial_number"] == "API-1" and body["warranty_end"] == add_months(bought, 24).isoformat()
    bad = api.post(
        "/api/installed-products/",
        {"customer": customer.pk, "product": product.pk, "serial_number": "api-1"},
        format="json",
    )
    assert bad.status_code == 400 and "serial_number" in bad.json()
    etag = created["ETag"]
    assert (
        api.patch(
            f"/api/installed-products/{body['id']}/",
            {"status": "in_repair"},
            format="json",
            HTTP_IF_MATCH=etag,
        ).status_code
        == 200
    )
    assert (
        api.patch(
            f"/api/installed-products/{body['id']}/", {"status": "retired"}, format="json", HTTP_IF_MATCH=etag
        ).status_code
        == 409
    )
    assert api.get("/api/installed-products/", {"serial": "api"}).json()["count"] == 1


def test_under_warranty_is_judged_on_the_users_day(rep, product, frozen_clock):
    """At 16:30 UTC it is already the next day in Shanghai: a warranty ending 'today' in UTC has ended there."""
    from zoneinfo import ZoneInfo

    frozen_clock.move_to(dt.datetime(2026, 5, 20, 16, 30, tzinfo=dt.UTC))
    customer = customer_services.customer_create(data={"name": "边界客户"}, by=rep)
    u = unit(rep, customer, product, purchase_date=dt.date(2025, 5, 20), warranty_end=dt.date(2026, 5, 20))
    with timezone.override(ZoneInfo("Asia/Shanghai")):
        assert timezone.localdate() == dt.date(2026, 5, 21) and not u.under_warranty
    with timezone.override(ZoneInfo("UTC")):
        assert u.under_warranty
