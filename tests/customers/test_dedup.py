"""Duplicate detection: blocking keys, scores and human-readable reasons, the vectorised full scan, the
warning on create, and the review screen (only pairs the user may see both sides of)."""

from __future__ import annotations

import pytest

from kehu.core.models import Scope
from kehu.customers import dedup, services
from kehu.customers.models import Customer, DuplicateCandidate, Kind

pytestmark = pytest.mark.django_db
ALL = ("view", "add", "change", "delete", "export", "transfer")


@pytest.fixture
def manager(make_user):
    return make_user("customers.customer", actions=ALL, read=Scope.ALL, write=Scope.ALL)


def make(by, **data):
    return services.customer_create(data=data, by=by)


def pair_of(a, b):
    first, second = sorted([a.pk, b.pk])
    return DuplicateCandidate.objects.filter(first_id=first, second_id=second).first()


def test_company_names_without_legal_form_and_region(manager):
    a = make(manager, name="北京华信科技有限公司")
    b = make(manager, name="华信科技 (北京) Co., Ltd.")
    c = make(manager, name="華信科技股份有限公司")
    dedup.scan()
    for x, y in ((a, b), (a, c), (b, c)):
        pair = pair_of(x, y)
        assert pair is not None, (x, y)
        assert any("华信科技" in r for r in pair.reason_texts)


def test_traditional_and_simplified_person_names_with_the_same_email(manager):
    a = make(manager, name="陳大文", kind=Kind.PERSON, email="DW.Chen@Example.com")
    b = make(manager, name="陈大文", kind=Kind.PERSON, email="dw.chen@EXAMPLE.com")
    dedup.scan()
    pair = pair_of(a, b)
    assert pair.score == 1.0
    assert "same email dw.chen@example.com" in pair.reason_texts and "same name" in pair.reason_texts


def test_phone_formats_and_homophones(manager):
    a = make(manager, name="张三", kind=Kind.PERSON, phone="+86 139-1234-5678")
    b = make(manager, name="章三", kind=Kind.PERSON, phone="13912345678")
    c = make(manager, name="李四", kind=Kind.PERSON)
    services.contact_point_add(customer=c, kind="phone", value="(+86) 139 1234 5678", by=manager)
    dedup.scan()
    ab = pair_of(a, b)
    assert "same phone 139 1234 5678" in ab.reason_texts
    assert "names sound the same (zhangsan)" in ab.reason_texts
    assert pair_of(a, c) is not None  # a second phone counts too
    assert pair_of(a, c).score < ab.score


def test_unrelated_records_and_shared_switchboards_are_not_pairs(manager):
    make(manager, name="华信科技有限公司", phone="13812345678")
    make(manager, name="另一个人", kind=Kind.PERSON, phone="13812345678")  # a person at the company number
    make(manager, name="完全无关贸易有限公司")
    assert dedup.scan()["pairs"] == 0


def test_vectorised_scan_agrees_with_the_pairwise_scorer(manager):
    names = [
        "恒达贸易有限公司",
        "恒达贸易",
        "深圳恒达贸易有限公司",
        "恒大贸易有限公司",
        "Northwind Trading Co., Ltd.",
    ]
    names += ["Northwind Trading Company Limited", "NORTHWIND TRADING", "王伟", "汪伟", "王伟"]
    for i, name in enumerate(names):
        kind = Kind.PERSON if len(name) == 2 else Kind.ORGANIZATION
        make(manager, name=name, kind=kind, phone=f"1380000{i % 4:04d}", email=f"x{i % 3}@example.com")
    count, pairs = dedup.scan_pairs()
    assert count == len(names)
    assert pairs == dedup.find_pairs(dedup.load_profiles())
    assert pairs


def test_scan_keeps_decisions_and_skips_merged(manager):
    a = make(manager, name="瑞丰食品有限公司", phone="13811112222")
    b = make(manager, name="瑞丰食品", phone="13811112222")
    dedup.scan()
    pair_of(a, b).status = DuplicateCandidate.Status.DISMISSED
    DuplicateCandidate.objects.update(status=DuplicateCandidate.Status.DISMISSED)
    dedup.scan()
    assert pair_of(a, b).status == DuplicateCandidate.Status.DISMISSED
    Customer.objects.filter(pk=b.pk).update(merged_into=a)
    DuplicateCandidate.objects.all().delete()
    assert dedup.scan()["pairs"] == 0


def test_management_command_and_task(manager, capsys):
    from django.core.management import call_command

    make(manager, name="晨光建材有限公司", email="sales@chenguang.example")
    make(manager, name="晨光建材", email="Sales@ChenGuang.example")
    call_command("find_duplicates")
    assert "2 customers, 1 candidate pairs" in capsys.readouterr().out
    from kehu.customers.tasks import find_duplicates

    assert find_duplicates.call() == {"customers": 2, "pairs": 1}


def test_similar_customers_only_among_what_the_user_may_see(make_user):
    rep = make_user("customers.customer", read=Scope.OWN, write=Scope.OWN)
    other = make_user("customers.customer", read=Scope.OWN, write=Scope.OWN)
    mine = make(rep, name="上海星辰电子有限公司", phone="02161234567")
    make(other, name="星辰电子有限公司", phone="02161234567")
    found = dedup.similar_customers(
        data={"name": "星辰电子（上海）有限公司", "phone": "021-6123 4567"}, user=rep
    )
    assert [c for c, _score, _reasons in found] == [mine]
    assert found[0][2]


