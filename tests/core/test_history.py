"""The change history presenter (issue 7 item 9; kehu/core/history.py): labels instead of field names and
codes, translated, FK names, only real changes, never internal or hidden fields; creations and imports
summarised; the stale-save message names only what someone changed."""

from __future__ import annotations

import pytest
from django.utils import translation

from kehu.core import audit
from kehu.core.exceptions import StaleRecordError
from kehu.core.history import Presenter, present
from kehu.core.models import AuditAction, AuditEntry, FieldAccess, FieldGrant, Scope
from kehu.customers import services
from kehu.customers.models import Customer, Stage
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

INTERNAL = ("name_key", "name_pinyin", "name_initials", "search_text", "search_restricted", "id", "version")


def _entries(customer):
    return list(
        AuditEntry.objects.filter(model="customers.customer", object_id=str(customer.pk)).order_by("id")
    )


@pytest.fixture
def rep(make_user):
    return make_user("customers.customer", read=Scope.ALL, write=Scope.ALL, display_name="张伟")


@pytest.fixture
def customer(rep):
    return services.customer_create(
        data={"name": "北京天成科技有限公司", "tax_id": "91110000MA01ABCD1X", "income_band": "upper_middle"},
        by=rep,
    )


def _update(customer, by, **data):
    customer.refresh_from_db()
    return services.customer_update(customer=customer, data=data, by=by, expected_version=customer.version)


def test_labels_choice_labels_and_only_real_changes(customer, rep):
    _update(customer, rep, lifecycle_stage="customer", city="北京", owner=rep)
    with translation.override("en"):
        (item,) = present(_entries(customer)[1:], model=Customer, user=rep)
        by_key = {c.key: c for c in item.changes}
    # the owner did not change (it was set from an object): no phantom "owner: #3 → 张伟 (#3)"
    assert set(by_key) == {"lifecycle_stage", "city"}
    stage = by_key["lifecycle_stage"]
    assert (stage.label, stage.before, stage.after) == ("lifecycle stage", "Prospect", "Customer")
    assert (by_key["city"].before, by_key["city"].after) == ("—", "北京")


def test_field_names_and_values_are_translated(customer, rep):
    _update(customer, rep, lifecycle_stage="customer")
    with translation.override("zh-hans"):
        (item,) = present(_entries(customer)[1:], model=Customer, user=rep)
        (change,) = item.changes
        assert change.label == translation.gettext("lifecycle stage") != "lifecycle stage"
        assert change.after == str(Stage.CUSTOMER.label) != "customer"


def test_the_audit_diff_records_no_phantom_fk_change(customer, rep, make_user):
    other = UserFactory(display_name="李娜")
    customer.refresh_from_db()  # owner not loaded: the "before" snapshot used to read "#3"
    _update(customer, rep, notes="x", owner=rep)
    entry = _entries(customer)[-1]
    assert set(entry.changes) == {"notes"}
    # a real change reads with names on both sides
    admin = UserFactory(is_superuser=True)
    _update(customer, admin, owner=other)
    entry = _entries(customer)[-1]
    assert entry.changes["owner"] == [f"张伟 (#{rep.pk})", f"李娜 (#{other.pk})"]
    (item,) = present([entry], model=Customer, user=rep)
    assert [(c.before, c.after) for c in item.changes] == [("张伟", "李娜")]


def test_older_phantom_entries_and_bare_fk_ids_are_presented_sensibly(customer, rep):
    other = UserFactory(display_name="李娜")
    phantom = audit.log(
        actor=rep,
        action=AuditAction.UPDATE,
        instance=customer,
        changes={"owner": [f"#{rep.pk}", f"张伟 (#{rep.pk})"], "city": ["", "上海"]},
    )
    bare = audit.log(
        actor=rep,
        action=AuditAction.UPDATE,
        instance=customer,
        changes={"owner": [f"#{rep.pk}", f"#{other.pk}"]},
    )
    first, second = present([phantom, bare], model=Customer, user=rep)
    assert [c.key for c in first.changes] == ["city"]
    assert [(c.before, c.after) for c in second.changes] == [("张伟", "李娜")]


