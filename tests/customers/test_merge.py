"""Merge moves every related record (found generically), records what moved, hides the merged records,
audits; undo restores exactly; refused out of scope; optimistic locking against concurrent edits."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.utils import timezone

from kehu.core.exceptions import ConflictError, StaleRecordError
from kehu.core.models import AuditEntry, ModelGrant, RecordShare, Scope, Tag
from kehu.core.services import record_share
from kehu.customers import services
from kehu.customers.merge import _customer_fks, customer_merge, customer_merge_undo
from kehu.customers.models import Customer, DuplicateCandidate, Kind, MergeRecord
from kehu.interactions import services as interaction_services

pytestmark = pytest.mark.django_db
ALL = ("view", "add", "change", "delete", "export", "transfer")


@pytest.fixture
def manager(make_user):
    user = make_user("customers.customer", actions=ALL, read=Scope.ALL, write=Scope.ALL)
    role = user.roles.get()
    for model in ("interactions.interaction", "interactions.task"):
        ModelGrant.objects.create(
            role=role,
            model=model,
            read_scope=Scope.ALL,
            write_scope=Scope.ALL,
            **{f"can_{a}": True for a in ALL},
        )
    return user


def make(by, **data):
    return services.customer_create(data=data, by=by)


def full_snapshot():
    """Every row of every table with a foreign key to Customer (found the way the merge finds them), the
    customers themselves, and the record shares — all columns, so undo is checked exactly."""
    snap = {}
    for model, _fk in _customer_fks():
        label = model._meta.label_lower
        if label == "customers.customer":
            continue
        snap[label] = sorted(
            model._default_manager.values_list(*[f.attname for f in model._meta.concrete_fields])
        )
    skip = {"version", "updated_at"}
    fields = [f.attname for f in Customer._meta.concrete_fields if f.attname not in skip]
    snap["customers.customer"] = sorted(Customer.objects.values_list(*fields))
    snap["core.recordshare"] = sorted(RecordShare.objects.values_list("pk", "model", "object_id", "user_id"))
    return snap


@pytest.fixture
def world(manager, make_user):
    survivor = make(manager, name="杭州博雅软件有限公司", phone="13900001111", email="a@boya.example")
    loser = make(manager, name="博雅软件（杭州）有限公司", phone="13900001111", email="info@boya.example")
    third = make(manager, name="博雅软件", phone="13700002222", email="info@boya.example")
    contact = make(manager, name="周杰", kind=Kind.PERSON, account=loser)
    branch = make(manager, name="博雅软件宁波分公司", parent=loser)
    services.contact_point_add(customer=loser, kind="phone", value="13700002222", by=manager)
    services.contact_point_add(customer=loser, kind="social", value="boya_wx", label="wechat", by=manager)
    services.contact_point_add(
        customer=loser, kind="address", value="文三路 1 号", address={"city": "杭州"}, by=manager
    )
    services.consent_record(customer=loser, channel="email", status="granted", method="web_form", by=manager)
    services.lifecycle_set(customer=loser, stage="customer", by=manager, expected_version=None)
    interaction_services.interaction_log(
        customer=loser, data={"channel": "call", "subject": "询价"}, by=manager
    )
    interaction_services.interaction_log(
        customer=contact, data={"channel": "visit", "subject": "拜访"}, by=manager
    )
    interaction_services.task_create(
        data={"title": "回电", "customer": third, "due_at": timezone.now() + dt.timedelta(days=1)}, by=manager
    )
    vip, key = Tag.objects.create(name="VIP"), Tag.objects.create(name="重点")
    loser.tags.add(vip, key)
    survivor.tags.add(vip)
    record_share(instance=loser, by=manager, user=make_user())
    return {"survivor": survivor, "loser": loser, "third": third, "contact": contact, "branch": branch}


def test_merge_moves_everything_and_undo_restores_exactly(manager, world):
    survivor, loser, third = world["survivor"], world["loser"], world["third"]
    before = full_snapshot()
    audit_before = AuditEntry.objects.count()

    merge = customer_merge(
        survivor=survivor, others=[loser, third], by=manager, field_choices={"email": loser.pk}
    )
    survivor.refresh_from_db()
    assert survivor.email == "info@boya.example"
    assert survivor.consent["email"]["status"] == "granted"
    assert set(Customer.objects.filter(merged_into=survivor).values_list("pk", flat=True)) == {
        loser.pk,
        third.pk,
    }
    # every row that pointed at a merged record now points at the survivor, except unique duplicates
    for model, fk in _customer_fks():
        if model is Customer and fk.name == "merged_into":
            continue
        left = model._default_manager.filter(**{f"{fk.name}__in": [loser.pk, third.pk]})
        if model is Customer:
            left = left.exclude(pk__in=[loser.pk, third.pk])
        for row in left:
            # only rows whose unique value the survivor already has stay behind (one copy each)
            if hasattr(row, "number"):
                assert survivor.phones.filter(number=row.number).exists()
            elif hasattr(row, "email"):
                assert survivor.emails.filter(email=row.email).exists()
            elif hasattr(row, "tag_id"):
                assert survivor.tags.filter(pk=row.tag_id).exists()
            else:
                raise AssertionError(f"{model._meta.label} #{row.pk} was not moved")
    assert set(survivor.phones.values_list("number", flat=True)) == {"+8613900001111", "+8613700002222"}
    assert sorted(survivor.tags.values_list("name", flat=True)) == ["VIP", "重点"]
    assert Customer.objects.get(pk=world["contact"].pk).account == survivor
    assert Customer.objects.get(pk=world["branch"].pk).parent == survivor
    assert RecordShare.objects.get().object_id == survivor.pk
    assert "phone+13700002222" in survivor.search_restricted
    assert set(MergeRecord.objects.get().merged.values_list("pk", flat=True)) == {loser.pk, third.pk}
    assert AuditEntry.objects.filter(action="merge").count() == 3
    # lists and search no longer show the merged records; the survivor's history shows theirs
    from kehu.customers.search import customer_search

    found = [c.pk for c in customer_search(user=manager, q="博雅")]
    assert survivor.pk in found and loser.pk not in found and third.pk not in found

    customer_merge_undo(merge=merge, by=manager)
    assert full_snapshot() == before
    assert AuditEntry.objects.filter(action="unmerge").count() == 3
    assert AuditEntry.objects.count() == audit_before + 6
    with pytest.raises(ValidationError):
        customer_merge_undo(merge=merge, by=manager)


def test_history_of_the_survivor_includes_the_merged_records(manager, client):
    a = make(manager, name="正泰电子有限公司")
    b = make(manager, name="正泰电子")
    services.customer_update(customer=b, data={"city": "温州"}, by=manager, expected_version=b.version)
    customer_merge(survivor=a, others=[b], by=manager)
    client.force_login(manager)
    page = client.get(f"/customers/{a.pk}/").content.decode()
    assert "温州" in page


def test_merge_refused_for_records_outside_scope_before_writing(make_user):
    rep = make_user("customers.customer", actions=ALL, read=Scope.OWN, write=Scope.OWN)
    other = make_user("customers.customer", actions=ALL)
    mine = make(rep, name="我的公司")
    theirs = make(other, name="他们的公司")
    before = full_snapshot()
    with pytest.raises(Http404):
        customer_merge(survivor=mine, others=[theirs], by=rep)
    with pytest.raises(Http404):
        customer_merge(survivor=theirs, others=[mine], by=rep)
    assert full_snapshot() == before
    assert not MergeRecord.objects.exists()
    assert not AuditEntry.objects.filter(action="merge").exists()


def test_merge_refused_for_read_only_records(make_user):
    rep = make_user("customers.customer", actions=ALL, read=Scope.ALL, write=Scope.OWN)
    other = make_user("customers.customer", actions=ALL)
    mine, theirs = make(rep, name="甲公司"), make(other, name="甲公司")
    with pytest.raises((Http404, PermissionError, Exception)):
        customer_merge(survivor=mine, others=[theirs], by=rep)
    assert not Customer.objects.filter(merged_into__isnull=False).exists()


def test_two_merged_records_with_the_same_phone_do_not_crash(manager):
    a = make(manager, name="宏远机械")
    b = make(manager, name="宏远机械有限公司", phone="13855556666", email="x@hy.example")
    c = make(manager, name="宏远机械(苏州)有限公司", phone="13855556666", email="X@HY.example")
    before = full_snapshot()
    merge = customer_merge(survivor=a, others=[b, c], by=manager)
    assert list(a.phones.values_list("number", flat=True)) == ["+8613855556666"]
    assert list(a.emails.values_list("email", flat=True)) == ["x@hy.example"]
    customer_merge_undo(merge=merge, by=manager)
    assert full_snapshot() == before


def test_concurrent_edit_then_merge_is_refused_as_stale(manager):
    a = make(manager, name="恒达贸易有限公司", phone="13811112222")
    b = make(manager, name="恒达贸易", phone="13811112222")
    seen = {a.pk: a.version, b.pk: b.version}
    services.customer_update(customer=b, data={"city": "广州"}, by=manager, expected_version=b.version)
    with pytest.raises(StaleRecordError):
        customer_merge(survivor=a, others=[b], by=manager, expected_versions=seen)
    assert not Customer.objects.filter(merged_into__isnull=False).exists()


def test_edit_with_a_version_from_before_the_merge_is_refused(manager):
    a = make(manager, name="永安物流有限公司")
    b = make(manager, name="永安物流")
    stale_a, stale_b = a.version, b.version
    customer_merge(survivor=a, others=[b], by=manager)
    for record, version in ((a, stale_a), (b, stale_b)):
        with pytest.raises(StaleRecordError):
            services.customer_update(
                customer=record, data={"city": "上海"}, by=manager, expected_version=version
            )


def test_merged_record_cannot_be_merged_again(manager):
    a, b, c = make(manager, name="甲"), make(manager, name="乙"), make(manager, name="丙")
    customer_merge(survivor=a, others=[b], by=manager)
    with pytest.raises(ConflictError):
        customer_merge(survivor=c, others=[Customer.objects.get(pk=b.pk)], by=manager)


def test_merging_back_into_a_merged_record_is_refused(manager):
    """A into B, then B into A: the second merge's survivor is already merged away — refused, nothing lost."""
    a, b = make(manager, name="来回甲", city="北京"), make(manager, name="来回乙", city="上海")
    before = full_snapshot()
    merge = customer_merge(survivor=a, others=[b], by=manager)
    with pytest.raises(ConflictError, match=f"#{b.pk}"):
        customer_merge(
            survivor=Customer.objects.get(pk=b.pk), others=[Customer.objects.get(pk=a.pk)], by=manager
        )
    assert Customer.objects.get(pk=a.pk).merged_into_id is None
    assert MergeRecord.objects.count() == 1
    customer_merge_undo(merge=merge, by=manager)
    assert full_snapshot() == before


