"""Configurable forms and lists per record type and role (issue #13 item 3, ADR 0025): sections and order,
required, read-only, help texts, list columns and default filters — on the generic form, detail and list pages
and in the API's validation; administrators only, audited; and a layout never shows what the field rights hide."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from kehu.core import layouts
from kehu.core.models import AuditEntry, FormLayout
from kehu.customers.models import Customer
from kehu.products.models import Product
from tests.factories import UserFactory
from tests.sales.conftest import demo_role

PRODUCT_LAYOUT = {
    "sections": [
        {"title": "价格 Pricing", "fields": ["list_price", "currency"]},
        {"title": "基本 Basics", "fields": ["name", "sku"]},
    ],
    "required": ["description"],
    "readonly": ["warranty_months"],
    "help_texts": {"list_price": "含税价 Price incl. VAT"},
    "list_columns": ["name", "list_price"],
    "default_filters": {"active": "true"},
}


@pytest.fixture
def admin(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def marketer(db):
    user = UserFactory(username="mkt")
    user.roles.add(demo_role("marketer"))  # products: view/add/change; customers: notes and tax_id hidden
    return user


@pytest.fixture
def product(db):
    return Product.objects.create(sku="P-1", name="净水器 A1", list_price=Decimal("999"), warranty_months=12)


def test_the_form_page_follows_the_layout_of_the_users_role(admin, marketer, product, client_for):
    layouts.layout_save(model="products.product", role=demo_role("marketer"), data=PRODUCT_LAYOUT, by=admin)
    client = client_for(marketer)
    page = client.get(f"/products/{product.pk}/edit/").content.decode()
    assert page.count('data-testid="form-section"') == 3  # two sections + the other fields
    assert page.index("价格 Pricing") < page.index('name="list_price"') < page.index('name="name"')
    assert "含税价 Price incl. VAT" in page
    # required: the save without a description is refused with the field's error, nothing written
    data = {"sku": "P-1", "name": "净水器 A2", "unit": "pcs", "list_price": "999", "currency": "CNY",
            "warranty_months": "36", "active": "on", "version": product.version}  # fmt: skip
    refused = client.post(f"/products/{product.pk}/edit/", data)
    assert refused.status_code == 400
    product.refresh_from_db()
    assert product.name == "净水器 A1"
    # read-only: the posted warranty is ignored
    done = client.post(f"/products/{product.pk}/edit/", {**data, "description": "三级过滤"})
    assert done.status_code == 302
    product.refresh_from_db()
    assert product.name == "净水器 A2" and product.warranty_months == 12 and product.description == "三级过滤"
    # detail: the rows in the layout's sections
    detail = client.get(f"/products/{product.pk}/").content.decode()
    assert detail.count('data-testid="detail-section"') == 3
    # someone of another role: no layout, the page's own order
    other = UserFactory(username="exec")
    other.roles.add(demo_role("executive"))
    assert (
        'data-testid="detail-section"'
        not in client_for(other).get(f"/products/{product.pk}/").content.decode()
    )


def test_the_list_takes_the_layouts_columns_and_default_filters(admin, marketer, product, client_for):
    Product.objects.create(sku="P-2", name="旧型号", active=False)
    layouts.layout_save(model="products.product", role=None, data=PRODUCT_LAYOUT, by=admin)
    client = client_for(marketer)
    opened = client.get("/products/")
    assert opened.status_code == 302 and opened["Location"] == "/products/?active=true"
    page = client.get("/products/?active=true").content.decode()
    assert "净水器 A1" in page and "旧型号" not in page
    header = page[page.index("<thead") : page.index("</thead>")]
    assert "SKU" not in header and header.index("name") < header.index("list_price")
    # the user clears the filters: no redirect again
    assert client.get("/products/?active=").status_code == 200


def test_the_api_validates_required_and_read_only_fields_of_the_layout(admin, marketer, product, api_for):
    layouts.layout_save(model="products.product", role=demo_role("marketer"), data=PRODUCT_LAYOUT, by=admin)
    api = api_for(marketer)
    missing = api.post("/api/products/", {"sku": "P-9", "name": "新品"}, format="json")
    assert missing.status_code == 400 and "description" in missing.json()
    assert not Product.objects.filter(sku="P-9").exists()
    made = api.post("/api/products/", {"sku": "P-9", "name": "新品", "description": "说明"}, format="json")
    assert made.status_code == 201
    etag = {"HTTP_IF_MATCH": f'"{product.pk}-{product.version}"'}
    locked = api.patch(f"/api/products/{product.pk}/", {"warranty_months": 48}, format="json", **etag)
    assert locked.status_code == 400 and "warranty_months" in locked.json()
    emptied = api.patch(f"/api/products/{product.pk}/", {"description": ""}, format="json", **etag)
    assert emptied.status_code == 400 and "description" in emptied.json()
    same = api.patch(
        f"/api/products/{product.pk}/", {"warranty_months": 12, "name": "A3"}, format="json", **etag
    )
    assert same.status_code == 200


def test_a_layout_never_shows_a_field_the_role_may_not_see(admin, marketer, client_for, api_for):
    """The marketer's field rights hide a customer's notes and tax id. A layout for everyone puts both first,
    requires the tax id, adds them as list columns and filters on the notes: none of it reaches the marketer
    (form, list, API), and the marketer can still create customers."""
    layouts.layout_save(
        model="customers.customer",
        role=None,
        data={
            "sections": [{"title": "机密 Secret", "fields": ["tax_id", "notes", "name"]}],
            "required": ["tax_id"],
            "help_texts": {"notes": "内部备注 internal"},
            "list_columns": ["tax_id", "notes", "name"],
            "default_filters": {"notes__icontains": "秘"},
        },
        by=admin,
    )
    Customer.objects.create(name="秘密客户", owner=marketer, notes="秘密备注", tax_id="91310000SECRET")
    client = client_for(marketer)
    form = client.get("/customers/new/").content.decode()
    assert 'name="tax_id"' not in form and 'name="notes"' not in form and "内部备注" not in form
    listed = client.get("/customers/")
    assert listed.status_code == 200  # the default filter is on a hidden field: not applied
    page = client.get("/customers/?q=").content.decode()
    assert "91310000SECRET" not in page and "秘密备注" not in page
    api = api_for(marketer)
    created = api.post("/api/customers/", {"name": "新客户"}, format="json")
    assert created.status_code == 201 and "tax_id" not in created.json()
    row = api.get(f"/api/customers/{created.json()['id']}/").json()
    assert "tax_id" not in row and "notes" not in row
    # a role-specific layout may not even require or filter on what the role cannot see
    with pytest.raises(ValidationError) as caught:
        layouts.layout_save(
            model="customers.customer",
            role=demo_role("marketer"),
            data={"required": ["tax_id"], "default_filters": {"notes": "x"}},
            by=admin,
        )
    assert set(caught.value.message_dict) == {"required", "default_filters"}
    preview = layouts.preview(
        "customers.customer", demo_role("marketer"), {"sections": [{"fields": ["tax_id"]}]}
    )
    names = [f["name"] for s in preview["sections"] for f in s["fields"]]
    assert "tax_id" not in names and "notes" not in names


def test_bad_layouts_are_refused_per_input_and_only_administrators_keep_them(admin, marketer):
    bad = {
        "sections": [{"title": "A", "fields": ["name", "nope"]}, {"title": "B", "fields": ["name"]}],
        "required": ["sku"],
        "readonly": ["sku"],
        "help_texts": {"name": "x" * 301},
        "list_columns": ["ghost"],
        "default_filters": {"ghost": "1"},
    }
    with pytest.raises(ValidationError) as caught:
        layouts.layout_save(model="products.product", role=None, data=bad, by=admin)
    assert set(caught.value.message_dict) == {
        "sections", "required", "help_texts", "list_columns", "default_filters",
    }  # fmt: skip
    assert not FormLayout.objects.exists()
    with pytest.raises(ValidationError):
        layouts.layout_save(model="no.such", role=None, data={}, by=admin)
    with pytest.raises(PermissionDenied):
        layouts.layout_save(model="products.product", role=None, data={}, by=marketer)


def test_layout_changes_are_audited(admin):
    row = layouts.layout_save(model="products.product", role=None, data=PRODUCT_LAYOUT, by=admin)
    row = layouts.layout_save(
        model="products.product", role=None, data={**PRODUCT_LAYOUT, "required": []}, by=admin, instance=row
    )
    layouts.layout_delete(layout=row, by=admin)
    entries = list(AuditEntry.objects.filter(model="core.formlayout").order_by("id"))
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert entries[1].changes["required"] == [["description"], []]


def test_the_editor_previews_then_saves_and_refuses_non_admins(admin, marketer, client_for):
    role = demo_role("marketer")
    client = client_for(admin)
    assert client.get("/settings/layouts/").status_code == 200
    post = {"model": "products.product", "role": str(role.pk), "priority": "10",
            "section:name": "基本", "pos:name": "1", "section:sku": "基本", "pos:sku": "2",
            "req:description": "on", "help:name": "产品全称", "col:name": "1", "col:sku": "2",
            "default_filters": "active=true"}  # fmt: skip
    shown = client.post("/settings/layouts/new/?model=products.product", {**post, "preview": "1"})
    assert shown.status_code == 200 and "产品全称" in shown.content.decode()
    assert not FormLayout.objects.exists()  # a preview saves nothing
    saved = client.post("/settings/layouts/new/?model=products.product", {**post, "save": "1"})
    row = FormLayout.objects.get()
    assert saved.status_code == 302 and row.role == role and row.priority == 10
    assert row.sections == [{"title": "基本", "fields": ["name", "sku"]}]
    assert row.list_columns == ["name", "sku"] and row.default_filters == {"active": "true"}
    wrong = client.post(f"/settings/layouts/{row.pk}/", {**post, "ro:description": "on", "save": "1"})
    assert wrong.status_code == 400 and 'data-field="required"' in wrong.content.decode()
    assert client_for(marketer).get("/settings/layouts/").status_code == 403
