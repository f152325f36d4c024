"""Duplicate detection (scores and reasons), the duplicate warning, merge moving everything, and undo."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import Http404
from django.utils import timezone

from kehu.core.models import AuditEntry, ModelGrant, RecordShare, Scope, Tag
from kehu.core.services import record_share
from kehu.customers import dedup, services
from kehu.customers.merge import customer_merge, customer_merge_undo
from kehu.customers.models import (
    ConsentEvent,
    Customer,
    CustomerEmail,
    CustomerPhone,
    DuplicateCandidate,
    Kind,
)
from kehu.interactions import services as interaction_services
from kehu.interactions.models import Interaction, Task

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


def test_pairs_found_with_reasons(manager):
    a = make(manager, name="北京华信科技有限公司", phone="13812345678")
    b = make(manager, name="华信科技(北京)有限公司")
    c = make(manager, name="陳大文", kind=Kind.PERSON, email="DW.Chen@Example.com")
    d = make(manager, name="陈大文", kind=Kind.PERSON, email="dw.chen@example.com")
    e = make(manager, name="张三", kind=Kind.PERSON, phone="+86 139-1234-5678")
    f = make(manager, name="章三", kind=Kind.PERSON, phone="13912345678")
    make(manager, name="完全无关贸易有限公司")
    make(manager, name="另一个人", kind=Kind.PERSON, phone="13812345678")  # shares the company's number only
    result = dedup.scan()
    assert result["customers"] == 8
    pairs = {(p.first_id, p.second_id): p for p in DuplicateCandidate.objects.all()}
    assert (a.pk, b.pk) in pairs and "company name" in " ".join(pairs[(a.pk, b.pk)].reason_texts)
    assert (c.pk, d.pk) in pairs
    reasons = " ".join(pairs[(c.pk, d.pk)].reason_texts)
    assert "same email" in reasons and "same name" in reasons and pairs[(c.pk, d.pk)].score == 1.0
    assert (e.pk, f.pk) in pairs
    assert "same phone" in " ".join(pairs[(e.pk, f.pk)].reason_texts) and "sound the same" in " ".join(
        pairs[(e.pk, f.pk)].reason_texts
    )
    assert len(pairs) == 3
    DuplicateCandidate.objects.filter(first=c, second=d).update(status="dismissed")
    dedup.scan()
    assert DuplicateCandidate.objects.get(first=c, second=d).status == "dismissed"


def test_duplicate_warning_on_create_then_create_anyway(manager, client):
    make(manager, name="上海星辰电子有限公司", phone="02161234567")
    client.force_login(manager)
    data = {
        "kind": "organization",
        "name": "星辰电子（上海）有限公司",
        "customer_type": "business",
        "lifecycle_stage": "prospect",
    }
    warned = client.post("/customers/new/", data)
    assert warned.status_code == 400
    assert "上海星辰电子有限公司" in warned.content.decode() and "create it anyway" in warned.content.decode()
    assert Customer.objects.count() == 1
    created = client.post("/customers/new/", {**data, "confirm_duplicates": "1"})
    assert created.status_code == 302 and Customer.objects.count() == 2


def _snapshot():
    """Everything that a merge touches, to compare before and after undo."""
    return {
        "customers": sorted(
            Customer.objects.values_list(
                "pk", "name", "account_id", "merged_into_id", "phone", "email", "lifecycle_stage", "owner_id"
            )
        ),
        "phones": sorted(CustomerPhone.objects.values_list("pk", "customer_id", "number")),
        "emails": sorted(CustomerEmail.objects.values_list("pk", "customer_id", "email")),
        "consent": sorted(ConsentEvent.objects.values_list("pk", "customer_id", "status")),
        "interactions": sorted(Interaction.objects.values_list("pk", "customer_id", "account_id")),
        "tasks": sorted(Task.objects.values_list("pk", "customer_id")),
        "shares": sorted(RecordShare.objects.values_list("pk", "object_id")),
        "tags": sorted(Customer.tags.through.objects.values_list("customer_id", "tag_id")),
    }


def test_merge_moves_everything_and_undo_restores_exactly(manager, make_user):
    survivor = make(manager, name="杭州博雅软件有限公司", phone="13900001111")
    loser = make(manager, name="博雅软件（杭州）有限公司", phone="13900001111", email="info@boya.example")
    contact = make(manager, name="周杰", kind=Kind.PERSON, account=loser)
    services.contact_point_add(customer=loser, kind="phone", value="13700002222", by=manager)
    services.consent_record(customer=loser, channel="email", status="granted", method="web_form", by=manager)
    interaction_services.interaction_log(
        customer=loser, data={"channel": "call", "subject": "询价"}, by=manager
    )
    interaction_services.interaction_log(
        customer=contact, data={"channel": "visit", "subject": "拜访"}, by=manager
    )
    interaction_services.task_create(
        data={"title": "回电", "customer": loser, "due_at": timezone.now() + dt.timedelta(days=1)}, by=manager
    )
    vip = Tag.objects.create(name="VIP")
    loser.tags.add(vip)
    record_share(instance=loser, by=manager, user=make_user())
    before = _snapshot()

    merge = customer_merge(survivor=survivor, others=[loser], by=manager, field_choices={"email": loser.pk})
    survivor.refresh_from_db()
    loser.refresh_from_db()
    assert loser.merged_into == survivor
    assert survivor.email == "info@boya.example"
    assert survivor.consent["email"]["status"] == "granted"
    assert set(survivor.phones.values_list("number", flat=True)) == {"+8613900001111", "+8613700002222"}
    assert Customer.objects.get(pk=contact.pk).account == survivor
    assert Interaction.objects.filter(account=survivor).count() == 2
    assert Task.objects.get().customer == survivor
    assert list(survivor.tags.all()) == [vip]
    assert RecordShare.objects.get().object_id == survivor.pk
    assert not Customer.objects.filter(merged_into__isnull=True, pk=loser.pk).exists()
    assert AuditEntry.objects.filter(action="merge", object_id=str(loser.pk)).exists()
    assert "phone+13700002222" in survivor.search_restricted

    customer_merge_undo(merge=merge, by=manager)
    after = _snapshot()
    assert after == before
    assert AuditEntry.objects.filter(action="unmerge").count() == 2


def test_merge_refused_for_records_outside_scope_before_writing(make_user):
    rep = make_user("customers.customer", actions=ALL, read=Scope.OWN, write=Scope.OWN)
    other = make_user("customers.customer", actions=ALL)
    mine = make(rep, name="我的公司")
    theirs = make(other, name="他们的公司")
    with pytest.raises(Http404):
        customer_merge(survivor=mine, others=[theirs], by=rep)
    assert Customer.objects.filter(merged_into__isnull=False).count() == 0
    assert not AuditEntry.objects.filter(action="merge").exists()


def test_merge_refuses_stale_version(manager, client):
    a = make(manager, name="恒达贸易有限公司", phone="13811112222")
    b = make(manager, name="恒达贸易", phone="13811112222")
    dedup.scan()
    pair = DuplicateCandidate.objects.get()
    client.force_login(manager)
    page = client.get(f"/customers/duplicates/{pair.pk}/")
    assert page.status_code == 200 and "恒达贸易" in page.content.decode()
    services.customer_update(customer=b, data={"city": "广州"}, by=manager, expected_version=b.version)
    response = client.post(
        f"/customers/duplicates/{pair.pk}/merge/",
        {"survivor": a.pk, "version_a": a.version, "version_b": 1},
        follow=True,
    )
    assert "changed while you were editing" in response.content.decode()
    assert not Customer.objects.filter(merged_into__isnull=False).exists()
    ok = client.post(
        f"/customers/duplicates/{pair.pk}/merge/",
        {"survivor": a.pk, "version_a": a.version, "version_b": b.version},
    )
    assert ok.status_code == 302
    assert Customer.objects.get(pk=b.pk).merged_into_id == a.pk


def test_merge_and_undo_through_the_api(manager, api_for):
    a = make(manager, name="API 合并甲")
    b = make(manager, name="API 合并乙")
    api = api_for(manager)
    response = api.post(f"/api/customers/{a.pk}/merge/", {"others": [b.pk]}, format="json")
    assert response.status_code == 201
    assert [r["id"] for r in api.get("/api/customers/", {"q": "合并"}).json()["results"]] == [a.pk]
    undo = api.post(f"/api/merges/{response.json()['merge']}/undo/")
    assert undo.status_code == 200
    assert Customer.objects.get(pk=b.pk).merged_into is None
    assert api.post(f"/api/merges/{response.json()['merge']}/undo/").status_code == 400


def test_review_screen_refuses_a_pair_whose_record_was_merged_meanwhile(manager, client):
    """Two reviewers: one merges B into C from another pair; merging the stale pair A–B then says so
    clearly on the page instead of hiding both records."""
    a = make(manager, name="同步科技有限公司", phone="13811113333")
    b = make(manager, name="同步科技", phone="13811113333")
    c = make(manager, name="同步科技股份")
    dedup.scan()
    pair = DuplicateCandidate.objects.get(first=a, second=b)
    customer_merge(survivor=c, others=[b], by=manager)
    client.force_login(manager)
    response = client.post(
        f"/customers/duplicates/{pair.pk}/merge/", {"survivor": b.pk, "field_city": a.pk}, follow=True
    )
    assert response.status_code == 200 and "already merged" in response.content.decode()
    assert Customer.objects.get(pk=a.pk).merged_into_id is None
    assert Customer.objects.get(pk=b.pk).merged_into_id == c.pk
