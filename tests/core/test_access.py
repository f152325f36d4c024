"""Object-, record- and field-level access: default deny, additive roles, scopes, write scope, 404 everywhere."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from kehu.core.access import Access
from kehu.core.models import AuditEntry, FieldGrant, ModelGrant, Scope
from kehu.customers import services
from kehu.customers.models import Customer
from tests.factories import DepartmentFactory, RoleFactory, TeamFactory, UserFactory, grant

pytestmark = pytest.mark.django_db
MODEL = "customers.customer"


def customer(owner, name):
    return services.customer_create(data={"name": name}, by=owner)


def test_default_deny(client, api_for):
    nobody = UserFactory()
    owner = UserFactory(is_superuser=True)
    c = customer(owner, "无权限可见公司")
    access = Access.of(nobody)
    assert not access.can("view", Customer) and not access.filter(Customer.objects.all()).exists()
    client.force_login(nobody)
    assert client.get("/customers/").status_code == 403
    assert client.get(f"/customers/{c.pk}/").status_code == 403
    assert api_for(nobody).get("/api/customers/").status_code == 403


def test_roles_add_up_actions_and_widest_scope():
    user = UserFactory()
    narrow, wide = RoleFactory(), RoleFactory()
    grant(narrow, MODEL, ("view", "add"), Scope.OWN, Scope.OWN)
    grant(wide, MODEL, ("view", "export"), Scope.ALL, Scope.NONE)
    user.roles.add(narrow, wide)
    g = Access.of(user).grant(MODEL)
    assert g.actions == {"view", "add", "export"}
    assert g.read_scope == Scope.ALL and g.write_scope == Scope.OWN


def test_scopes_own_team_department_all():
    root = DepartmentFactory(name="总部")
    sales = DepartmentFactory(name="销售", parent=root)
    north = DepartmentFactory(name="华北", parent=sales)
    other_dept = DepartmentFactory(name="市场", parent=root)
    me = UserFactory(department=sales)
    teammate = UserFactory(department=other_dept)
    below = UserFactory(department=north)
    stranger = UserFactory(department=other_dept)
    team = TeamFactory()
    team.members.add(me, teammate)
    admin = UserFactory(is_superuser=True)
    owned = {u: customer(admin, f"{u.username}的客户") for u in (me, teammate, below, stranger)}
    Customer.objects.filter(pk__in=[c.pk for c in owned.values()]).update(owner=None)
    for u, c in owned.items():
        Customer.objects.filter(pk=c.pk).update(owner=u)
    role = RoleFactory()
    me.roles.add(role)
    expected = {
        Scope.OWN: {me},
        Scope.TEAM: {me, teammate},
        Scope.DEPARTMENT: {me, below},
        Scope.ALL: {me, teammate, below, stranger},
    }
    for scope, owners in expected.items():
        ModelGrant.objects.filter(role=role).delete()
        grant(role, MODEL, ("view",), scope, Scope.NONE)
        Access.forget(me)
        seen = set(Access.of(me).filter(Customer.objects.all()).values_list("owner__username", flat=True))
        assert seen == {u.username for u in owners}, scope


def test_out_of_scope_is_404_on_every_verb_and_nothing_is_written(make_user, client, api_for):
    rep = make_user(
        MODEL, actions=("view", "add", "change", "delete", "export"), read=Scope.OWN, write=Scope.OWN
    )
    other = make_user(MODEL)
    theirs = customer(other, "别人的机密客户")
    entries = AuditEntry.objects.count()
    client.force_login(rep)
    assert client.get(f"/customers/{theirs.pk}/").status_code == 404
    assert client.get(f"/customers/{theirs.pk}/edit/").status_code == 404
    assert client.post(f"/customers/{theirs.pk}/edit/", {"name": "x"}).status_code == 404
    assert client.post(f"/customers/{theirs.pk}/delete/").status_code == 404
    assert (
        client.post(
            f"/customers/{theirs.pk}/consent/", {"channel": "email", "status": "granted", "method": "staff"}
        ).status_code
        == 404
    )
    client.post("/customers/bulk/", {"ids": [theirs.pk], "action": "delete"})
    api = api_for(rep)
    assert api.get(f"/api/customers/{theirs.pk}/").status_code == 404
    assert (
        api.patch(
            f"/api/customers/{theirs.pk}/", {"name": "x"}, format="json", HTTP_IF_MATCH=f'"{theirs.pk}-1"'
        ).status_code
        == 404
    )
    assert api.put(f"/api/customers/{theirs.pk}/", {"name": "x"}, format="json").status_code == 404
    assert api.delete(f"/api/customers/{theirs.pk}/").status_code == 404
    assert (
        api.post(
            f"/api/customers/{theirs.pk}/consent/",
            {"channel": "email", "status": "granted", "method": "staff"},
            format="json",
        ).status_code
        == 404
    )
    theirs.refresh_from_db()
    assert theirs.name == "别人的机密客户" and theirs.version == 1 and not theirs.consent
    assert AuditEntry.objects.count() == entries


def test_readable_but_not_writable_is_403(make_user, client, api_for):
    viewer = make_user(MODEL, actions=("view", "change"), read=Scope.ALL, write=Scope.OWN)
    other = make_user(MODEL)
    theirs = customer(other, "只读客户")
    client.force_login(viewer)
    assert client.get(f"/customers/{theirs.pk}/").status_code == 200
    assert client.get(f"/customers/{theirs.pk}/edit/").status_code == 403
    response = api_for(viewer).patch(
        f"/api/customers/{theirs.pk}/", {"city": "x"}, format="json", HTTP_IF_MATCH=f'"{theirs.pk}-1"'
    )
    assert response.status_code == 403


def test_never_sees_out_of_scope_records_in_list_search_api_export(make_user, client, api_for):
    rep = make_user(MODEL, actions=("view", "add", "export"), read=Scope.OWN)
    other = make_user(MODEL)
    customer(rep, "我的科技公司")
    customer(other, "隐藏科技公司")
    client.force_login(rep)
    for url in ("/customers/", "/customers/?q=科技", "/search/?q=科技", "/search/?q=科技&partial=1"):
        body = client.get(url).content.decode()
        assert "我的科技公司" in body and "隐藏科技公司" not in body, url
    api = api_for(rep)
    assert [r["name"] for r in api.get("/api/customers/").json()["results"]] == ["我的科技公司"]
    assert [r["name"] for r in api.get("/api/customers/search/", {"q": "科技"}).json()] == ["我的科技公司"]
    exported = b"".join(client.get("/customers/?export=csv").streaming_content).decode("utf-8-sig")
    names = [row[0] for row in csv.reader(io.StringIO(exported))][1:]
    assert names == ["我的科技公司"]
    workbook = openpyxl.load_workbook(io.BytesIO(client.get("/customers/?export=xlsx").content))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == ["我的科技公司"]


def test_export_needs_the_right(make_user, client):
    rep = make_user(MODEL, actions=("view",))
    client.force_login(rep)
    assert client.get("/customers/?export=csv").status_code == 403


def test_field_level_hidden_and_readonly(make_user, client, api_for):
    rep = make_user(MODEL, actions=("view", "add", "change", "export"), read=Scope.OWN, write=Scope.OWN)
    role = rep.roles.get()
    FieldGrant.objects.create(role=role, model=MODEL, field="tax_id", access="hidden")
    FieldGrant.objects.create(role=role, model=MODEL, field="city", access="readonly")
    admin = UserFactory(is_superuser=True)
    c = services.customer_create(
        data={"name": "字段权限公司", "tax_id": "91310000SECRET", "city": "上海", "owner": rep}, by=admin
    )
    services.customer_update(
        customer=c, data={"tax_id": "91310000SECRET2"}, by=admin, expected_version=c.version
    )
    client.force_login(rep)
    detail = client.get(f"/customers/{c.pk}/").content.decode()
    assert "SECRET" not in detail  # neither in the profile nor in the change history
    form = client.get(f"/customers/{c.pk}/edit/")
    assert "tax_id" not in form.context["form"].fields and form.context["form"].fields["city"].disabled
    api = api_for(rep)
    body = api.get(f"/api/customers/{c.pk}/").json()
    assert "tax_id" not in body and body["city"] == "上海"
    refused = api.patch(
        f"/api/customers/{c.pk}/", {"city": "北京"}, format="json", HTTP_IF_MATCH=f'"{c.pk}-2"'
    )
    assert refused.status_code == 403 and refused.json()["fields"] == ["city"]
    unchanged = api.patch(
        f"/api/customers/{c.pk}/",
        {"city": "上海", "name": "字段权限公司"},
        format="json",
        HTTP_IF_MATCH=f'"{c.pk}-2"',
    )
    assert unchanged.status_code == 200  # re-sending the read-only value unchanged is fine
    c.refresh_from_db()
    assert c.city == "上海" and c.version == 2  # refused, never written
    exported = b"".join(client.get("/customers/?export=csv").streaming_content).decode("utf-8-sig")
    assert "SECRET" not in exported and "tax id" not in exported.lower()


def test_owner_cannot_be_mass_assigned_without_transfer_right(make_user, api_for, client):
    rep = make_user(MODEL, actions=("view", "add", "change"), read=Scope.OWN, write=Scope.OWN)
    colleague = UserFactory()
    api = api_for(rep)
    refused = api.post("/api/customers/", {"name": "负责人测试", "owner": colleague.pk}, format="json")
    assert refused.status_code == 403 and refused.json()["fields"] == ["owner"]
    assert not Customer.objects.filter(name="负责人测试").exists()
    created = api.post("/api/customers/", {"name": "负责人测试"}, format="json")
    assert created.status_code == 201 and created.json()["owner"] == rep.pk
    pk = created.json()["id"]
    moved = api.patch(
        f"/api/customers/{pk}/", {"owner": colleague.pk}, format="json", HTTP_IF_MATCH=created["ETag"]
    )
    assert moved.status_code == 403 and moved.json()["fields"] == ["owner"]
    assert Customer.objects.get(pk=pk).owner == rep
    client.force_login(rep)
    page = client.get(f"/customers/{pk}/edit/")
    assert page.context["form"].fields["owner"].disabled
    manager = make_user(MODEL, actions=("view", "add", "change", "transfer"), read=Scope.ALL, write=Scope.ALL)
    moved = api_for(manager).patch(
        f"/api/customers/{pk}/", {"owner": colleague.pk}, format="json", HTTP_IF_MATCH=f'"{pk}-1"'
    )
    assert moved.status_code == 200 and Customer.objects.get(pk=pk).owner == colleague
