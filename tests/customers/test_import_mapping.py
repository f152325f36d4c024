"""Mapping targets under field rights, header suggestions (English, Chinese, export labels), the mapping's
checks, and value coercion (choice labels in both languages)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from kehu.core.models import CustomField, FieldGrant, Scope
from kehu.customers.imports import mapping

pytestmark = pytest.mark.django_db


def keys(targets) -> set[str]:
    return {t.key for t in targets}


@pytest.fixture
def importer(make_user):
    return make_user("customers.customer", actions=("view", "add", "change", "import"), read=Scope.ALL)


def test_targets_follow_field_rights_and_owner_needs_transfer(importer, make_user):
    role = importer.roles.get()
    FieldGrant.objects.create(role=role, model="customers.customer", field="tax_id", access="hidden")
    FieldGrant.objects.create(role=role, model="customers.customer", field="email", access="readonly")
    CustomField.objects.create(model="customers.customer", key="level", label="客户等级", field_type="text")
    available = keys(mapping.targets_for(importer))
    assert {"name", "phone", "city", "tags", "wechat", "consent.sms", "custom.level", "id"} <= available
    # hidden, read-only, the extra emails that write the read-only email, and owner without transfer
    assert not {"tax_id", "email", "extra_email", "owner"} & available
    boss = make_user("customers.customer", actions=("view", "add", "import", "transfer"))
    assert "owner" in keys(mapping.targets_for(boss))
    FieldGrant.objects.create(role=role, model="customers.customer", field="custom", access="readonly")
    from kehu.core.access import Access

    Access.forget(importer)
    assert "custom.level" not in keys(mapping.targets_for(importer))


def test_suggestions_from_chinese_english_and_exported_headers(admin_user):
    targets = mapping.targets_for(admin_user)
    CustomField.objects.create(model="customers.customer", key="level", label="客户等级", field_type="text")
    targets = mapping.targets_for(admin_user)
    headers = [
        "姓名",
        "手机",
        "邮箱",
        "城市",
        "公司",
        "微信号",
        "Lead Source",
        "短信同意",
        "客户等级",
        "备注",
        "无关列",
    ]
    assert mapping.suggest(headers, targets) == [
        "name",
        "phone",
        "email",
        "city",
        "account",  # a person list: 公司 is the account
        "wechat",
        "source",
        "consent.sms",
        "custom.level",
        "notes",
        "",
    ]
    # a company list: 公司 is the customer's own name
    assert mapping.suggest(["公司", "电话"], targets) == ["name", "phone"]
    assert mapping.suggest(["公司名称", "联系电话", "E-mail"], targets) == ["name", "phone", "email"]
    # the column labels of Kehu's own export, in both languages
    for lang in ("en", "zh-hans"):
        with translation.override(lang):
            from kehu.customers.models import Customer

            exported = [
                str(Customer._meta.get_field(f).verbose_name) for f in ("name", "kind", "tax_id", "gender")
            ]
        assert mapping.suggest(exported, targets) == ["name", "kind", "tax_id", "gender"]


def test_duplicate_headers_second_phone_is_another_phone_other_repeats_are_left_out(admin_user):
    targets = mapping.targets_for(admin_user)
    assert mapping.suggest(["电话", "电话", "名称", "名称", "行号", "错误"], targets) == [
        "phone",
        "extra_phone",
        "name",
        "",
        "",  # the columns an error report adds are never imported
        "",
    ]


def test_validate_names_every_problem(admin_user, importer):
    headers = ["名称", "电话", "电话2", "税号"]
    targets = mapping.targets_for(admin_user)
    ok = mapping.validate(["name", "phone", "extra_phone", "tax_id"], headers, targets, {"mode": "create"})
    assert ok == []
    problems = mapping.validate(["phone", "phone", "", "nope"], headers, targets, {"mode": "create"})
    text = " | ".join(problems)
    assert "Columns A “名称”, B “电话” are all mapped to “Phone”" in text
    assert "Column D “税号” cannot be imported into “nope”" in text
    assert "Map a column to the name" in text
    assert (
        mapping.validate(["", "", "", ""], headers, targets, {"mode": "create"})[0]
        == "Map at least one column."
    )
    update = mapping.validate(["name", "", "", ""], headers, targets, {"mode": "update", "match_on": "phone"})
    assert update == ["To find the customers to update, map a column to Phone."]
    assert mapping.validate(["name"], headers, targets, {"mode": "create"})[0].startswith(
        "The mapping must name"
    )
    CustomField.objects.create(
        model="customers.customer", key="region", label="大区", field_type="text", required=True
    )
    targets = mapping.targets_for(admin_user)
    assert mapping.validate(["name", "", "", ""], headers, targets, {"mode": "create"}) == [
        "Map a column to the required custom field “大区”: new customers need it."
    ]


def test_choice_values_accept_codes_and_labels_in_both_languages():
    coercer = mapping.Coercer()
    assert coercer.choice("gender", "female") == "female"
    assert coercer.choice("gender", "Female") == "female"
    assert coercer.choice("gender", "女") == "female"
    assert coercer.choice("gender", "男性") == "male"
    assert coercer.choice("kind", "企业") == "organization"
    assert coercer.choice("kind", "个人") == "person"
    assert coercer.choice("lifecycle_stage", "Loyal customer") == "loyal"
    with translation.override("zh-hans"):
        from kehu.customers.models import Stage

        loyal_zh = str(Stage.LOYAL.label)
    assert coercer.choice("lifecycle_stage", loyal_zh) == "loyal"
    assert coercer.choice("preferred_language", "简体中文") == "zh-hans"
    assert coercer.choice("customer_type", "ＲＥＴＡＩＬＥＲ") == "retailer"  # full-width letters
    with pytest.raises(ValidationError, match="“VIP” is not a valid lifecycle stage: use one of"):
        coercer.choice("lifecycle_stage", "VIP")


def test_dates_consent_ids_and_lists():
    coercer = mapping.Coercer()
    assert str(coercer.date("1990-5-1")) == "1990-05-01"
    assert str(coercer.date("1990/05/01")) == "1990-05-01"
    assert str(coercer.date("1990年5月1日")) == "1990-05-01"
    assert str(coercer.date("1990-05-01 00:00:00")) == "1990-05-01"
    for bad in ("1990-02-30", "5/1/1990", "昨天"):
        with pytest.raises(ValidationError, match=f"“{bad}” (is not a date|could be)"):
            coercer.date(bad)
    assert str(coercer.date("5/1/1990", "mdy")) == "1990-05-01"
    assert [coercer.consent(v) for v in ("是", "yes", "同意", "1", "TRUE")] == ["granted"] * 5
    assert [coercer.consent(v) for v in ("否", "退订", "no", "0")] == ["withdrawn"] * 4
    with pytest.raises(ValidationError, match="not a consent answer"):
        coercer.consent("也许")
    assert coercer.record_id("#12") == 12 and coercer.record_id("12.0") == 12
    with pytest.raises(ValidationError, match="not a customer id"):
        coercer.record_id("十二")
    assert coercer.split("a@x.com; b@x.com，c@x.com、d@x.com") == ["a@x.com", "b@x.com", "c@x.com", "d@x.com"]
    assert coercer.website("www.example.com") == "https://www.example.com"
    assert coercer.website("http://example.com") == "http://example.com"
