"""Audit trail (every write, permission changes, append-only in the database) and optimistic locking."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, connection, transaction

from kehu.core import services
from kehu.core.exceptions import StaleRecordError
from kehu.core.models import AuditEntry, Scope
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from tests.factories import RoleFactory, UserFactory

MODEL = "customers.customer"


@pytest.mark.django_db
def test_create_update_delete_are_audited_with_field_changes(make_user, client):
    rep = make_user(MODEL, actions=("view", "add", "change", "delete"))
    c = customer_services.customer_create(data={"name": "审计测试公司", "city": "上海"}, by=rep)
    customer_services.customer_update(customer=c, data={"city": "北京"}, by=rep, expected_version=c.version)
    entry = AuditEntry.objects.filter(object_id=str(c.pk), action="update").latest("id")
    assert entry.actor == rep and entry.changes["city"] == ["上海", "北京"] and entry.version == 2
    client.force_login(rep)
    assert client.post(f"/customers/{c.pk}/delete/", {"version": c.version}).status_code == 302
    deleted = AuditEntry.objects.get(object_id=str(c.pk), action="delete")
    assert deleted.changes["name"] == ["审计测试公司", None]
    assert client.get(f"/customers/{c.pk}/").status_code == 404


@pytest.mark.django_db
def test_permission_changes_are_audited_and_admin_only(admin_user, client, api_for, make_user):
    role = RoleFactory()
    user = UserFactory()
    services.role_grants_set(
        role=role,
        grants=[{"model": MODEL, "can_view": True, "read_scope": Scope.ALL, "write_scope": Scope.OWN}],
        by=admin_user,
    )
    services.user_roles_set(user=user, roles=[role], by=admin_user)
    kinds = list(AuditEntry.objects.filter(action="permission").values_list("model", flat=True))
    assert kinds.count("core.role") >= 1 and "core.user" in kinds
    client.force_login(admin_user)
    page = client.get("/settings/audit/", {"action": "permission"})
    assert page.status_code == 200 and "permission" in page.content.decode().lower()
    assert api_for(admin_user).get("/api/audit/", {"action": "permission"}).json()["count"] >= 2
    rep = make_user(MODEL)
    client.force_login(rep)
    assert client.get("/settings/audit/").status_code == 403
    assert api_for(rep).get("/api/audit/").json()["count"] == 0


@pytest.mark.django_db
def test_audit_trail_is_append_only_in_the_database(admin_user):
    c = customer_services.customer_create(data={"name": "不可篡改"}, by=admin_user)
    entry = AuditEntry.objects.filter(object_id=str(c.pk)).first()
    for sql in (
        "UPDATE core_auditentry SET actor_name = 'x' WHERE id = %s",
        "DELETE FROM core_auditentry WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql, [entry.pk])
    if connection.vendor == "postgresql":
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute("TRUNCATE core_auditentry CASCADE")
    # there is no switch left to turn the guard off (issue 7: `UPDATE core_dbguard SET enabled=0`)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE core_dbguard SET enabled = 0")
    assert AuditEntry.objects.get(pk=entry.pk).actor_name == entry.actor_name


@pytest.mark.django_db
def test_stale_save_names_who_changed_what(make_user):
    alice = make_user(
        MODEL, actions=("view", "add", "change"), read=Scope.ALL, write=Scope.ALL, username="alice"
    )
    bob = make_user(MODEL, actions=("view", "change"), read=Scope.ALL, write=Scope.ALL, username="bob")
    c = customer_services.customer_create(data={"name": "并发公司"}, by=alice)
    seen_version = c.version
    customer_services.customer_update(
        customer=Customer.objects.get(pk=c.pk), data={"city": "深圳"}, by=alice, expected_version=seen_version
    )
    with pytest.raises(StaleRecordError) as exc:
        customer_services.customer_update(
            customer=Customer.objects.get(pk=c.pk),
            data={"job_title": "x"},
            by=bob,
            expected_version=seen_version,
        )
    assert "city" in exc.value.message and str(alice) in exc.value.message
    assert Customer.objects.get(pk=c.pk).job_title == ""


@pytest.mark.django_db
def test_api_etag_if_match(make_user, api_for):
    rep = make_user(MODEL, actions=("view", "add", "change", "delete"))
    api = api_for(rep)
    created = api.post("/api/customers/", {"name": "ETag 公司"}, format="json")
    pk, etag = created.json()["id"], created["ETag"]
    assert api.get(f"/api/customers/{pk}/")["ETag"] == etag
    assert api.patch(f"/api/customers/{pk}/", {"city": "x"}, format="json").status_code == 428
    assert (
        api.patch(f"/api/customers/{pk}/", {"city": "x"}, format="json", HTTP_IF_MATCH='"999-1"').status_code
        == 400
    )
    ok = api.patch(f"/api/customers/{pk}/", {"city": "杭州"}, format="json", HTTP_IF_MATCH=etag)
    assert ok.status_code == 200 and ok["ETag"] != etag
    stale = api.patch(f"/api/customers/{pk}/", {"city": "宁波"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    assert api.delete(f"/api/customers/{pk}/", HTTP_IF_MATCH=etag).status_code == 409
    assert api.delete(f"/api/customers/{pk}/", HTTP_IF_MATCH=ok["ETag"]).status_code == 204


@pytest.mark.django_db(transaction=True)
def test_concurrent_edits_lose_nothing():
    """Two users save the same version at the same moment: exactly one wins, the other is told."""
    admin = UserFactory(is_superuser=True)
    c = customer_services.customer_create(data={"name": "并发保存公司"}, by=admin)
    outcomes, barrier = [], threading.Barrier(2)

    def edit(field, value):
        from django.db import connections

        try:
            barrier.wait()
            customer_services.customer_update(
                customer=Customer.objects.get(pk=c.pk), data={field: value}, by=admin, expected_version=1
            )
            outcomes.append("saved")
        except StaleRecordError:
            outcomes.append("stale")
        finally:
            connections.close_all()

    if connection.vendor == "sqlite":
        pytest.skip(
            "in-memory SQLite test databases are not shared between threads; runs on PostgreSQL in CI"
        )
    threads = [threading.Thread(target=edit, args=a) for a in (("city", "甲"), ("job_title", "乙"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["saved", "stale"]
    final = Customer.objects.get(pk=c.pk)
    assert final.version == 2 and (final.city == "甲") != (final.job_title == "乙")