def test_warning_on_create_lists_matches_and_needs_create_anyway(manager, client):
    existing = make(manager, name="上海星辰电子有限公司", phone="02161234567")
    client.force_login(manager)
    data = {
        "kind": "organization",
        "name": "星辰电子（上海）有限公司",
        "customer_type": "business",
        "lifecycle_stage": "prospect",
        "phone": "(021) 6123-4567",
    }
    warned = client.post("/customers/new/", data)
    page = warned.content.decode()
    assert warned.status_code == 400
    assert 'data-testid="duplicate-warning"' in page and existing.get_absolute_url() in page
    assert 'name="confirm_duplicates"' in page
    assert Customer.objects.count() == 1
    created = client.post("/customers/new/", {**data, "confirm_duplicates": "1"})
    assert created.status_code == 302 and Customer.objects.count() == 2
    # an unrelated record is created without a warning
    assert client.post("/customers/new/", {**data, "name": "毫不相干", "phone": ""}).status_code == 302


def test_review_screen_shows_only_pairs_the_user_sees_both_sides_of(make_user, manager, client):
    rep = make_user("customers.customer", actions=ALL, read=Scope.OWN, write=Scope.OWN)
    a = make(rep, name="鼎盛机械有限公司", phone="13822223333")
    b = make(rep, name="鼎盛机械", phone="13822223333")
    c = make(manager, name="鼎盛机械(北京)有限公司", phone="13822223333")
    dedup.scan()
    assert DuplicateCandidate.objects.count() == 3
    client.force_login(rep)
    page = client.get("/customers/duplicates/")
    assert page.status_code == 200
    assert page.content.decode().count('<td class="score">') == 1
    hidden = pair_of(a, c)
    assert client.get(f"/customers/duplicates/{hidden.pk}/").status_code == 404
    assert client.post(f"/customers/duplicates/{hidden.pk}/dismiss/").status_code == 404
    shown = pair_of(a, b)
    compare = client.get(f"/customers/duplicates/{shown.pk}/")
    assert compare.status_code == 200 and "鼎盛机械有限公司" in compare.content.decode()
    assert client.post(f"/customers/duplicates/{shown.pk}/dismiss/").status_code == 302
    assert pair_of(a, b).status == DuplicateCandidate.Status.DISMISSED
    client.force_login(manager)
    assert client.get("/customers/duplicates/").content.decode().count('<td class="score">') == 2


def test_duplicates_api_only_visible_pairs(make_user, manager, api_for):
    rep = make_user("customers.customer", actions=ALL, read=Scope.OWN, write=Scope.OWN)
    make(rep, name="安捷物流有限公司", phone="13833334444")
    make(rep, name="安捷物流", phone="13833334444")
    make(manager, name="安捷物流(深圳)有限公司", phone="13833334444")
    dedup.scan()
    assert api_for(rep).get("/api/duplicates/").json()["count"] == 1
    assert api_for(manager).get("/api/duplicates/").json()["count"] == 3


def test_nav_links_to_the_review_screen(manager, client):
    client.force_login(manager)
    assert "/customers/duplicates/" in client.get("/customers/").content.decode()


def test_reasons_are_shown_in_the_readers_language(manager, client, api_for):
    """The worker scans in the default language; each user reads the reasons in their own."""
    from django.utils import translation

    a = make(manager, name="张三", kind=Kind.PERSON, phone="13912345678")
    b = make(manager, name="章三", kind=Kind.PERSON, phone="+86 139 1234 5678")
    with translation.override("zh-hans"):
        dedup.scan()
    pair = pair_of(a, b)
    assert pair.reasons[0][:2] == [
        "same_phone",
        {"p": "139 1234 5678"},
    ]  # stored as code + parameters (+ weight)
    manager.language = "en"
    manager.save()
    client.force_login(manager)
    page = client.get("/customers/duplicates/").content.decode()
    assert "same phone 139 1234 5678" in page and "names sound the same (zhangsan)" in page
    assert (
        api_for(manager).get("/api/duplicates/").json()["results"][0]["reasons"][0]
        == "same phone 139 1234 5678"
    )
    manager.language = "zh-hans"
    manager.save()
    page = client.get("/customers/duplicates/").content.decode()
    assert "电话相同" in page and "same phone" not in page


def test_same_core_in_different_regions_is_not_a_duplicate_alone(manager):
    beijing = make(manager, name="北京华信科技有限公司")
    bracket = make(manager, name="华信科技（北京市）有限公司")
    bare = make(manager, name="华信科技股份有限公司")
    shanghai = make(manager, name="上海华信科技有限公司")
    dedup.scan()
    assert pair_of(beijing, bracket) is not None  # the same region written differently
    assert pair_of(beijing, bare) is not None and pair_of(shanghai, bare) is not None  # no region: maybe
    assert pair_of(beijing, shanghai) is None  # 北京 vs 上海: two companies
    services.contact_point_add(customer=shanghai, kind="phone", value="010 6123 4567", by=manager)
    services.contact_point_add(customer=beijing, kind="phone", value="+86 10 6123 4567", by=manager)
    dedup.scan()
    assert pair_of(beijing, shanghai) is not None  # ...unless more evidence says so
    # the in-memory scorer (duplicate warning on create) agrees with the vectorised scan
    found = dedup.similar_customers(data={"name": "上海华信科技有限公司"}, user=manager)
    assert beijing not in [c for c, _s, _r in found]


def test_company_region():
    from kehu.customers.normalize import company_region

    assert company_region("北京某某科技有限公司") == "北京"
    assert company_region("某某科技（北京市）有限公司") == "北京"
    assert company_region("某某科技(上海)Co., Ltd.") == "上海"
    assert company_region("Northwind Trading Co., Ltd.") == ""