def test_back_and_forth_through_the_api_is_409_and_undo_works(manager, api_for):
    a, b = make(manager, name="接口来回甲"), make(manager, name="接口来回乙")
    api = api_for(manager)
    first = api.post(f"/api/customers/{a.pk}/merge/", {"others": [b.pk]}, format="json")
    assert first.status_code == 201
    second = api.post(f"/api/customers/{b.pk}/merge/", {"others": [a.pk]}, format="json")
    assert second.status_code == 409 and "already merged" in second.json()["detail"]
    third = api.post(f"/api/customers/{a.pk}/merge/", {"others": [b.pk]}, format="json")
    assert third.status_code == 409
    assert [r["id"] for r in api.get("/api/customers/", {"q": "接口来回"}).json()["results"]] == [a.pk]
    assert api.post(f"/api/merges/{first.json()['merge']}/undo/").status_code == 200
    assert sorted(r["id"] for r in api.get("/api/customers/", {"q": "接口来回"}).json()["results"]) == [
        a.pk,
        b.pk,
    ]


def test_undo_of_a_merge_whose_survivor_was_merged_later_waits_for_that_undo(manager, api_for):
    """B into A, then A into C: undoing the first is refused (409, naming the later merge) until the later
    one is undone; then both undo and everything is back."""
    a, b, c = make(manager, name="链甲"), make(manager, name="链乙"), make(manager, name="链丙")
    services.contact_point_add(customer=b, kind="email", value="b@chain.example", by=manager)
    before = full_snapshot()
    first = customer_merge(survivor=a, others=[b], by=manager)
    second = customer_merge(survivor=c, others=[Customer.objects.get(pk=a.pk)], by=manager)
    api = api_for(manager)
    refused = api.post(f"/api/merges/{first.pk}/undo/")
    assert refused.status_code == 409 and f"#{second.pk}" in refused.json()["detail"]
    assert api.post(f"/api/merges/{second.pk}/undo/").status_code == 200
    assert api.post(f"/api/merges/{first.pk}/undo/").status_code == 200
    assert full_snapshot() == before


