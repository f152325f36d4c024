"""Import services: what rows become (same records and audit as customer_create), dry run, update modes,
duplicates, lookups, extra contact points and consent, row errors that never stop the file, error report,
export → import round trip, cancel, undo."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from kehu.core.models import AuditEntry, CustomField, Scope, Tag
from kehu.customers import services as customer_services
from kehu.customers.imports import report, services
from kehu.customers.imports.models import ImportIssue, ImportRow, ImportStatus
from kehu.customers.models import (
    ConsentEvent,
    Customer,
    CustomerEmail,
    CustomerPhone,
    DuplicateCandidate,
    LifecycleChange,
    SocialIdentity,
)
from kehu.interactions import services as interaction_services

from .importing import configure, csv_bytes, import_rows, preview, run, upload, work

pytestmark = pytest.mark.django_db

ALL = ("view", "add", "change", "delete", "import", "export", "transfer")


@pytest.fixture
def rep(make_user):
    return make_user("customers.customer", actions=ALL, read=Scope.OWN, write=Scope.OWN)


def audit_of(customer) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(model="customers.customer", object_id=str(customer.pk)).order_by("id")
    )


def test_a_row_becomes_the_same_customer_customer_create_makes_with_one_audit_entry(rep):
    data = {
        "name": "北京华信科技有限公司",
        "phone": "138 1234 5678",
        "email": "Info@HuaXin.cn",
        "city": "北京",
        "lifecycle_stage": "customer",
        "source": "web",
    }
    made = customer_services.customer_create(data=data, by=rep)
    job = import_rows(
        rep,
        [
            ["名称", "电话", "邮箱", "城市", "阶段", "来源"],
            ["华信二号有限公司", "13912345678", "Info@HuaXin2.cn", "北京", "Customer", "Website"],
        ],
    )
    assert (job.status, job.created, job.failed) == ("done", 1, 0)
    imported = Customer.objects.get(name="华信二号有限公司")
    for field in ("kind", "owner_id", "lifecycle_stage", "source", "city", "customer_type", "version"):
        assert getattr(imported, field) == getattr(made, field), field
    assert imported.phone == "+8613912345678" and imported.email == "info@huaxin2.cn"
    assert list(imported.phones.values_list("number", "is_primary")) == [("+8613912345678", True)]
    assert list(imported.emails.values_list("email", "is_primary")) == [("info@huaxin2.cn", True)]
    assert list(LifecycleChange.objects.filter(customer=imported).values_list("from_stage", "to_stage")) == [
        ("", "customer")
    ]
    assert "email+huaxin2" in imported.search_restricted and "phone+5678" in imported.search_restricted
    # one audit entry per record, the record service's shape, with the import's note
    (made_entry,) = audit_of(made)
    (entry,) = audit_of(imported)
    assert entry.action == "create" and entry.note == f"import #{job.pk}" and entry.version == 1
    assert entry.actor == rep
    assert set(entry.changes) == set(made_entry.changes)
    assert entry.changes["phone"] == [None, "+8613912345678"]
    # the job itself is audited and the importer notified
    assert AuditEntry.objects.filter(action="import", note=f"import #{job.pk}").exists()
    assert rep.notifications.filter(title__contains=f"Import #{job.pk} finished").exists()


def test_the_dry_run_validates_every_row_and_writes_nothing(rep):
    rows = [["姓名", "手机", "生日", "性别"], ["张三", "13812345678", "1990-01-01", "男"]]
    rows += [["李四", "12", "1990-13-01", "不知道"], ["", "13900001111", "", ""]]
    job = upload(rep, csv_bytes(rows))
    configure(job, rep, default_kind="person")
    audit_before, customers_before = AuditEntry.objects.count(), Customer.objects.count()
    preview(job, rep)
    assert job.status == ImportStatus.READY
    assert job.preview["counts"] == {"create": 1, "error": 2}
    assert (AuditEntry.objects.count(), Customer.objects.count()) == (audit_before, customers_before)
    bad = {i.row_number: i for i in ImportIssue.objects.filter(job=job, phase="preview")}
    assert set(bad) == {3, 4}
    assert {m["column"] for m in bad[3].messages} == {"B “手机”", "C “生日”", "D “性别”"}
    assert bad[4].messages == [{"column": "A “姓名”", "field": "name", "message": "Enter a name."}]
    sample = job.preview["sample"]
    assert [s["action"] for s in sample] == ["create", "error", "error"]
    assert sample[1]["errors"][1] == [
        "“12” is not a valid phone number for its country (check the number of digits)."
    ]
    # the run does what the preview said
    run(job, rep)
    assert (job.created, job.failed) == (1, 2)


def test_row_errors_never_stop_the_file_and_every_bad_row_is_reported(rep):
    rows = [["名称", "电话", "网站"]]
    for i in range(30):
        rows.append([f"公司{i}", "13812345678"[:-2] + f"{i:02d}" if i % 3 else "bad", "www.example.com"])
    rows.append(["x" * 300, "", ""])
    rows.append(["<script>alert(1)</script>", "", "javascript:alert(1)"])
    job = import_rows(rep, rows)
    assert job.created == 20 and job.failed == 12
    issues = list(ImportIssue.objects.filter(job=job, phase="run"))
    assert len(issues) == 12
    too_long = next(i for i in issues if i.values[0].startswith("xxx"))
    assert "is too long for the name: 300 characters, at most 200." in too_long.text
    script = next(i for i in issues if i.values[0].startswith("<script>"))
    assert "URL" in script.text or "valid" in script.text
    assert Customer.objects.get(name="公司1").website == "https://www.example.com"


def test_error_report_has_the_rows_as_they_were_plus_reasons_and_imports_back(rep):
    job = import_rows(
        rep, [["名称", "电话"], ["甲公司", "13812345678"], ["乙公司", "123"], ['=HYPERLINK("x")', "1"]]
    )
    for fmt in ("csv", "xlsx"):
        content = report.error_report(job, "run", fmt, "errors").getvalue()
        if fmt == "csv":
            table = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
        else:
            from openpyxl import load_workbook

            table = [list(r) for r in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True)]
        assert table[0] == ["名称", "电话", "Row", "Errors"]
        assert table[1][:3] == ["乙公司", "123", "3"] and "not a valid phone number" in table[1][3]
        assert table[2][0] == '\'=HYPERLINK("x")'  # never a live formula in the report
    # fix the phone in the report and import the report itself: only those rows, columns map the same way
    content = (
        report.error_report(job, "run", "csv", "errors")
        .getvalue()
        .decode("utf-8-sig")
        .replace(",123,", ",13900001111,")
    )
    again = upload(rep, content.encode("utf-8"), "fixed.csv")
    assert again.mapping == ["name", "phone", "", ""]
    configure(again, rep)
    run(again, rep)
    assert again.created == 1 and again.failed == 1
    assert Customer.objects.get(name="乙公司").phone == "+8613900001111"
    assert not Customer.objects.filter(name__startswith="'").exists()


def test_export_then_import_round_trips(rep, client_for, settings):
    CustomField.objects.create(
        model="customers.customer", key="level", label="等级", field_type="choice", choices=["A", "B"]
    )
    CustomField.objects.create(model="customers.customer", key="since", label="签约日期", field_type="date")
    originals = [
        customer_services.customer_create(
            data={
                "name": "=cmd|' /C calc'!A0",
                "kind": "person",
                "phone": "13812345678",
                "email": "a@example.com",
                "gender": "female",
                "birthday": "1990-05-01",
                "lifecycle_stage": "loyal",
                "preferred_language": "zh-hans",
                "website": "https://example.com",
                "custom": {"level": "B", "since": "2024-01-02"},
            },
            by=rep,
        ),
        customer_services.customer_create(
            data={"name": "上海某某贸易有限公司", "city": "上海", "customer_type": "retailer"}, by=rep
        ),
    ]
    client = client_for(rep)
    compared = [
        "name",
        "kind",
        "phone",
        "email",
        "gender",
        "birthday",
        "lifecycle_stage",
        "preferred_language",
        "website",
        "city",
        "customer_type",
        "custom",
    ]
    for lang in ("en", "zh-hans"):
        for fmt in ("csv", "xlsx"):
            client.cookies["django_language"] = lang
            response = client.get("/customers/", {"export": fmt}, HTTP_ACCEPT_LANGUAGE=lang)
            data = b"".join(response.streaming_content) if response.streaming else response.content
            job = upload(rep, data, f"export.{fmt}")
            assert "" not in [k for k in job.mapping if k != ""], job.mapping
            assert {"name", "kind", "phone", "gender", "custom.level", "custom.since"} <= set(job.mapping), (
                lang,
                fmt,
                job.headers,
                job.mapping,
            )
            configure(job, rep, duplicates="allow")
            run(job, rep)
            assert (job.created, job.failed) == (2, 0), list(job.issues.values_list("messages", flat=True))
            for original in originals:
                copy = Customer.objects.filter(name=original.name).exclude(pk=original.pk).latest("pk")
                for field in compared:
                    assert getattr(copy, field) == getattr(original, field), (lang, fmt, field)
                copy.delete()
    translation.activate("en")  # the client's language stays active in this thread after a request


def test_upsert_matches_on_phone_or_email_updates_through_the_service_and_skips_unchanged(rep):
    a = customer_services.customer_create(
        data={"name": "甲公司", "phone": "13812345678", "city": "北京"}, by=rep
    )
    b = customer_services.customer_create(data={"name": "乙公司", "email": "b@example.com"}, by=rep)
    c = customer_services.customer_create(data={"name": "丙公司", "phone": "13700001111"}, by=rep)
    customer_services.contact_point_add(customer=c, kind="phone", value="13600002222", by=rep)
    rows = [
        ["名称", "电话", "邮箱", "城市", "微信", "短信同意", "其他电话"],
        ["甲公司", "+86 138-1234-5678", "", "上海", "jia_wx", "是", "010-62345678"],
        ["乙公司新名", "", "B@Example.com", "", "", "", ""],
        ["丙公司", "136 0000 2222", "", "", "", "", ""],  # found by one of its other phones: nothing new
        ["丁公司", "13500003333", "", "广州", "", "", ""],
    ]
    job = import_rows(rep, rows, mode="upsert", match_on="phone_email")
    assert (job.created, job.updated, job.unchanged, job.failed) == (1, 2, 1, 0)
    a.refresh_from_db()
    assert a.city == "上海" and a.version == 2
    assert set(a.phones.values_list("number", flat=True)) == {"+8613812345678", "+861062345678"}
    assert SocialIdentity.objects.get(customer=a).handle == "jia_wx"
    assert a.consent["sms"]["status"] == "granted" and a.consent["sms"]["method"] == "import"
    event = ConsentEvent.objects.get(customer=a)
    assert event.method == "import" and f"import #{job.pk}, row 2" in event.evidence
    (update,) = [e for e in audit_of(a) if e.action == "update"]
    assert update.note == f"import #{job.pk}"
    assert {"city", "phones", "socials", "consent"} <= set(update.changes)
    b.refresh_from_db()
    assert b.name == "乙公司新名"
    c.refresh_from_db()
    assert c.version == 2  # the contact point added before; the import changed nothing
    assert set(ImportRow.objects.filter(job=job).values_list("action", flat=True)) == {
        "created",
        "updated",
        "unchanged",
    }


def test_update_only_by_id_and_every_reason_a_row_cannot_be_matched(rep, make_user):
    mine = customer_services.customer_create(data={"name": "我的客户"}, by=rep)
    other = make_user("customers.customer", actions=ALL)
    theirs = customer_services.customer_create(data={"name": "别人的客户"}, by=other)
    twin1 = customer_services.customer_create(data={"name": "双胞一", "phone": "13811112222"}, by=rep)
    customer_services.customer_create(data={"name": "双胞二", "phone": "13811112222"}, by=rep)
    rows = [
        ["客户id", "名称", "备注"],
        [str(mine.pk), "", "重要客户"],
        [str(theirs.pk), "", "看不到"],
        ["999999", "", "不存在"],
        [f"#{mine.pk}", "", "重复的行"],
        ["", "无id", ""],
    ]
    job = import_rows(rep, rows, mode="update", match_on="id")
    assert (job.updated, job.failed, job.created) == (1, 4, 0)
    mine.refresh_from_db()
    assert mine.notes == "重要客户" and mine.name == "我的客户"  # an empty cell leaves the value
    texts = {i.row_number: i.text for i in job.issues.filter(phase="run")}
    # out of scope and missing answer the same
    assert texts[3] == texts[4] == "No customer that you can see has this customer id."
    assert f"Row 2 of this file already updates “我的客户” (#{mine.pk})" in texts[5]
    assert "This row has no value to find the customer by" in texts[6]
    twins = import_rows(rep, [["电话", "备注"], ["13811112222", "哪一个？"]], mode="update", match_on="phone")
    (issue,) = twins.issues.filter(phase="run")
    assert "2 customers match this row" in issue.text and f"#{twin1.pk}" in issue.text


def test_readable_but_not_writable_customers_are_refused_per_row(make_user):
    viewer = make_user("customers.customer", actions=ALL, read=Scope.ALL, write=Scope.OWN)
    owner = make_user("customers.customer", actions=ALL)
    theirs = customer_services.customer_create(data={"name": "只读客户", "phone": "13822223333"}, by=owner)
    job = import_rows(viewer, [["电话", "城市"], ["13822223333", "深圳"]], mode="update", match_on="phone")
    assert job.failed == 1 and job.created == 0
    assert "You may see “只读客户”" in job.issues.get().text
    theirs.refresh_from_db()
    assert theirs.city == ""


def test_a_change_between_plan_and_write_is_a_stale_row_not_a_lost_update(rep, monkeypatch):
    target = customer_services.customer_create(data={"name": "并发客户", "phone": "13833334444"}, by=rep)
    from kehu.customers.imports import rows as rows_module

    original = rows_module.Planner.plan

    def plan_then_someone_edits(self, batch):
        plans = original(self, batch)
        customer_services.customer_update(
            customer=Customer.objects.get(pk=target.pk), data={"city": "杭州"}, by=rep, expected_version=None
        )
        return plans

    monkeypatch.setattr(rows_module.Planner, "plan", plan_then_someone_edits)
    job = import_rows(rep, [["电话", "备注"], ["13833334444", "导入的备注"]], mode="update", match_on="phone")
    assert job.failed == 1 and "changed while you were editing" in job.issues.get().text
    target.refresh_from_db()
    assert (target.city, target.notes) == ("杭州", "")


def test_custom_values_only_update_is_saved(rep):
    CustomField.objects.create(
        model="customers.customer", key="level", label="等级", field_type="choice", choices=["A", "B"]
    )
    c = customer_services.customer_create(
        data={"name": "等级客户", "phone": "13844445555", "custom": {"level": "A"}}, by=rep
    )
    job = import_rows(rep, [["电话", "等级"], ["13844445555", "b"]], mode="update", match_on="phone")
    assert job.updated == 1
    c.refresh_from_db()
    assert c.custom == {"level": "B"} and c.version == 2


@pytest.mark.parametrize(
    ("policy", "created", "skipped", "flagged"), [("skip", 1, 3, 0), ("flag", 4, 0, 3), ("allow", 4, 0, 0)]
)
def test_duplicate_policies_use_exact_keys_and_the_dedup_scorer(rep, policy, created, skipped, flagged):
    existing = customer_services.customer_create(
        data={"name": "北京星辰科技有限公司", "phone": "13855556666"}, by=rep
    )
    customer_services.customer_create(
        data={"name": "李娜", "kind": "person", "email": "lina@example.com"}, by=rep
    )
    rows = [
        ["名称", "电话", "邮箱", "类别"],
        ["北京星辰科技有限公司", "", "", "企业"],  # same organisation name
        ["完全不同的名字", "+86 138 5555 6666", "", "企业"],  # same phone
        ["李娜", "", "LiNa@example.com", "个人"],  # same email
        ["李娜", "", "", "个人"],  # a person's name alone is not a duplicate
    ]
    job = import_rows(rep, rows, duplicates=policy)
    assert (job.created, job.skipped, job.flagged) == (created, skipped, flagged)
    if policy == "skip":
        texts = [i.text for i in job.issues.filter(level="skipped")]
        assert any(f"Looks like “北京星辰科技有限公司” (#{existing.pk}): same name" in t for t in texts)
        assert any("same phone 138 5555 6666" in t for t in texts)
    if policy == "flag":
        assert DuplicateCandidate.objects.filter(second_id__gt=existing.pk).count() >= 3


def test_rows_that_duplicate_earlier_rows_of_the_same_file(rep):
    rows = [["名称", "电话"], ["甲公司", "13866667777"], ["甲公司分部", "138 6666 7777"], ["甲公司", ""]]
    job = import_rows(rep, rows, duplicates="skip")
    assert (job.created, job.skipped) == (1, 2)
    assert all("row 2 of this file" in i.text for i in job.issues.all())
    upsert = import_rows(
        rep,
        [["名称", "电话"], ["新甲", "13877778888"], ["新甲2", "13877778888"]],
        mode="upsert",
        match_on="phone",
    )
    assert (upsert.created, upsert.failed) == (1, 1)
    assert (
        "Row 2 of this file has the same phone (+8613877778888): combine the two rows"
        in upsert.issues.get().text
    )


def test_accounts_owners_tags_and_wechat_are_looked_up_with_specific_errors(make_user):
    boss = make_user("customers.customer", actions=ALL, read=Scope.ALL, write=Scope.ALL)
    rep2 = make_user("customers.customer", actions=ALL, username="rep2")
    acme = customer_services.customer_create(data={"name": "阿克米有限公司"}, by=boss)
    for _i in range(2):
        customer_services.customer_create(data={"name": "重名公司"}, by=boss)
    Tag.objects.create(name="VIP")
    Tag.objects.create(name="展会")
    taken = customer_services.customer_create(data={"name": "已有微信"}, by=boss)
    SocialIdentity.objects.create(customer=taken, network="wechat", handle="wx_taken")
    rows = [
        ["姓名", "所属公司", "负责人", "标签", "微信号"],
        ["张三", "阿克米有限公司", "rep2", "vip、展会", "wx_zhang"],
        ["李四", str(acme.pk), "", "", ""],
        ["王五", "重名公司", "", "", ""],
        ["赵六", "不存在公司", "nobody", "新标签", "wx_taken"],
        ["钱七", "", "", "", "wx_zhang"],
    ]
    job = import_rows(boss, rows)
    assert (job.created, job.failed) == (2, 3)
    zhang = Customer.objects.get(name="张三")
    assert (zhang.kind, zhang.account, zhang.owner) == ("person", acme, rep2)
    assert sorted(zhang.tags.values_list("name", flat=True)) == ["VIP", "展会"]
    assert Customer.objects.get(name="李四").account == acme
    texts = {i.row_number: i.text for i in job.issues.all()}
    assert "2 organisations are named “重名公司”" in texts[4]
    assert "No organisation “不存在公司” that you can see" in texts[5]
    assert "No active user “nobody”" in texts[5]
    assert "Unknown tag “新标签”" in texts[5]
    assert "The WeChat id “wx_taken” already belongs to another customer" in texts[5]
    assert "Row 2 of this file has the same WeChat id" in texts[6]


def test_extra_phones_emails_and_consent_on_new_customers(rep):
    rows = [
        ["名称", "电话", "其他电话", "邮箱", "其他邮箱", "邮件同意", "短信同意"],
        [
            "多联系方式公司",
            "13888889999",
            "010-62345678; 13888880000",
            "a@x.com",
            "b@x.com,c@x.com",
            "否",
            "是",
        ],
    ]
    job = import_rows(rep, rows)
    c = Customer.objects.get(name="多联系方式公司")
    assert list(c.phones.order_by("-is_primary", "number").values_list("number", "kind")) == [
        ("+8613888889999", "mobile"),
        ("+861062345678", "work"),
        ("+8613888880000", "mobile"),
    ]
    assert set(CustomerEmail.objects.filter(customer=c).values_list("email", flat=True)) == {
        "a@x.com",
        "b@x.com",
        "c@x.com",
    }
    assert {e.channel: e.status for e in ConsentEvent.objects.filter(customer=c)} == {
        "email": "withdrawn",
        "sms": "granted",
    }
    assert c.consent["sms"]["status"] == "granted"
    assert (
        "phone+62345678" in c.search_restricted and "email+c@x.com" in c.search_restricted
    )  # search finds every number and email
    (entry,) = audit_of(c)
    assert (
        entry.changes["phones"][1] == ["010 6234 5678", "138 8888 0000"] and entry.note == f"import #{job.pk}"
    )


def test_rights_import_right_add_change_field_rights_and_scope(make_user, rep):
    nobody = make_user("customers.customer", actions=("view", "add", "change"))
    with pytest.raises(PermissionDenied, match="import right"):
        upload(nobody, csv_bytes([["名称"], ["甲"]]))
    only_update = make_user("customers.customer", actions=("view", "change", "import"))
    job = upload(only_update, csv_bytes([["电话", "城市"], ["13811110000", "北京"]]))
    with pytest.raises(PermissionDenied, match="add right"):
        configure(job, only_update, mode="create")
    configure(job, only_update, mode="update", match_on="phone")
    from kehu.core.models import FieldGrant

    FieldGrant.objects.create(
        role=rep.roles.get(), model="customers.customer", field="city", access="readonly"
    )
    from kehu.core.access import Access

    Access.forget(rep)
    job = upload(rep, csv_bytes([["名称", "城市"], ["甲", "北京"]]))
    assert job.mapping == ["name", ""]  # the read-only field is not even suggested
    with pytest.raises(ValidationError, match="you may not write that field"):
        configure(job, rep, ["name", "city"])
    # another rep's job: visible only within scope, and only its uploader may act on it
    other = make_user("customers.customer", actions=ALL)
    from django.http import Http404

    from kehu.customers.imports import selectors

    with pytest.raises(Http404):
        selectors.import_job(user=other, pk=job.pk)
    manager = make_user("customers.customer", actions=ALL, read=Scope.ALL, write=Scope.ALL)
    assert selectors.import_job(user=manager, pk=job.pk) == job
    with pytest.raises(PermissionDenied, match="Only the user who uploaded"):
        services.import_cancel(job=job, by=manager)


def test_rights_lost_between_upload_and_run_fail_the_run_with_the_reason(rep):
    job = upload(rep, csv_bytes([["名称"], ["甲"]]))
    configure(job, rep)
    services.import_start(job=job, by=rep)
    rep.roles.get().grants.update(can_import=False)
    from kehu.core.access import Access

    Access.forget(rep)
    assert work(job) == "failed"
    assert job.status == "failed" and "import right" in job.error
    assert not Customer.objects.filter(name="甲").exists()


def test_cancel_before_and_during_a_run(rep, settings):
    settings.KEHU_IMPORT_BATCH = 2
    rows = [["名称"]] + [[f"取消客户{i}"] for i in range(6)]
    job = upload(rep, csv_bytes(rows))
    configure(job, rep)
    services.import_cancel(job=job, by=rep)
    assert job.status == "cancelled"
    with pytest.raises(ValidationError, match="cannot be started"):
        services.import_start(job=job, by=rep)
    job = upload(rep, csv_bytes(rows))
    configure(job, rep)
    services.import_start(job=job, by=rep)
    assert work(job, max_batches=1) == "paused"
    job.lease_until = job.updated_at + dt.timedelta(hours=1)  # a live worker holds it
    job.save(update_fields=["lease_until"])
    services.import_cancel(job=job, by=rep)
    assert job.cancel_requested and job.status == "running"
    job.lease_until = None
    job.save(update_fields=["lease_until"])
    assert work(job) == "cancelled"
    assert (job.status, job.created) == ("cancelled", 2)
    assert Customer.objects.filter(name__startswith="取消客户").count() == 2


def test_undo_deletes_what_the_import_created_unless_changed_or_referenced_since(rep, admin_user):
    kept_existing = customer_services.customer_create(
        data={"name": "原有客户", "phone": "13899990000"}, by=rep
    )
    rows = [
        ["名称", "电话"],
        ["撤销一", "13899990001"],
        ["撤销二", "13899990002"],
        ["撤销三", "13899990003"],
        ["撤销四", "13899990004"],
        ["原有客户", "13899990000"],
    ]
    job = import_rows(rep, rows, mode="upsert", match_on="phone")
    assert (job.created, job.unchanged) == (4, 1)
    one, two, three, four = (Customer.objects.get(name=f"撤销{n}") for n in "一二三四")
    customer_services.customer_update(customer=two, data={"city": "改过"}, by=rep, expected_version=None)
    interaction_services.interaction_log(
        customer=three, data={"channel": "call", "subject": "回访"}, by=admin_user
    )
    assert services.changed_since_import(job) == 1
    services.import_undo(job=job, by=rep)
    assert work(job) == "done"
    assert (job.status, job.undone, job.kept) == ("undone", 2, 2)
    assert not Customer.objects.filter(pk__in=[one.pk, four.pk]).exists()
    assert Customer.objects.filter(pk__in=[two.pk, three.pk, kept_existing.pk]).count() == 3
    reasons = dict(
        ImportRow.objects.filter(job=job).exclude(kept_reason="").values_list("customer_id", "kept_reason")
    )
    assert "changed since the import" in reasons[two.pk]
    assert "other records refer to it (interactions)" in reasons[three.pk]
    deleted = AuditEntry.objects.filter(action="delete", object_id=str(one.pk)).get()
    assert deleted.note == f"undo of import #{job.pk}" and deleted.actor == rep
    assert not CustomerPhone.objects.filter(number="+8613899990001").exists()
    with pytest.raises(ValidationError, match="Only a finished or cancelled import can be undone"):
        services.import_undo(job=job, by=rep)


def test_undo_needs_the_delete_right(make_user):
    user = make_user("customers.customer", actions=("view", "add", "import"))
    job = import_rows(user, [["名称"], ["不能撤销"]])
    with pytest.raises(PermissionDenied, match="delete right"):
        services.import_undo(job=job, by=user)


def test_formula_cells_are_stored_as_text_and_exported_neutralised(rep, client_for):
    from .importing import xlsx_bytes

    data = xlsx_bytes([["名称", "备注"], ["=cmd|' /C calc'!A0", "=1+1"], ["+SUM(A1:A2)", "@x"]])
    job = upload(rep, data, "formulas.xlsx")
    configure(job, rep)
    run(job, rep)
    assert job.created == 2
    first = Customer.objects.get(name="=cmd|' /C calc'!A0")
    assert first.notes == "=1+1"  # the formula's text, never its value
    assert Customer.objects.filter(name="+SUM(A1:A2)", notes="@x").exists()
    exported = b"".join(client_for(rep).get("/customers/", {"export": "csv"}).streaming_content).decode(
        "utf-8-sig"
    )
    assert "'=cmd|' /C calc'!A0" in exported and "\n=cmd" not in exported


def test_ids_beyond_the_database_range_are_row_errors_not_crashes(rep):
    huge = "9" * 25
    job = import_rows(rep, [["客户id", "备注"], [huge, "x"]], mode="update", match_on="id")
    assert job.failed == 1 and f"“{huge}” is not a customer id" in job.issues.get().text
    job = import_rows(rep, [["姓名", "所属公司"], ["张三", huge]])
    assert job.failed == 1 and f"No organisation “{huge}” that you can see" in job.issues.get().text


def test_a_queued_import_nobody_picks_up_counts_as_stalled_after_a_lease(rep):
    import datetime as dt

    from django.utils import timezone

    job = upload(rep, csv_bytes([["名称"], ["等待的客户"]]))
    configure(job, rep)
    services.import_start(job=job, by=rep)
    assert not job.is_stalled  # just queued: a worker will come
    with pytest.raises(ValidationError, match="not stalled"):
        services.import_resume(job=job, by=rep)
    job.updated_at = timezone.now() - dt.timedelta(minutes=6)  # the default lease is 5 minutes
    job.save(update_fields=["updated_at"])
    assert job.is_stalled
    services.import_resume(job=job, by=rep)
    assert work(job) == "done" and job.created == 1
