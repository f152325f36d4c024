"""Custom fields end to end, ownership transfer, saved views, bulk actions, hostile input, secrets in logs,
query counts of list pages."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.core.logging import RedactSecretsFilter, redact
from kehu.core.models import AuditEntry, CustomField, SavedView, Scope, Tag
from kehu.core.services import ownership_transfer
from kehu.customers import services
from kehu.customers.models import Customer

pytestmark = pytest.mark.django_db
MODEL = "customers.customer"
ALL = ("view", "add", "change", "delete", "export", "transfer")


@pytest.fixture
def fields():
    return [
        CustomField.objects.create(
            model=MODEL, key="region_code", label="区域代码", field_type="text", show_in_list=True
        ),
        CustomField.objects.create(model=MODEL, key="employees", label="员工数", field_type="number"),
        CustomField.objects.create(model=MODEL, key="signed_on", label="签约日期", field_type="date"),
        CustomField.objects.create(
            model=MODEL, key="tier", label="等级", field_type="choice", choices=["A", "B"]
        ),
        CustomField.objects.create(model=MODEL, key="vip", label="重点", field_type="boolean"),
    ]


def test_custom_fields_in_form_list_filter_api_export(make_user, client, api_for, fields):
    rep = make_user(MODEL, actions=ALL)
    client.force_login(rep)
    form = client.get("/customers/new/")
    assert {"cf_region_code", "cf_employees", "cf_signed_on", "cf_tier", "cf_vip"} <= set(
        form.context["form"].fields
    )
    base = {
        "kind": "organization",
        "name": "自定义字段公司",
        "customer_type": "business",
        "lifecycle_stage": "prospect",
    }
    bad = client.post(
        "/customers/new/", {**base, "cf_employees": "很多", "cf_tier": "Z", "cf_signed_on": "昨天"}
    )
    assert bad.status_code == 400
    errors = bad.context["form"].errors
    assert {"cf_employees", "cf_tier", "cf_signed_on"} <= set(errors)
    assert not Customer.objects.exists()
    ok = client.post(
        "/customers/new/",
        {
            **base,
            "cf_region_code": "N-01",
            "cf_employees": "120",
            "cf_signed_on": "2025-03-01",
            "cf_tier": "A",
            "cf_vip": "on",
        },
    )
    assert ok.status_code == 302
    c = Customer.objects.get()
    assert c.custom == {
        "region_code": "N-01",
        "employees": 120,
        "signed_on": "2025-03-01",
        "tier": "A",
        "vip": True,
    }
    listing = client.get("/customers/").content.decode()
    assert "区域代码" in listing and "N-01" in listing
    assert "自定义字段公司" in client.get("/customers/", {"cf_tier": "A"}).content.decode()
    assert "自定义字段公司" not in client.get("/customers/", {"cf_tier": "B"}).content.decode()
    api = api_for(rep)
    assert api.get(f"/api/customers/{c.pk}/").json()["custom"]["employees"] == 120
    refused = api.patch(
        f"/api/customers/{c.pk}/",
        {"custom": {"employees": "x", "nope": 1}},
        format="json",
        HTTP_IF_MATCH=f'"{c.pk}-1"',
    )
    assert refused.status_code == 400 and "custom.employees" in refused.json() and "custom" in refused.json()
    exported = b"".join(client.get("/customers/?export=csv").streaming_content).decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(exported)))[:2]
    assert "员工数" in header and "120" in row


def test_transfer_moves_records_with_history(make_user, admin_user, client):
    leaving = make_user(MODEL, actions=ALL)
    successor = make_user(MODEL, actions=ALL)
    customers = [services.customer_create(data={"name": f"交接客户{i}"}, by=leaving) for i in range(3)]
    client.force_login(admin_user)
    response = client.post(
        "/settings/transfer/", {"from_user": leaving.pk, "to_user": successor.pk, "deactivate": "on"}
    )
    assert response.status_code == 302
    assert set(Customer.objects.values_list("owner", flat=True)) == {successor.pk}
    assert AuditEntry.objects.filter(action="transfer").count() == 3
    assert AuditEntry.objects.filter(object_id=str(customers[0].pk), action="create").exists()  # history kept
    leaving.refresh_from_db()
    assert not leaving.is_active
    bad = client.post("/settings/transfer/", {"from_user": successor.pk, "to_user": successor.pk})
    assert "different user" in bad.content.decode()


def test_transfer_needs_the_right(make_user):
    rep = make_user(MODEL, actions=("view", "add"))
    other = make_user(MODEL)
    services.customer_create(data={"name": "不可转移"}, by=rep)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        ownership_transfer(from_user=rep, to_user=other, by=rep)
    assert Customer.objects.get().owner == rep


def test_saved_views_private_and_shared(make_user, client):
    a = make_user(MODEL)
    b = make_user(MODEL)
    client.force_login(a)
    client.post(
        "/views/save/",
        {"name": "我的私有视图", "list_key": MODEL, "query": "lifecycle_stage=loyal", "next": "/customers/"},
    )
    client.post(
        "/views/save/",
        {
            "name": "团队共享视图",
            "list_key": MODEL,
            "query": "city=上海",
            "shared": "on",
            "next": "/customers/",
        },
    )
    assert SavedView.objects.count() == 2
    client.force_login(b)
    page = client.get("/customers/").content.decode()
    assert "团队共享视图" in page and "我的私有视图" not in page


def test_bulk_tag_and_owner(make_user, client):
    manager = make_user(MODEL, actions=ALL, read=Scope.ALL, write=Scope.ALL)
    rep = make_user(MODEL)
    tag = Tag.objects.create(name="展会")
    cs = [services.customer_create(data={"name": f"批量{i}"}, by=manager) for i in range(3)]
    client.force_login(manager)
    client.post("/customers/bulk/", {"ids": [c.pk for c in cs[:2]], "action": "tag", "tag": tag.pk})
    assert set(tag.customers.values_list("name", flat=True)) == {"批量0", "批量1"}
    client.post("/customers/bulk/", {"ids": [cs[2].pk], "action": "owner", "owner": rep.pk})
    assert Customer.objects.get(pk=cs[2].pk).owner == rep


@pytest.mark.parametrize(
    "name",
    [
        "<script>alert('x')</script>",
        "Robert'); DROP TABLE customers_customer;--",
        "\u202egnp.exe",
        '=HYPERLINK("http://evil.example","click")',
    ],
)
def test_hostile_strings_are_stored_escaped_and_neutralised(make_user, client, name):
    rep = make_user(MODEL, actions=ALL)
    c = services.customer_create(data={"name": name}, by=rep)
    client.force_login(rep)
    page = client.get(f"/customers/{c.pk}/").content.decode()
    assert "<script>alert" not in page
    exported = b"".join(client.get("/customers/?export=csv").streaming_content).decode("utf-8-sig")
    first_cell = list(csv.reader(io.StringIO(exported)))[1][0]
    assert not first_cell.startswith(("=", "+", "@"))
    assert Customer.objects.count() == 1


def test_overlong_input_gets_a_clear_error_and_nothing_is_saved(make_user, client):
    rep = make_user(MODEL, actions=ALL)
    client.force_login(rep)
    response = client.post(
        "/customers/new/",
        {
            "kind": "organization",
            "name": "长" * 10_000,
            "customer_type": "business",
            "lifecycle_stage": "prospect",
        },
    )
    assert response.status_code == 400 and "at most 200 characters" in response.content.decode()
    assert not Customer.objects.exists()


def test_secrets_never_reach_the_logs(caplog):
    assert redact("login password=hunter2 ok") == "login password=*** ok"
    assert "abc123" not in redact('{"Authorization": "Token abc123"}') or "Token" in redact(
        "Authorization: x"
    )
    logger = logging.getLogger("kehu.test")
    logger.addFilter(RedactSecretsFilter())
    with caplog.at_level(logging.WARNING):
        logger.warning("failed login with password=%s token=%s", "s3cret", "tok-999")
    assert "s3cret" not in caplog.text and "tok-999" not in caplog.text


def test_list_page_and_api_use_a_constant_number_of_queries(make_user, client, api_for):
    rep = make_user(MODEL, actions=ALL)
    tag = Tag.objects.create(name="批量")

    def make(n):
        for i in range(n):
            c = services.customer_create(
                data={
                    "name": f"查询数{Customer.objects.count()}-{i}",
                    "phone": f"1380000{Customer.objects.count():04d}",
                },
                by=rep,
            )
            c.tags.add(tag)

    client.force_login(rep)
    api = api_for(rep)
    make(3)
    client.get("/customers/")  # warm the per-request caches (content types, ...)
    api.get("/api/customers/")
    with CaptureQueriesContext(connection) as few_page:
        client.get("/customers/")
    with CaptureQueriesContext(connection) as few_api:
        api.get("/api/customers/")
    make(20)
    with CaptureQueriesContext(connection) as many_page:
        client.get("/customers/")
    with CaptureQueriesContext(connection) as many_api:
        api.get("/api/customers/")
    assert len(many_page.captured_queries) == len(few_page.captured_queries)
    assert len(many_api.captured_queries) == len(few_api.captured_queries)


def test_custom_field_filters_are_inputs_of_their_type_keeping_the_current_value(make_user, client, fields):
    import re

    rep = make_user(MODEL, actions=ALL)
    client.force_login(rep)
    page = client.get("/customers/", {"cf_tier": "B", "cf_signed_on": "2025-03-01"}).content.decode()
    assert "None" not in re.findall(r'<label class="filter">.*?</label>', page, re.S).__str__()
    tier = re.search(r'<select name="cf_tier">(.*?)</select>', page, re.S).group(1)
    assert '<option value="B" selected>B</option>' in tier and '<option value="A">A</option>' in tier
    vip = re.search(r'<select name="cf_vip">(.*?)</select>', page, re.S).group(1)
    assert 'value="true"' in vip and 'value="false"' in vip and "selected" not in vip
    assert '<input type="date" name="cf_signed_on" value="2025-03-01">' in page
    assert '<input type="number" step="any" name="cf_employees" value="">' in page
    assert '<input name="cf_region_code" value="">' in page