def test_records_merged_into_each_other_before_the_fix_can_both_be_undone(manager):
    """Data written before merges refused merged survivors: A merged into B and B into A. Each merge is
    undone (the later first), and both records are back with everything they had."""
    a, b = make(manager, name="互并甲", city="北京"), make(manager, name="互并乙", city="上海")
    services.contact_point_add(customer=b, kind="email", value="b@mutual.example", by=manager)
    before = full_snapshot()
    first = customer_merge(survivor=a, others=[b], by=manager)
    # reproduce the old outcome of "B into A" afterwards: the merge ran although B was merged away
    Customer.objects.filter(pk=b.pk).update(merged_into=None)
    second = customer_merge(
        survivor=Customer.objects.get(pk=b.pk), others=[Customer.objects.get(pk=a.pk)], by=manager
    )
    Customer.objects.filter(pk=b.pk).update(merged_into=a)
    assert Customer.objects.filter(pk__in=[a.pk, b.pk], merged_into__isnull=True).count() == 0
    with pytest.raises(ConflictError, match=f"#{second.pk}"):
        customer_merge_undo(merge=first, by=manager)
    customer_merge_undo(merge=second, by=manager)
    customer_merge_undo(merge=first, by=manager)
    assert full_snapshot() == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_merging_two_records_into_each_other_at_the_same_time(round_):
    """A into B and B into A sent at the same moment: exactly one merge happens (row locks in id order, the
    check under them), the other is refused, and the one that happened undoes cleanly."""
    if connection.vendor == "sqlite":
        pytest.skip("in-memory SQLite test databases are not shared between threads; runs on PostgreSQL")
    from tests.factories import UserFactory

    admin = UserFactory(is_superuser=True)
    a, b = make(admin, name="同时甲"), make(admin, name="同时乙")
    outcomes, barrier = [], threading.Barrier(2)

    def merge(survivor, other):
        from django.db import connections

        try:
            barrier.wait()
            customer_merge(survivor=survivor, others=[other], by=admin)
            outcomes.append("merged")
        except ConflictError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=merge, args=pair) for pair in ((a, b), (b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["merged", "refused"]
    assert Customer.objects.filter(pk__in=[a.pk, b.pk], merged_into__isnull=True).count() == 1
    customer_merge_undo(merge=MergeRecord.objects.get(), by=admin)
    assert Customer.objects.filter(pk__in=[a.pk, b.pk], merged_into__isnull=True).count() == 2


def test_merge_marks_candidates_and_undo_reopens_them(manager):
    from kehu.customers import dedup

    a = make(manager, name="海纳食品有限公司", phone="13866667777")
    b = make(manager, name="海纳食品", phone="13866667777")
    dedup.scan()
    merge = customer_merge(survivor=a, others=[b], by=manager)
    assert DuplicateCandidate.objects.get().status == DuplicateCandidate.Status.MERGED
    customer_merge_undo(merge=merge, by=manager)
    assert DuplicateCandidate.objects.get().status == DuplicateCandidate.Status.OPEN


def test_review_screen_merge_with_field_choice(manager, client):
    from kehu.customers import dedup

    a = make(manager, name="联创软件有限公司", phone="13877778888")
    b = make(manager, name="联创软件", phone="13877778888", city="成都")
    dedup.scan()
    pair = DuplicateCandidate.objects.get()
    client.force_login(manager)
    response = client.post(
        f"/customers/duplicates/{pair.pk}/merge/",
        {"survivor": a.pk, "field_city": b.pk, "version_a": a.version, "version_b": b.version},
    )
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.city == "成都" and Customer.objects.get(pk=b.pk).merged_into == a


def test_merge_and_undo_through_the_api(manager, make_user, api_for):
    a = make(manager, name="API 合并甲", city="北京")
    b = make(manager, name="API 合并乙", city="上海")
    api = api_for(manager)
    response = api.post(
        f"/api/customers/{a.pk}/merge/", {"others": [b.pk], "field_choices": {"city": b.pk}}, format="json"
    )
    assert response.status_code == 201
    assert Customer.objects.get(pk=a.pk).city == "上海"
    assert [r["id"] for r in api.get("/api/customers/", {"q": "合并"}).json()["results"]] == [a.pk]
    undo = api.post(f"/api/merges/{response.json()['merge']}/undo/")
    assert undo.status_code == 200
    assert Customer.objects.get(pk=a.pk).city == "北京"
    assert api.post(f"/api/merges/{response.json()['merge']}/undo/").status_code == 400
    rep = make_user("customers.customer", actions=ALL, read=Scope.OWN, write=Scope.OWN)
    mine = make(rep, name="我的")
    assert (
        api_for(rep).post(f"/api/customers/{mine.pk}/merge/", {"others": [a.pk]}, format="json").status_code
        == 404
    )
    assert api_for(rep).post(f"/api/merges/{response.json()['merge']}/undo/").status_code == 404


def test_every_foreign_key_to_customer_is_covered():
    """A model added later with a foreign key to Customer is moved without changing merge.py."""
    covered = {(m._meta.label_lower, f.name) for m, f in _customer_fks()}
    for model in apps.get_models(include_auto_created=True):
        for f in model._meta.concrete_fields:
            if getattr(f, "related_model", None) is Customer:
                label = (model._meta.label_lower, f.name)
                assert label in covered or label in {
                    ("customers.mergerecord", "survivor"),
                    ("customers.mergerecord_merged", "customer"),
                    ("customers.duplicatecandidate", "first"),
                    ("customers.duplicatecandidate", "second"),
                    ("customers.customer", "merged_into"),
                    ("customers.importrow", "customer"),  # what an import wrote stays with that record
                }, label
    assert ("interactions.interaction", "customer") in covered
    assert ("products.installedproduct", "customer") in covered
