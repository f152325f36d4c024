"""Normalisation on every write path: full-/half-width, whitespace, phones, emails, and the keys."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from kehu.core.models import Scope
from kehu.customers import keys, normalize, services
from kehu.customers.models import Kind


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  北京　某某  科技\t有限公司 ", "北京 某某 科技 有限公司"),
        ("ＡＢＣ　１２３", "ABC 123"),
        ("华信科技（北京）有限公司", "华信科技（北京）有限公司"),  # Chinese punctuation is kept
        ("a\u200bb\x00c", "abc"),
        (None, ""),
    ],
)
def test_clean_text(raw, clean):
    assert normalize.clean_text(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "(+86) 138.1234.5678",
        "１３８１２３４５６７８",
        "8613812345678",
    ],
)
def test_phone_formats_are_one_number(raw):
    assert normalize.normalize_phone(raw) == "+8613812345678"


def test_landline_and_foreign_numbers():
    assert normalize.normalize_phone("(021) 6123 4567") == "+862161234567"
    assert normalize.normalize_phone("+1 212 736 1234") == "+12127361234"
    assert normalize.format_phone("+862161234567") == "021 6123 4567"


@pytest.mark.parametrize("raw", ["1381234567", "abc", "138-1234-567x", "+86 999"])
def test_bad_phones_are_refused_with_a_message(raw):
    with pytest.raises(ValidationError) as exc:
        normalize.normalize_phone(raw)
    assert raw.split()[0][:3] in exc.value.messages[0]


def test_emails():
    assert normalize.normalize_email(" Sales@BoYa.Example.CN ") == "sales@boya.example.cn"
    assert normalize.normalize_email("ｓａｌｅｓ＠ｂｏｙａ．ｃｎ") == "sales@boya.cn"
    assert normalize.normalize_email("info@例子.中国") == "info@xn--fsqu00a.xn--fiqs8s"
    for bad in ("sales@", "no at sign", "a@b@c"):
        with pytest.raises(ValidationError):
            normalize.normalize_email(bad)


def test_name_keys():
    assert normalize.name_key("陳 大文") == normalize.name_key("陈大文") == "陈大文"
    assert normalize.name_key("Northwind  Trading, Co.") == "northwindtradingco"
    assert normalize.pinyin_full("陳大文") == "chendawen"
    assert normalize.pinyin_initials("北京某某科技") == "bjmmkj"


@pytest.mark.parametrize(
    "name",
    [
        "北京华信科技有限公司",
        "华信科技（北京）有限公司",
        "华信科技 (北京) Co., Ltd.",
        "華信科技股份有限公司",
        "北京市华信科技有限责任公司",
    ],
)
def test_company_core(name):
    assert normalize.company_core(name) == "华信科技"


def test_english_company_core():
    assert normalize.company_core("Northwind Trading Co., Ltd.") == "northwindtrading"
    assert normalize.company_core("Northwind Trading Company Limited") == "northwindtrading"


def test_search_tokens_are_safe_for_every_backend():
    name = 'O\'Brien & "Sons" :* | ! \\'
    shared, restricted = keys.build_bags(name=name, alias=name, emails=["o'brien@example.com"], tax_id=name)
    text = shared + " " + restricted.replace(keys.TAG_MARK, " ")
    for bad in ("'", '"', ":", "|", "!", "\\", "&"):
        assert bad not in text


@pytest.mark.django_db
def test_every_write_path_normalises(make_user, api_for):
    rep = make_user("customers.customer", read=Scope.OWN, write=Scope.OWN)
    c = services.customer_create(
        data={"name": "  ＡＢＣ　贸易 ", "phone": "138-1234-5678", "email": "Info@ABC.CN"}, by=rep
    )
    assert (c.name, c.phone, c.email) == ("ABC 贸易", "+8613812345678", "info@abc.cn")
    assert list(c.phones.values_list("number", flat=True)) == ["+8613812345678"]
    response = api_for(rep).post(
        "/api/customers/", {"name": "李 四", "kind": Kind.PERSON, "phone": "+86 139 0000 1111"}, format="json"
    )
    assert response.status_code == 201 and response.json()["phone"] == "+8613900001111"
    bad = api_for(rep).post("/api/customers/", {"name": "王五", "phone": "12345"}, format="json")
    assert bad.status_code == 400 and "phone" in bad.json()
    with pytest.raises(ValidationError):
        services.contact_point_add(customer=c, kind="email", value="not-an-email", by=rep)
