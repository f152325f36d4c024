"""Customers: validation and normalisation on every write path, hierarchy, consent, lifecycle, 360° page, API."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.core.models import AuditEntry, Scope
from kehu.customers import services
from kehu.customers.models import ConsentEvent, Customer, CustomerPhone, Kind, LifecycleChange, Stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(make_user):
    return make_user("customers.customer", read=Scope.OWN, write=Scope.OWN)


def test_phone_email_and_text_are_normalised_on_create(rep):
    c = services.customer_create(
        data={
            "name": "  北京　华信  科技有限公司 ",
            "phone": "１３８ １２３４－５６７８",
            "email": "Li.Na@Example.COM",
        },
        by=rep,
    )
    assert c.name == "北京 华信 科技有限公司"
    assert c.phone == "+8613812345678"
    assert c.email == "li.na@example.com"
    assert list(c.phones.values_list("number", flat=True)) == ["+8613812345678"]
    assert c.phones.get().is_primary


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "12345", "not a valid phone number"),
        ("phone", "call me maybe", "is not a phone number"),
        ("email", "li.na@", "not a valid email"),
        ("birthday", "2999-01-01", "cannot be in the future"),
    ],
)
def test_invalid_values_get_field_level_messages_in_form_and_api(
    rep, client_for, api_for, field, value, message
):
    data = {
        "kind": Kind.PERSON,
        "name": "张三",
        "customer_type": "consumer",
        "lifecycle_stage": "prospect",
        field: value,
    }
    page = client_for(rep).post("/customers/new/", data)
    assert page.status_code == 400
    assert message in page.content.decode()
    response = api_for(rep).post("/api/customers/", data, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert message in str(response.json()[field])
    assert not Customer.objects.exists()


def test_organisation_cannot_belong_to_an_account_and_hierarchy_has_no_loops(rep):
    head = services.customer_create(data={"name": "总部集团"}, by=rep)
    branch = services.customer_create(data={"name": "分公司", "parent": head}, by=rep)
    with pytest.raises(ValidationError) as exc:
        services.customer_update(
            customer=head, data={"parent": branch}, by=rep, expected_version=head.version
        )
    assert "loop" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        services.customer_create(data={"name": "子公司", "account": head}, by=rep)
    assert "parent account" in str(exc.value)


def test_contact_points_validate_and_refuse_duplicates(rep):
    c = services.customer_create(data={"name": "李娜", "kind": Kind.PERSON, "phone": "13812345678"}, by=rep)
    with pytest.raises(ValidationError) as exc:
        services.contact_point_add(customer=c, kind="phone", value="138-1234-5678", by=rep)
    assert "already has this phone" in str(exc.value)
    with pytest.raises(ValidationError):
        services.contact_point_add(customer=c, kind="email", value="not-an-email", by=rep)
    services.contact_point_add(customer=c, kind="phone", value="+1 212 736 1234", label="work", by=rep)
    c.refresh_from_db()
    assert CustomerPhone.objects.filter(customer=c).count() == 2
    assert "phone+2127361234" in c.search_restricted
    assert AuditEntry.objects.filter(
        model="customers.customer", object_id=str(c.pk), action="update"
    ).exists()


def test_consent_history_is_appended_and_current_state_follows_latest(rep):
    c = services.customer_create(data={"name": "王芳", "kind": Kind.PERSON}, by=rep)
    services.consent_record(customer=c, channel="email", status="granted", method="web_form", by=rep)
    services.consent_record(customer=c, channel="email", status="withdrawn", method="unsubscribe", by=None)
    c.refresh_from_db()
    assert c.consent["email"]["status"] == "withdrawn"
    assert not services.has_consent(c, "email")
    assert list(
        ConsentEvent.objects.filter(customer=c).order_by("at", "id").values_list("status", flat=True)
    ) == [
        "granted",
        "withdrawn",
    ]
    entries = AuditEntry.objects.filter(model="customers.customer", object_id=str(c.pk), action="update")
    assert any("consent.email" in e.changes for e in entries)


def test_lifecycle_changes_are_recorded_with_reason(rep):
    c = services.customer_create(data={"name": "恒达贸易"}, by=rep)
    services.lifecycle_set(
        customer=c, stage=Stage.CUSTOMER, by=rep, reason="首单", expected_version=c.version
    )
    services.lifecycle_set(customer=c, stage=Stage.LOYAL, by=rep, reason="", expected_version=c.version)
    stages = list(
        LifecycleChange.objects.filter(customer=c).order_by("at", "id").values_list("to_stage", flat=True)
    )
    assert stages == [Stage.PROSPECT, Stage.CUSTOMER, Stage.LOYAL]
    assert LifecycleChange.objects.get(to_stage=Stage.CUSTOMER).reason == "首单"


def test_360_page_shows_profile_contacts_points_and_uses_constant_queries(rep, client_for):
    account = services.customer_create(data={"name": "上海星辰电子有限公司", "phone": "02161234567"}, by=rep)
    for i in range(3):
        services.customer_create(data={"name": f"联系人{i}", "kind": Kind.PERSON, "account": account}, by=rep)
    client = client_for(rep)
    url = f"/customers/{account.pk}/"
    with CaptureQueriesContext(connection) as few:
        page = client.get(url)
    body = page.content.decode()
    assert page.status_code == 200
    assert "上海星辰电子有限公司" in body and "联系人2" in body and "021 6123 4567" in body
    for i in range(3, 20):
        services.customer_create(data={"name": f"联系人{i}", "kind": Kind.PERSON, "account": account}, by=rep)
    with CaptureQueriesContext(connection) as many:
        page = client.get(url)
    assert "联系人19" in page.content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)


def test_api_create_update_with_etag_and_search(rep, api_for):
    api = api_for(rep)
    created = api.post(
        "/api/customers/", {"name": "杭州博雅软件有限公司", "phone": "+86 571 8888 1234"}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["phone"] == "+8657188881234"
    assert body["owner"] == rep.pk
    pk = body["id"]
    etag = created["ETag"]
    changed = api.patch(
        f"/api/customers/{pk}/", {"lifecycle_stage": "customer"}, format="json", HTTP_IF_MATCH=etag
    )
    assert changed.status_code == 200
    assert LifecycleChange.objects.filter(customer_id=pk, to_stage="customer").exists()
    stale = api.patch(f"/api/customers/{pk}/", {"city": "杭州"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 409
    found = api.get("/api/customers/", {"q": "博雅"})
    assert [row["id"] for row in found.json()["results"]] == [pk]


def test_account_can_only_be_chosen_among_visible_organisations(rep, make_user, client_for, api_for):
    stranger = make_user("customers.customer")
    hidden_org = services.customer_create(data={"name": "隐藏的机密公司"}, by=stranger)
    mine = services.customer_create(data={"name": "我的机密公司"}, by=rep)
    data = {"kind": Kind.PERSON, "name": "赵六", "customer_type": "business", "lifecycle_stage": "prospect"}
    response = api_for(rep).post("/api/customers/", {**data, "account": hidden_org.pk}, format="json")
    assert response.status_code == 400
    assert "account" in response.json()
    page = client_for(rep).post("/customers/new/", {**data, "account": hidden_org.pk})
    assert page.status_code == 400
    assert not Customer.objects.filter(name="赵六").exists()
    found = client_for(rep).get("/customers/lookup/organization/", {"q": "机密"}).json()
    assert [row["label"] for row in found] == ["我的机密公司"]
    ok = client_for(rep).post("/customers/new/", {**data, "account": mine.pk})
    assert ok.status_code == 302
    assert Customer.objects.get(name="赵六").account == mine


def test_custom_fields_filter_in_api(rep, api_for):
    from kehu.core.models import CustomField

    CustomField.objects.create(
        model="customers.customer", key="tier", label="Tier", field_type="choice", choices=["A", "B"]
    )
    a = services.customer_create(data={"name": "甲级客户", "custom": {"tier": "A"}}, by=rep)
    services.customer_create(data={"name": "乙级客户", "custom": {"tier": "B"}}, by=rep)
    api = api_for(rep)
    assert [r["id"] for r in api.get("/api/customers/", {"cf_tier": "A"}).json()["results"]] == [a.pk]
    bad = api.get("/api/customers/", {"cf_tier": "Z"})
    assert bad.status_code == 400 and "cf_tier" in bad.json()
    assert api.get("/api/customers/", {"cf_nope": "1"}).status_code == 400


def test_list_filters_by_account_picker_and_creation_dates(make_user, client):
    import datetime as dt

    from django.utils import timezone

    from kehu.core.models import Scope
    from kehu.customers import services
    from kehu.customers.models import Customer, Kind

    rep = make_user("customers.customer", actions=("view", "add", "change"), read=Scope.OWN, write=Scope.OWN)
    other = make_user("customers.customer", actions=("view", "add"), read=Scope.OWN)
    acme = services.customer_create(data={"name": "筛选测试有限公司"}, by=rep)
    services.customer_create(data={"name": "王小明", "kind": Kind.PERSON, "account": acme}, by=rep)
    services.customer_create(data={"name": "李小红", "kind": Kind.PERSON}, by=rep)
    hidden = services.customer_create(data={"name": "别人的公司"}, by=other)
    services.customer_create(data={"name": "别人的联系人", "kind": Kind.PERSON, "account": hidden}, by=other)
    Customer.objects.filter(name="李小红").update(created_at=timezone.now() - dt.timedelta(days=400))
    client.force_login(rep)

    page = client.get("/customers/", {"account": acme.pk})
    assert [c.name for c in page.context["objects"]] == ["王小明"]
    assert (
        'data-testid="picker-account"' in page.content.decode()
        and "筛选测试有限公司" in page.content.decode()
    )
    # an account outside the user's scope is an invalid choice: the filter is ignored, nothing leaks
    leaked = client.get("/customers/", {"account": hidden.pk})
    assert "别人" not in leaked.content.decode()
    assert "account" in leaked.context["filterset"].form.errors

    today = timezone.localdate()
    recent = client.get("/customers/", {"created_after": f"{today - dt.timedelta(days=30):%Y-%m-%d}"})
    assert "李小红" not in {c.name for c in recent.context["objects"]}
    old = client.get("/customers/", {"created_before": f"{today - dt.timedelta(days=300):%Y-%m-%d}"})
    assert [c.name for c in old.context["objects"]] == ["李小红"]


def test_list_sorted_by_a_column_breaks_ties_by_name_in_the_same_direction(make_user, client):
    from kehu.core.models import Scope
    from kehu.customers import services

    rep = make_user("customers.customer", actions=("view", "add"), read=Scope.OWN, write=Scope.OWN)
    for name, city in (("乙公司", "上海"), ("甲公司", "上海"), ("丙公司", "北京"), ("Acme", "上海")):
        services.customer_create(data={"name": name, "city": city}, by=rep)
    client.force_login(rep)
    ascending = [(c.city, c.name) for c in client.get("/customers/", {"sort": "city"}).context["objects"]]
    assert ascending == sorted(ascending)
    descending = [(c.city, c.name) for c in client.get("/customers/", {"sort": "-city"}).context["objects"]]
    assert descending == sorted(ascending, reverse=True)


def test_a_birthday_today_in_shanghai_is_not_in_the_future_although_utc_is_a_day_behind(rep, frozen_clock):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from django.core.exceptions import ValidationError
    from django.utils import timezone

    frozen_clock.move_to(dt.datetime(2028, 2, 28, 16, 30, tzinfo=dt.UTC))  # 29 February 00:30 in Shanghai
    with timezone.override(ZoneInfo("Asia/Shanghai")):
        born = services.customer_create(
            data={"name": "闰日宝宝", "kind": "person", "birthday": "2028-02-29"}, by=rep
        )
        assert born.birthday == dt.date(2028, 2, 29)
    with timezone.override(ZoneInfo("UTC")), pytest.raises(ValidationError) as exc:
        services.customer_create(
            data={"name": "闰日宝宝二", "kind": "person", "birthday": "2028-02-29"}, by=rep
        )
    assert "future" in str(exc.value)
