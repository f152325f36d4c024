"""Findings of importing real exports from other systems (issue 8), each with a small file the test writes:
dates in many forms, day/month order per column, phone extensions, GBK with 0x80, header rows below a title."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from kehu.core.models import CustomField, Scope
from kehu.customers.imports import reader, services
from kehu.customers.models import Customer, CustomerPhone
from kehu.customers.search import match_customers
from kehu.customers.selectors import customer_list

from .importing import configure, csv_bytes, preview, run, upload, xlsx_bytes

pytestmark = pytest.mark.django_db

ALL = ("view", "add", "change", "delete", "import", "export", "transfer")


@pytest.fixture
def rep(make_user):
    return make_user("customers.customer", actions=ALL, read=Scope.OWN, write=Scope.OWN)


@pytest.fixture
def signed_up(db):
    return CustomField.objects.create(
        model="customers.customer", key="signed_up", label="签约日期", field_type="date"
    )


# ------------------------------------------------------------------------------------------------ dates
def test_dates_of_chinese_and_western_exports_are_read_and_their_form_shown_in_the_preview(rep, signed_up):
    rows = [
        ["名称", "生日", "签约日期"],
        ["甲", "19560409", "2023/5/1"],
        ["乙", "1980年2月3日", "2023年5月1日 14:30"],
        ["丙", "1990.7.8", "2023.5.1"],
        ["丁", "1975-01-02 00:00:00", "2023-05-01T09:00:00"],
    ]
    job = upload(rep, csv_bytes(rows))
    configure(job, rep, ["name", "birthday", "custom.signed_up"])
    preview(job, rep)
    assert job.preview["counts"] == {"create": 4}
    assert job.preview["formats"] == {
        "1": {"compact": 1, "ymd_cn": 1, "ymd_dot": 1, "ymd": 1},
        "2": {"ymd_slash": 1, "ymd_cn": 1, "ymd_dot": 1, "ymd": 1},
    }
    page = Client()
    page.force_login(rep)
    html = page.get(job.get_absolute_url()).content.decode()
    assert "YYYYMMDD" in html and "YYYY/M/D" in html and "YYYY年M月D日" in html
    run(job, rep)
    assert Customer.objects.get(name="甲").birthday == dt.date(1956, 4, 9)
    assert Customer.objects.get(name="乙").birthday == dt.date(1980, 2, 3)
    assert {c.custom["signed_up"] for c in Customer.objects.all()} == {"2023-05-01"}


def test_an_excel_serial_date_and_a_date_cell_of_a_workbook(rep, signed_up):
    data = xlsx_bytes([["名称", "签约日期"], ["甲", 45047], ["乙", dt.datetime(2023, 5, 1, 10, 30)]])
    job = upload(rep, data, "customers.xlsx")
    configure(job, rep, ["name", "custom.signed_up"])
    run(job, rep)
    assert {c.custom["signed_up"] for c in Customer.objects.all()} == {"2023-05-01"}


def test_an_ambiguous_day_month_column_is_asked_once_and_read_in_that_order(rep):
    rows = [["名称", "生日"], ["甲", "03/04/1990"], ["乙", "05/06/1991"]]
    job = upload(rep, csv_bytes(rows))
    assert job.date_orders == ["", "ask"]
    configure(job, rep, ["name", "birthday"])
    preview(job, rep)
    issue = job.issues.get(row_number=2)
    assert "B “生日”" in issue.text and "“03/04/1990” could be 1990-04-03 or 1990-03-04" in issue.text
    page = Client()
    page.force_login(rep)
    mapping_page = page.get(reverse("customers:import_mapping", args=[job.pk])).content.decode()
    assert 'name="date_order_1"' in mapping_page
    configure(job, rep, ["name", "birthday"], date_orders={"1": "mdy"})
    run(job, rep)
    assert Customer.objects.get(name="甲").birthday == dt.date(1990, 3, 4)
    assert Customer.objects.get(name="乙").birthday == dt.date(1991, 5, 6)


def test_a_value_that_settles_the_order_settles_the_column(rep):
    rows = [["名称", "生日"], ["甲", "03/04/1990"], ["乙", "25/12/1991"]]
    job = upload(rep, csv_bytes(rows))
    assert job.date_orders == ["", "dmy"]
    configure(job, rep, ["name", "birthday"])
    run(job, rep)
    assert Customer.objects.get(name="甲").birthday == dt.date(1990, 4, 3)
    with pytest.raises(ValidationError):
        configure(job, rep, ["name", "birthday"], date_orders={"1": "ydm"})


# ------------------------------------------------------------------------------------------------ phones
def test_phone_extensions_are_kept_shown_and_the_number_still_found(rep):
    rows = [
        ["名称", "电话", "座机"],
        ["苏州甲公司", "0512-87800562转775", "010-12345678分机123"],
        ["乙公司", "021-55556666 ext. 88", "+1 650 253 0000 x123"],
    ]
    job = upload(rep, csv_bytes(rows))
    configure(job, rep, ["name", "phone", "extra_phone"])
    run(job, rep)
    assert job.failed == 0 and job.created == 2
    first = Customer.objects.get(name="苏州甲公司")
    assert first.phone == "+8651287800562"
    assert {(p.number, p.extension) for p in first.phones.all()} == {
        ("+8651287800562", "775"),
        ("+861012345678", "123"),
    }
    second = Customer.objects.get(name="乙公司")
    assert {(p.number, p.extension) for p in second.phones.all()} == {
        ("+862155556666", "88"),
        ("+16502530000", "123"),
    }
    page = Client()
    page.force_login(rep)
    with translation.override("zh-hans"):
        html = page.get(first.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "0512 8780 0562 转 775" in html
    found = match_customers(customer_list(user=rep), "0512-87800562", user=rep)
    assert list(found.values_list("name", flat=True)) == ["苏州甲公司"]


def test_an_update_adds_the_extension_of_its_new_phone(rep):
    job = upload(rep, csv_bytes([["名称", "邮箱"], ["甲", "a@example.com"]]))
    configure(job, rep)
    run(job, rep)
    rows = [["名称", "邮箱", "电话"], ["甲", "a@example.com", "010-12345678转9"]]
    job = upload(rep, csv_bytes(rows))
    configure(job, rep, ["name", "email", "phone"], mode="upsert", match_on="email")
    run(job, rep)
    assert job.updated == 1
    phone = CustomerPhone.objects.get(customer__name="甲", number="+861012345678")
    assert phone.extension == "9" and phone.is_primary


# ------------------------------------------------------------------------------------------------ encoding
def test_a_gbk_file_with_the_euro_sign_of_code_page_936_is_read(rep):
    data = "名称,备注\r\n欧元客户,价格 ".encode("gb18030") + b"\x80" + "100\r\n".encode("gb18030")
    job = upload(rep, data)
    assert job.encoding == "gb18030"
    configure(job, rep, ["name", "notes"])
    run(job, rep)
    assert Customer.objects.get(name="欧元客户").notes == "价格 €100"


def test_a_file_that_is_neither_utf8_nor_gbk_is_refused_with_the_line(rep):
    data = "名称\r\n甲\r\n".encode("gb18030") + b"\x81\x20broken\r\n"
    with pytest.raises(ValidationError, match="line 3"):
        upload(rep, data)


# ------------------------------------------------------------------------------------------------ header row
def _titled_workbook() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["客户导出 2023-05-01"])
    sheet.merge_cells("A1:C1")
    sheet.append([])
    sheet.append(["名称", "电话", "城市"])
    sheet.append(["甲公司", "13812345678", "苏州"])
    sheet.append(["乙公司", "13812345679", "上海"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_a_merged_title_above_the_header_is_passed_over(rep):
    job = upload(rep, _titled_workbook(), "export.xlsx")
    assert job.header_row == 3 and job.headers == ["名称", "电话", "城市"] and job.total_rows == 2
    assert job.mapping == ["name", "phone", "city"]
    run(configure(job, rep), rep)
    assert sorted(Customer.objects.values_list("name", "city")) == [("乙公司", "上海"), ("甲公司", "苏州")]


def test_the_user_can_choose_another_header_row(rep):
    rows = [["名称", "电话"], ["客户名", "手机"], ["甲", "13812345678"]]
    job = upload(rep, csv_bytes(rows))
    assert job.header_row == 1 and job.total_rows == 2
    services.import_reread(job=job, by=rep, header_row=2)
    job.refresh_from_db()
    assert job.headers == ["客户名", "手机"] and job.total_rows == 1 and job.mapping == ["name", "phone"]
    run(configure(job, rep), rep)
    assert list(Customer.objects.values_list("name", flat=True)) == ["甲"]


def test_header_detection_of_a_csv_title_line():
    data = csv_bytes([["客户列表"], ["名称", "电话"], ["甲", "1"]])
    info = reader.inspect(data, "a.csv")
    assert info.header_row == 2 and info.headers == ["名称", "电话"] and info.total_rows == 1
    assert list(reader.iter_rows(data, info)) == [(3, ["甲", "1"])]


# ------------------------------------------------------------------------------------------------ messages
def test_a_short_row_is_imported_and_reported(rep):
    data = "名称,电话,城市,备注\r\n甲公司,13812345678\r\n乙公司,13812345679,上海,\r\n".encode()
    job = upload(rep, data)
    configure(job, rep, ["name", "phone", "city", "notes"])
    preview(job, rep)
    (issue,) = job.issues.all()
    assert issue.row_number == 2 and issue.level == "warning"
    assert "has 2 cells but the header names 4 columns" in issue.text and "“城市”, “备注”" in issue.text
    run(job, rep)
    assert job.created == 2
    assert job.issues.filter(phase="run", level="warning").count() == 1


def test_an_email_on_a_chinese_domain_is_shown_as_typed(rep):
    rows = [["名称", "邮箱"], ["甲", "info@例子.中国"], ["乙", "错误@例子.中国"]]
    job = upload(rep, csv_bytes(rows))
    configure(job, rep, ["name", "email"])
    run(job, rep)
    issue = job.issues.get()
    assert "“错误@例子.中国” is not a valid email address" in issue.text and "xn--" not in issue.text
    customer = Customer.objects.get(name="甲")
    page = Client()
    page.force_login(rep)
    html = page.get(customer.get_absolute_url()).content.decode()
    assert "info@例子.中国" in html


def test_too_long_values_name_the_field_and_quote_the_value(rep):
    long_title = "总" * 130
    job = upload(rep, csv_bytes([["名称", "职位"], ["甲", long_title]]))
    configure(job, rep, ["name", "job_title"])
    with translation.override("zh-hans"):
        run(job, rep)
    text = job.issues.get().text
    assert "该变量" not in text
    assert "B “职位”" in text and "“" + "总" * 40 + "…”" in text and "130" in text and "120" in text


def test_a_custom_field_error_quotes_the_value(rep):
    CustomField.objects.create(model="customers.customer", key="staff", label="员工数", field_type="number")
    job = upload(rep, csv_bytes([["名称", "员工数"], ["甲", "很多"]]))
    configure(job, rep, ["name", "custom.staff"])
    run(job, rep)
    assert "B “员工数”: “很多”: " in job.issues.get().text


# ------------------------------------------------------------------------------------------------ matches
def test_the_same_phone_on_an_organisation_and_a_person_is_flagged_as_possibly_related(rep):
    from kehu.customers import services as customer_services

    company = customer_services.customer_create(data={"name": "星辰科技", "phone": "13855556666"}, by=rep)
    job = upload(rep, csv_bytes([["名称", "电话", "类别"], ["王小明", "13855556666", "个人"]]))
    configure(job, rep, ["name", "phone", "kind"])
    preview(job, rep)
    assert job.preview["counts"] == {"create": 1}
    (issue,) = job.issues.all()
    assert issue.row_number == 2 and issue.level == "warning"
    assert f"Possibly related: “星辰科技” (#{company.pk}), organisation, has the same phone" in issue.text
    assert "138 5555 6666" in issue.text
    # a contact of that very organisation is what it should be
    contact = upload(rep, csv_bytes([["名称", "电话", "所属公司"], ["李四", "13855556666", "星辰科技"]]))
    configure(contact, rep, ["name", "phone", "account"])
    preview(contact, rep)
    assert contact.preview["counts"] == {"create": 1} and not contact.issues.exists()


def test_two_rows_with_the_same_phone_and_email_are_refused_even_with_import_anyway(rep):
    rows = [
        ["名称", "电话", "邮箱"],
        ["甲", "13866667777", "a@example.com"],
        ["甲（重复）", "13866667777", "a@example.com"],
    ]
    job = upload(rep, csv_bytes(rows))
    configure(job, rep, ["name", "phone", "email"], duplicates="allow")
    preview(job, rep)
    assert job.preview["counts"] == {"create": 1, "error": 1}
    run(job, rep)
    assert (job.created, job.failed) == (1, 1)
    assert (
        "Row 2 of this file has the same phone (+8613866667777): combine the two rows"
        in job.issues.get(phase="run").text
    )


def test_the_refusal_holds_across_batches_and_a_resumed_run(rep, settings):
    from .importing import work

    settings.KEHU_IMPORT_BATCH = 1
    rows = [["名称", "电话"], ["甲", "13866667777"], ["乙", "13866667778"], ["甲2", "13866667777"]]
    job = upload(rep, csv_bytes(rows))
    configure(job, rep, ["name", "phone"], duplicates="allow")
    services.import_start(job=job, by=rep)
    assert work(job, max_batches=1) == "paused"  # a new worker goes on: it knows row 2 by its ImportRow
    assert work(job) == "done"
    assert (job.created, job.failed) == (2, 1)


# ------------------------------------------------------------------------------------------------ values
def test_choice_values_are_mapped_in_a_value_step_with_suggestions(rep):
    rows = [
        ["名称", "来源"],
        ["甲", "网站"],
        ["乙", "电话营销"],
        ["丙", "百度推广"],
        ["丁", "Website"],
        ["戊", "火星"],
    ]
    job = upload(rep, csv_bytes(rows))
    configure(job, rep, ["name", "source"])
    from kehu.customers.imports import mapping

    targets = mapping.targets_for(rep)
    assert mapping.needs_values(job, targets)
    ((index, target, _options, suggestions),) = mapping.value_columns(job, targets)
    found = {s.value: (s.suggested, s.how) for s in suggestions}
    assert found == {
        "网站": ("web", "similar"),
        "电话营销": ("call", "similar"),
        "百度推广": ("campaign", "similar"),
        "Website": ("web", "exact"),
        "火星": ("", ""),
    }
    # the page: the mapping form leads to the value step, which saves the choices and starts the preview
    page = Client()
    page.force_login(rep)
    form = {"mode": "create", "match_on": "phone_email", "duplicates": "skip", "default_kind": "organization"}
    response = page.post(
        reverse("customers:import_mapping", args=[job.pk]), {**form, "col_0": "name", "col_1": "source"}
    )
    assert response.status_code == 302 and response["Location"].endswith(f"/imports/{job.pk}/values/")
    html = page.get(response["Location"]).content.decode()
    assert "网站" in html and "百度推广" in html
    values = {f"v_1_{i}": code for i, code in enumerate(["web", "call", "campaign", "web", ""])}
    assert page.post(response["Location"], values).status_code == 302
    job.refresh_from_db()
    assert job.options["value_maps"]["source"]["火星"] == "" and job.status == "previewing"
    from .importing import work

    assert work(job) == "done"
    run(job, rep)
    assert job.failed == 0 and job.created == 5
    assert dict(Customer.objects.values_list("name", "source")) == {
        "甲": "web",
        "乙": "call",
        "丙": "campaign",
        "丁": "web",
        "戊": "import",  # left empty: the import's default
    }
    # the mapping template: the next file with the same columns starts with this mapping and these values
    again = upload(rep, csv_bytes([["名称", "来源"], ["己", "网站"]]))
    assert again.mapping == ["name", "source"] and again.options["value_maps"]["source"]["网站"] == "web"
    assert not mapping.needs_values(again, targets)


def test_value_maps_through_the_api_and_new_custom_choices_for_administrators(rep, make_user):
    from rest_framework.test import APIClient

    CustomField.objects.create(
        model="customers.customer", key="level", label="客户等级", field_type="choice", choices=["A", "B"]
    )
    rows = [["名称", "客户等级"], ["甲", "a级"], ["乙", "钻石"]]
    job = upload(rep, csv_bytes(rows))
    configure(job, rep, ["name", "custom.level"])
    api = APIClient()
    api.force_authenticate(rep)
    url = f"/api/imports/{job.pk}/values/"
    (column,) = api.get(url).json()
    assert column["target"] == "custom.level"
    assert {v["value"]: v["suggested"] for v in column["values"]} == {"a级": "A", "钻石": ""}
    refused = api.put(url, {"value_maps": {"custom.level": {"钻石": "+"}}}, format="json")
    assert refused.status_code == 400 and "Only an administrator" in refused.content.decode()
    assert api.put(url, {"value_maps": {"custom.level": {"钻石": "Z"}}}, format="json").status_code == 400
    admin = make_user(
        "customers.customer",
        actions=ALL,
        read=Scope.ALL,
        write=Scope.ALL,
        username="admin",
        is_superuser=True,
    )
    job.owner = admin
    job.save(update_fields=["owner"])
    api.force_authenticate(admin)
    response = api.put(url, {"value_maps": {"custom.level": {"a级": "A", "钻石": "+"}}}, format="json")
    assert response.status_code == 200, response.content
    assert CustomField.objects.get(key="level").choices == ["A", "B", "钻石"]
    run(job, admin)
    assert {c.name: c.custom["level"] for c in Customer.objects.all()} == {"甲": "A", "乙": "钻石"}


# ------------------------------------------------------------------------------------------------ targets
def test_address_contact_person_external_id_and_the_old_systems_created_date(rep):
    rows = [
        ["客户名称", "联系人", "详细地址", "外部编号", "创建时间"],
        ["苏州甲公司", "王经理", "江苏省苏州市工业园区星湖街328号", "CRM-0001", "2019/3/8 10:21"],
    ]
    job = upload(rep, csv_bytes(rows))
    assert job.mapping == ["name", "contact_person", "address", "external_id", "source_created_on"]
    run(configure(job, rep), rep)
    company = Customer.objects.get(name="苏州甲公司")
    assert (company.contact_person, company.external_id) == ("王经理", "CRM-0001")
    assert company.source_created_on == dt.date(2019, 3, 8)
    (address,) = company.addresses.all()
    # kept structured: province / city / district / street, as written (str() gives the line back)
    assert (address.province, address.city, address.district, address.street) == (
        "江苏省",
        "苏州市",
        "工业园区",
        "星湖街328号",
    )
    assert (str(address), address.kind, address.is_primary) == (
        "江苏省苏州市工业园区星湖街328号",
        "office",
        True,
    )
    # updating adds a new address once; the same address again changes nothing
    from kehu.customers import services as customer_services

    customer_services.customer_update(
        customer=company, data={"phone": "13812345678"}, by=rep, expected_version=company.version
    )
    rows = [["客户名称", "电话", "详细地址"], ["苏州甲公司", "13812345678", "上海市浦东新区世纪大道100号"]]
    for expected in ("updated", "unchanged"):
        job = upload(rep, csv_bytes(rows))
        run(configure(job, rep, mode="upsert", match_on="phone"), rep)
        assert getattr(job, expected) == 1
    assert sorted((str(a), a.is_primary) for a in company.addresses.all()) == [
        ("上海市浦东新区世纪大道100号", False),
        ("江苏省苏州市工业园区星湖街328号", True),
    ]
    assert company.addresses.get(is_primary=False).district == "浦东新区"


def test_a_postcode_goes_with_the_address_of_its_row(rep):
    rows = [
        ["姓名", "类别", "地址", "邮编"],
        ["李四", "个人", "浙江省杭州市西湖区文三路90号", "310 012"],
        ["王五", "个人", "", "310012"],
        ["赵六", "个人", "文三路91号", "31001"],
    ]
    job = upload(rep, csv_bytes(rows))
    assert job.mapping == ["name", "kind", "address", "postcode"]
    configure(job, rep)
    with translation.override("en"):
        run(job, rep)
    (address,) = Customer.objects.get(name="李四").addresses.all()
    assert (address.province, address.city, address.district, address.street, address.postal_code) == (
        "浙江省",
        "杭州市",
        "西湖区",
        "文三路90号",
        "310012",
    )
    assert (address.kind, Customer.objects.get(name="王五").addresses.count()) == ("home", 0)
    messages = {(i.row_number, i.level): i.text for i in job.issues.filter(phase="run")}
    # no address in the row: imported without the postcode, and told so, quoting it
    assert "“310012”" in messages[(3, "warning")] and "邮编" in messages[(3, "warning")]
    # five digits: the row is refused with the value quoted and the column named
    assert "31001" in messages[(4, "error")] and "邮编" in messages[(4, "error")]
    assert not Customer.objects.filter(name="赵六").exists()


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("江苏省苏州市工业园区星湖街328号", ("江苏省", "苏州市", "工业园区", "星湖街328号")),
        ("上海市浦东新区世纪大道100号", ("上海市", "", "浦东新区", "世纪大道100号")),
        ("广东深圳市南山区科技园", ("广东", "深圳市", "南山区", "科技园")),
        ("苏州市工业园区星湖街328号", ("", "苏州市", "工业园区", "星湖街328号")),
        # nothing recognised, a city without a district, spaces: one street as typed
        ("文三路90号", ("", "", "", "文三路90号")),
        ("新华超市旁", ("", "", "", "新华超市旁")),
        ("江苏省 苏州市 星湖街", ("", "", "", "江苏省 苏州市 星湖街")),
        ("内蒙古自治区呼和浩特市", ("", "", "", "内蒙古自治区呼和浩特市")),
    ],
)
def test_split_address_keeps_the_text(text, parts):
    from kehu.customers.linkage import split_address

    split = split_address(text)
    assert (split["province"], split["city"], split["district"], split["street"]) == parts
    assert "".join(parts) == text


# ------------------------------------------------------------------------------------------------ identity
def test_resident_id_numbers_are_checked_and_kept_only_as_hash_and_mask(rep):
    from kehu.customers import identity

    good = "11010519491231002X"
    other = "330106199001010" + "12"
    other += identity.check_digit(other)
    wrong = good[:-1] + "1"  # check digit off
    rows = [
        ["姓名", "身份证号码", "出生日期"],
        ["甲", good, ""],  # the date of birth comes from the number
        ["乙", other.lower(), "1990/1/1"],  # the same date in another form
        ["丙", wrong, ""],
        ["丁", "123", ""],
        ["戊", good[:6] + "19491230" + good[14:], "1949-12-30"],  # checksum no longer fits
        ["己", other, "1991-01-01"],  # a date of birth that is not the number's
    ]
    job = upload(rep, csv_bytes(rows))
    assert job.mapping == ["name", "id_number", "birthday"]
    with translation.override("en"):
        run(configure(job, rep), rep)
    first = Customer.objects.get(name="甲")
    assert (first.id_number_masked, first.id_number_hash) == ("1101**********002X", identity.digest(good))
    assert first.birthday == dt.date(1949, 12, 31)
    second = Customer.objects.get(name="乙")
    assert second.id_number_hash == identity.digest(other) and second.birthday == dt.date(1990, 1, 1)
    issues = {i.row_number: i.text for i in job.issues.all()}
    assert set(issues) == {4, 5, 6, 7}
    # the message names the column and quotes the number masked: the clear number is never stored
    assert (
        "B “身份证号码”" in issues[4] and "“1101**********0021”" in issues[4] and "check digit" in issues[4]
    )
    assert "“***”" in issues[5] and "17 digits" in issues[5]
    assert "C “出生日期”" in issues[7] and "1991-01-01" in issues[7] and "1990-01-01" in issues[7]
    assert not any(number in text for text in issues.values() for number in (good, wrong, other))
    assert not Customer.objects.filter(name__in=["丙", "丁", "戊", "己"]).exists()


def test_the_id_number_target_follows_the_field_grant(rep):
    from kehu.core.access import Access
    from kehu.core.models import FieldGrant
    from kehu.customers.imports import mapping

    assert "id_number" in {t.key for t in mapping.targets_for(rep)}
    FieldGrant.objects.create(
        role=rep.roles.get(), model="customers.customer", field="id_number_masked", access="readonly"
    )
    Access.forget(rep)
    assert "id_number" not in {t.key for t in mapping.targets_for(rep)}


def test_a_masked_id_number_is_left_out_with_a_warning_and_the_rest_of_the_row_imported(rep):
    """Real exports mask the number for users without the right to see it (110101********1234): such a cell is
    neither an error of the row nor a number to keep — the row imports without it, and the issue says so."""
    from kehu.customers import identity

    good = "11010519491231002X"
    rows = [
        ["姓名", "身份证号码", "出生日期", "电话"],
        ["甲", "110101********1234", "1980/5/6", "13812345601"],
        ["乙", "3201**********123X", "", "13812345602"],
        ["丙", "３２０１＊＊＊＊＊＊＊＊＊＊１２３ｘ", "", ""],  # full-width, as some exports write it
        ["丁", good, "", ""],
        ["戊", "110101********1234", "1949-12-30", ""],  # no ID number kept: nothing to contradict
    ]
    job = upload(rep, csv_bytes(rows, encoding="gbk"))
    assert job.mapping == ["name", "id_number", "birthday", "phone"]
    with translation.override("en"):
        configure(job, rep)
        preview(job, rep)
        previewed = {i.row_number: i.level for i in job.issues.filter(phase="preview")}
        assert previewed == dict.fromkeys([2, 3, 4, 6], "warning")
        run(job, rep)
    assert job.created == 5 and job.failed == 0
    first = Customer.objects.get(name="甲")
    assert (first.id_number_hash, first.id_number_masked) == ("", "")
    assert first.birthday == dt.date(1980, 5, 6) and first.phone == "+8613812345601"
    assert Customer.objects.get(name="乙").phone == "+8613812345602"
    assert Customer.objects.get(name="丁").id_number_hash == identity.digest(good)
    assert Customer.objects.get(name="戊").birthday == dt.date(1949, 12, 30)
    issues = {i.row_number: i for i in job.issues.filter(phase="run")}
    assert set(issues) == {2, 3, 4, 6}
    assert all(i.level == "warning" for i in issues.values())
    # the warning names the row's column and quotes the masked value, in the masked form Kehu shows
    assert "B “身份证号码”" in issues[2].text and "“1101**********1234”" in issues[2].text
    assert "masked" in issues[2].text and "“3201**********123X”" in issues[3].text


def test_a_masked_id_number_does_not_replace_the_stored_one_on_update(rep):
    from kehu.customers import identity

    good = "11010519491231002X"
    job = upload(rep, csv_bytes([["姓名", "电话", "身份证号码"], ["甲", "13812345601", good]]))
    run(configure(job, rep), rep)
    rows = [["姓名", "电话", "身份证号码", "职务"], ["甲", "13812345601", "1101**********002X", "经理"]]
    job = upload(rep, csv_bytes(rows))
    run(configure(job, rep, mode="upsert", match_on="phone"), rep)
    assert job.updated == 1 and job.failed == 0
    first = Customer.objects.get(name="甲")
    assert first.id_number_hash == identity.digest(good) and first.job_title == "经理"


@pytest.mark.parametrize(
    "value, masked",
    [
        ("110101********1234", True),
        ("3201**********123X", True),
        ("1101 **** **** **12 34", True),
        ("110101××××××××1234", True),
        ("******************", False),  # nothing left of it: an empty cell, really
        ("11010519491231002X", False),
        ("abc*", False),
        ("", False),
    ],
)
def test_masked_id_numbers_are_recognised(value, masked):
    from kehu.customers import identity

    assert identity.is_masked(value) is masked