def test_internal_fields_are_never_shown(customer, rep, client):
    _update(customer, rep, name="北京天成和科技集团有限公司")
    entries = _entries(customer)
    assert any("search_text" in e.changes for e in entries)  # the trail keeps them ...
    for item in present(entries, model=Customer, user=rep):  # ... the history never shows them
        assert not {c.key for c in item.changes} & set(INTERNAL)
    client.force_login(rep)
    page = client.get(customer.get_absolute_url()).content.decode()
    customer.refresh_from_db()
    for value in (customer.search_text, customer.name_pinyin, "search text", "name key", "search_text"):
        assert value not in page


def test_hidden_fields_are_never_shown(customer, rep, make_user, client, api_for):
    agent = make_user("customers.customer", read=Scope.ALL, write=Scope.NONE)
    role = agent.roles.get()
    for fname in ("tax_id", "income_band", "phone"):
        FieldGrant.objects.create(
            role=role, model="customers.customer", field=fname, access=FieldAccess.HIDDEN
        )
    from tests.factories import grant

    grant(role, "core.auditentry", ("view",), Scope.ALL, Scope.NONE)
    _update(customer, rep, tax_id="91110000MA01ZZZZ9Q", phone="13911112222", city="天津")
    services.contact_point_add(customer=customer, kind="phone", value="13933334444", by=rep)
    keys = {c.key for item in present(_entries(customer), model=Customer, user=agent) for c in item.changes}
    assert "city" in keys and not keys & {"tax_id", "income_band", "phone", "phones", "search_text"}
    client.force_login(agent)
    for url in (customer.get_absolute_url(), f"/settings/audit/?object_id={customer.pk}"):
        page = client.get(url).content.decode()
        for secret in ("91110000MA01", "1391111", "13933334444", "139 3333", "upper_middle", "天成科技 9111"):
            assert secret not in page, (url, secret)
    data = api_for(agent).get("/api/audit/", {"object_id": customer.pk}).json()
    assert "91110000MA01" not in str(data) and "1391111" not in str(data) and "search_text" not in str(data)


def test_a_creation_is_summarised_as_its_starting_values(customer, rep):
    with translation.override("en"):
        (item,) = present(_entries(customer)[:1], model=Customer, user=rep)
        shown = {c.label: c.after for c in item.changes}
        assert all(c.single for c in item.changes)
    assert shown["name"] == "北京天成科技有限公司"
    assert shown["income band"] != "upper_middle"
    assert "name key" not in shown and "search text" not in shown and "owner" in shown


def test_an_import_entry_reads_as_counts(rep, admin_user, client):
    entry = audit.log(
        actor=rep,
        action=AuditAction.IMPORT,
        model="customers.customer",
        object_id="*",
        object_repr="客户.csv",
        changes={"created": 5, "updated": 2, "failed": 0},
    )
    with translation.override("en"):
        (item,) = present([entry], model="customers.customer")
        assert [(c.label, c.after, c.single) for c in item.changes] == [
            ("created", "5", True),
            ("updated", "2", True),
            ("with errors", "0", True),
        ]
    client.force_login(admin_user)
    page = client.get("/settings/audit/").content.decode()
    assert "— → —" not in page and "客户.csv" in page


def test_the_stale_save_message_names_only_real_changes_with_labels(customer, rep):
    customer.refresh_from_db()
    stale = customer.version
    _update(customer, rep, city="上海", owner=rep)
    with translation.override("en"), pytest.raises(StaleRecordError) as exc:
        services.customer_update(customer=customer, data={"city": "北京"}, by=rep, expected_version=stale)
    message = str(exc.value.message)
    assert "city" in message
    assert "owner" not in message and "search" not in message and "name key" not in message


def test_presenter_shows_custom_fields_by_label(customer, rep):
    from kehu.core.models import CustomField

    CustomField.objects.create(
        model="customers.customer", key="vip_level", label="VIP 等级", field_type="text"
    )
    entry = audit.log(
        actor=rep, action=AuditAction.UPDATE, instance=customer, changes={"custom.vip_level": ["", "金卡"]}
    )
    (change,) = Presenter(Customer, rep).changes(entry)
    assert (change.label, change.before, change.after) == ("VIP 等级", "—", "金卡")
