"""Expenses: filing with receipts (the attachments' type/size rules, hostile names), the approval flow
(submit → approve/reject with comment, notifications, one decision), the timeline where tied, the audit,
closed months, scope (pages, receipts, ties, the API) and bad input refused on its field with nothing saved."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from kehu.approvals.services import pending_request
from kehu.core.models import AuditEntry, Notification
from kehu.interactions.models import Interaction
from kehu.sales.models import Opportunity
from kehu.salesmgmt.models import Expense, ExpenseCategory, ExpensePeriodClose, ExpenseReceipt
from kehu.salesmgmt.services import expenses, visits

HOSTILE = '../../etc/<script>alert(1)</script>\x00"出租车 发票".JPG'
PNG = b"\x89PNG\r\n\x1a\n receipt"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def category(db):
    return ExpenseCategory.objects.create(name="差旅 Travel")


@pytest.fixture
def opp(org, account, pipeline):
    return Opportunity.objects.create(
        name="续约", customer=account, pipeline=pipeline, stage=pipeline.stages.first(), owner=org.rep1
    )


@pytest.fixture
def data(category):
    return {
        "category": category,
        "amount": Decimal("128.50"),
        "currency": "cny",
        "spent_on": timezone.localdate(),
    }


def last_month() -> dt.date:
    return timezone.localdate().replace(day=1) - dt.timedelta(days=1)


def nothing_saved(media) -> bool:
    files = [p for p in media.rglob("*") if p.is_file()] if media.exists() else []
    return (
        not Expense.objects.exists()
        and not ExpenseReceipt.objects.exists()
        and not files
        and not AuditEntry.objects.filter(model__startswith="salesmgmt.expense").exists()
    )


def test_file_submit_approve_notify_timeline_audit(org, data, opp, media):
    expense = expenses.expense_create(
        data={**data, "opportunity": opp, "description": "高铁"}, receipts=[(HOSTILE, PNG)], submit=True,
        by=org.rep1,
    )  # fmt: skip
    expense.refresh_from_db()
    assert expense.status == "submitted" and expense.owner == org.rep1 and expense.currency == "CNY"
    assert expense.customer_id == opp.customer_id and expense.submitted_at is not None
    receipt = ExpenseReceipt.objects.get(expense=expense)
    assert "/" not in receipt.name and "<" not in receipt.name and "\x00" not in receipt.name
    assert receipt.name.endswith(".JPG") and receipt.uploaded_by == org.rep1 and receipt.size == len(PNG)
    stored = (media / receipt.file.name).resolve()
    assert stored.is_relative_to(media.resolve()) and stored.read_bytes() == PNG
    # the approver (the department's manager) is told; the entry is on the customer's timeline without the amount
    # (sent to the request's page on the approval engine)
    request = pending_request(expense)
    assert Notification.objects.filter(user=org.manager, url=request.get_absolute_url()).exists()
    filed = Interaction.objects.get(related_model="salesmgmt.expense", related_id=str(expense.pk))
    assert filed.customer_id == opp.customer_id and "128.50" not in filed.subject

    with pytest.raises(PermissionDenied):  # not the owner's approver
        expenses.expense_decide(expense=expense, approve=True, comment="", by=org.rep2)
    with pytest.raises(PermissionDenied):  # never one's own
        expenses.expense_decide(expense=expense, approve=True, comment="", by=org.rep1)
    expenses.expense_decide(expense=expense, approve=True, comment="同意", by=org.manager)
    expense.refresh_from_db()
    assert (
        expense.status == "approved"
        and expense.decided_by == org.manager
        and expense.decision_comment == "同意"
    )
    assert Notification.objects.filter(user=org.rep1, url=expense.get_absolute_url()).exists()
    assert Interaction.objects.filter(
        related_model="salesmgmt.expense.approved", related_id=str(expense.pk)
    ).exists()
    with pytest.raises(ValidationError) as exc:  # a second decision (two managers at once) is refused
        expenses.expense_decide(expense=expense, approve=False, comment="no", by=org.manager)
    assert "status" in exc.value.message_dict
    actions = list(
        AuditEntry.objects.filter(model="salesmgmt.expense", object_id=str(expense.pk)).values_list(
            "action", flat=True
        )
    )
    assert actions.count("create") == 1 and actions.count("update") == 2  # submitted, approved
    with pytest.raises(ValidationError):  # an approved expense is not changed any more
        expenses.expense_update(
            expense=expense, data={"amount": Decimal("1")}, by=org.rep1, expected_version=None
        )


def test_reject_needs_a_comment_then_change_and_resubmit(org, data):
    expense = expenses.expense_create(data=data, submit=True, by=org.rep1)
    with pytest.raises(ValidationError) as exc:
        expenses.expense_decide(expense=expense, approve=False, comment="  ", by=org.manager)
    assert "comment" in exc.value.message_dict
    with pytest.raises(ValidationError):  # awaiting approval: not changed meanwhile
        expenses.expense_update(
            expense=expense, data={"amount": Decimal("99")}, by=org.rep1, expected_version=None
        )
    expenses.expense_decide(expense=expense, approve=False, comment="缺少发票", by=org.manager)
    expense.refresh_from_db()
    assert expense.status == "rejected" and expense.decision_comment == "缺少发票"
    expenses.expense_update(
        expense=expense, data={"amount": Decimal("99")}, by=org.rep1, expected_version=expense.version
    )
    expenses.expense_submit(expense=expense, by=org.rep1)
    expense.refresh_from_db()
    assert (
        expense.status == "submitted"
        and expense.amount == Decimal("99.00")
        and expense.decision_comment == ""
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": Decimal("-5")}, "amount"),
        ({"amount": Decimal("0")}, "amount"),
        ({"currency": "元元"}, "currency"),
        ("future", "spent_on"),
        ("closed", "spent_on"),
        ("hidden_opp", "opportunity"),
        ("hidden_visit", "visit"),
        ("bad_type", "receipts"),
        ("too_large", "receipts"),
    ],
)
def test_bad_input_is_refused_on_its_field_and_nothing_is_saved(
    change, field, org, data, account, pipeline, media, settings
):
    receipts = [("taxi.pdf", b"%PDF-1.4")]
    data = dict(data)
    if change == "future":
        data["spent_on"] = timezone.localdate() + dt.timedelta(days=1)
    elif change == "closed":
        ExpensePeriodClose.objects.create(month=last_month().replace(day=1))
        data["spent_on"] = last_month()
    elif change == "hidden_opp":
        data["opportunity"] = Opportunity.objects.create(
            name="别人的", customer=account, pipeline=pipeline, stage=pipeline.stages.first(), owner=org.rep3
        )
    elif change == "hidden_visit":
        data["visit"] = visits.visit_plan(
            data={"customer": account, "subject": "x", "planned_start": timezone.now()}, by=org.rep3
        )
    elif change == "bad_type":
        receipts.append(("invoice.exe", b"MZ"))
    elif change == "too_large":
        settings.KEHU_ATTACHMENT_MAX_BYTES = 4
    else:
        data.update(change)
    with pytest.raises(ValidationError) as exc:
        expenses.expense_create(data=data, receipts=receipts, submit=True, by=org.rep1)
    assert field in exc.value.message_dict, exc.value.message_dict
    assert nothing_saved(media)
    assert not Notification.objects.filter(user=org.manager).exists()


def test_a_failure_after_the_files_were_stored_removes_them(org, data, media, monkeypatch):
    def boom(**kwargs):
        raise ValidationError({"status": ["refused late"]})

    monkeypatch.setattr(expenses, "expense_submit", boom)
    with pytest.raises(ValidationError):
        expenses.expense_create(
            data=data, receipts=[("a.png", PNG), ("b.pdf", b"%PDF")], submit=True, by=org.rep1
        )
    assert nothing_saved(media)


def test_closed_month_refuses_changes_and_decisions_and_cannot_close_with_pending(org, data):
    day = last_month()
    with pytest.raises(ValidationError) as exc:  # only a past month
        expenses.expense_month_close(month=timezone.localdate(), by=org.manager)
    assert "month" in exc.value.message_dict
    pending = expenses.expense_create(data={**data, "spent_on": day}, submit=True, by=org.rep1)
    draft = expenses.expense_create(data={**data, "spent_on": day}, by=org.rep1)
    current = expenses.expense_create(data=data, by=org.rep1)
    with pytest.raises(ValidationError) as exc:
        expenses.expense_month_close(month=day, by=org.manager)
    assert "await approval" in str(exc.value)
    expenses.expense_decide(expense=pending, approve=True, comment="", by=org.manager)
    closing = expenses.expense_month_close(month=day, by=org.manager, note="结账")
    assert closing.month == day.replace(day=1) and closing.closed_by == org.manager
    with pytest.raises(ValidationError) as exc:
        expenses.expense_update(
            expense=draft, data={"amount": Decimal("1")}, by=org.rep1, expected_version=None
        )
    assert "spent_on" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        expenses.expense_submit(expense=draft, by=org.rep1)
    assert "spent_on" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:  # nor moved into the closed month
        expenses.expense_update(expense=current, data={"spent_on": day}, by=org.rep1, expected_version=None)
    assert "spent_on" in exc.value.message_dict
    current.refresh_from_db()
    assert current.spent_on == timezone.localdate() and current.version == 1
    expenses.expense_month_reopen(closing=closing, by=org.manager)
    expenses.expense_submit(expense=draft, by=org.rep1)


def test_page_files_an_expense_with_receipts_and_refuses_bad_input_on_the_field(
    client, org, data, opp, media
):
    client.force_login(org.rep1)
    form = client.get(reverse("salesmgmt:expense_create"))
    assert form.status_code == 200 and "续约" in form.content.decode()
    other = Opportunity.objects.create(
        name="陈静的单子", customer=opp.customer, pipeline=opp.pipeline, stage=opp.stage, owner=org.rep3
    )
    assert "陈静的单子" not in form.content.decode()  # others' deals are not offered
    post = {"category": data["category"].pk, "amount": "-3", "currency": "CNY",
            "spent_on": timezone.localdate().isoformat(), "submit": "1"}  # fmt: skip
    refused = client.post(
        reverse("salesmgmt:expense_create"), {**post, "receipts": [SimpleUploadedFile("r.png", PNG)]}
    )
    assert refused.status_code == 400 and 'data-testid="error-amount"' in refused.content.decode()
    refused = client.post(
        reverse("salesmgmt:expense_create"),
        {**post, "amount": "30", "receipts": [SimpleUploadedFile("r.html", b"<script>")]},
    )
    assert refused.status_code == 400 and ".html" in refused.content.decode()
    refused = client.post(
        reverse("salesmgmt:expense_create"), {**post, "amount": "30", "opportunity": other.pk}
    )
    assert refused.status_code == 400 and 'data-testid="error-opportunity"' in refused.content.decode()
    assert nothing_saved(media)
    done = client.post(
        reverse("salesmgmt:expense_create"),
        {**post, "amount": "30", "opportunity": opp.pk,
         "receipts": [SimpleUploadedFile(HOSTILE, PNG), SimpleUploadedFile("b.pdf", b"%PDF-1.4")]},
    )  # fmt: skip
    assert done.status_code == 302
    expense = Expense.objects.get()
    assert expense.status == "submitted" and expense.receipts.count() == 2
    page = client.get(expense.get_absolute_url()).content.decode()
    receipt = expense.receipts.order_by("id").first()
    url = reverse("salesmgmt:receipt_download", args=[receipt.pk])
    assert url in page and "<script>alert" not in page
    download = client.get(url)
    assert download.status_code == 200 and b"".join(download.streaming_content) == PNG
    assert (
        download["Content-Disposition"].startswith("attachment")
        and download["X-Content-Type-Options"] == "nosniff"
    )

    client.force_login(org.rep3)  # another region: not theirs to see
    assert client.get(expense.get_absolute_url()).status_code == 404
    assert client.get(url).status_code == 404
    client.force_login(org.rep2)  # same team, own scope
    assert client.get(expense.get_absolute_url()).status_code == 404
    assert client.get(reverse("salesmgmt:expense_approvals")).content.decode().count("pending-") == 0

    client.force_login(org.manager)
    queue = client.get(reverse("salesmgmt:expense_approvals")).content.decode()
    assert f'data-testid="pending-{expense.pk}"' in queue
    refused = client.post(reverse("salesmgmt:expense_decide", args=[expense.pk]), {"decision": "reject"})
    assert refused.status_code == 302
    expense.refresh_from_db()
    assert expense.status == "submitted"  # no comment: not rejected
    client.post(
        reverse("salesmgmt:expense_decide", args=[expense.pk]), {"decision": "approve", "comment": "ok"}
    )
    expense.refresh_from_db()
    assert expense.status == "approved"


def test_months_page_closes_and_refuses(client, org, data):
    client.force_login(org.manager)
    month = last_month().strftime("%Y-%m")
    assert client.post(reverse("salesmgmt:expense_months"), {"month": month}).status_code == 302
    assert ExpensePeriodClose.objects.filter(month=last_month().replace(day=1)).exists()
    again = client.post(reverse("salesmgmt:expense_months"), {"month": month})
    assert again.status_code == 400 and 'data-testid="error-month"' in again.content.decode()
    client.force_login(org.rep1)  # reps read the closed months, they do not close them
    assert client.get(reverse("salesmgmt:expense_months")).status_code == 200
    closing = ExpensePeriodClose.objects.get()
    client.post(reverse("salesmgmt:expense_month_reopen", args=[closing.pk]))
    assert ExpensePeriodClose.objects.exists()


def test_api_create_with_receipts_submit_decide_and_refusals(org, data, opp, api_for, settings, media):
    api = api_for(org.rep1)
    body = {"category": data["category"].pk, "amount": "88.00", "currency": "CNY",
            "spent_on": timezone.localdate().isoformat(), "opportunity": opp.pk}  # fmt: skip
    created = api.post(
        "/api/expenses/", {**body, "receipts": [SimpleUploadedFile(HOSTILE, PNG)]}, format="multipart"
    )
    assert created.status_code == 201, created.content
    row = created.json()
    assert row["status"] == "draft" and row["owner"] == org.rep1.pk and len(row["receipts"]) == 1
    assert "/" not in row["receipts"][0]["name"]
    etag = created["ETag"]
    added = api.post(
        f"/api/expenses/{row['id']}/receipts/",
        {"file": SimpleUploadedFile("b.pdf", b"%PDF")},
        format="multipart",
    )
    assert added.status_code == 201
    refused = api.post(
        f"/api/expenses/{row['id']}/receipts/",
        {"file": SimpleUploadedFile("b.svg", b"<svg/>")},
        format="multipart",
    )
    assert refused.status_code == 400 and "receipts" in refused.json()
    stale = api.post(f"/api/expenses/{row['id']}/submit/", HTTP_IF_MATCH=etag.replace("-1", "-0"))
    assert stale.status_code == 409
    submitted = api.post(f"/api/expenses/{row['id']}/submit/")
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    assert api.post(f"/api/expenses/{row['id']}/decide/", {"decision": "approve"}).status_code == 403
    manager = api_for(org.manager)
    assert manager.post(f"/api/expenses/{row['id']}/decide/", {"decision": "reject"}).status_code == 400
    decided = manager.post(f"/api/expenses/{row['id']}/decide/", {"decision": "approve", "comment": "好"})
    assert decided.status_code == 200 and decided.json()["status"] == "approved"

    other = api_for(org.rep3)
    assert other.get(f"/api/expenses/{row['id']}/").status_code == 404
    assert other.get("/api/expenses/").json()["results"] == []
    n = Expense.objects.count()
    for bad, field in (
        ({**{k: v for k, v in body.items() if k != "opportunity"}, "amount": "-1"}, "amount"),
        ({**body, "opportunity": opp.pk}, "opportunity"),  # rep3 may not see rep1's deal
    ):
        refused = other.post("/api/expenses/", bad, format="multipart")
        assert refused.status_code == 400 and field in refused.json(), refused.content
    settings.KEHU_ATTACHMENT_MAX_BYTES = 4
    refused = api.post(
        "/api/expenses/", {**body, "receipts": [SimpleUploadedFile("big.png", PNG)]}, format="multipart"
    )
    assert refused.status_code == 400 and "receipts" in refused.json()
    assert Expense.objects.count() == n


def test_demo_roles_and_category_config(org, category, api_for):
    assert api_for(org.rep1).get("/api/expense-categories/").status_code == 200
    refused = api_for(org.rep1).post("/api/expense-categories/", {"name": "新类别"}, format="json")
    assert refused.status_code == 403
    made = api_for(org.manager).post("/api/expense-categories/", {"name": "新类别"}, format="json")
    assert made.status_code == 201


def test_list_and_approval_queue_queries_do_not_grow_with_the_rows(org, data, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def counts():
        out = []
        for user, url in (
            (org.rep1, reverse("salesmgmt:expenses")),
            (org.manager, reverse("salesmgmt:expense_approvals")),
        ):
            client.force_login(user)
            with CaptureQueriesContext(connection) as q:
                assert client.get(url).status_code == 200
            out.append(len(q))
        return out

    for rep in (org.rep1, org.rep2):  # the approvers are looked up once per owner, not per expense
        expenses.expense_create(data=data, submit=True, by=rep)
    few = counts()
    for _ in range(8):
        expenses.expense_create(data=data, submit=True, by=org.rep1)
        expenses.expense_create(data=data, submit=True, by=org.rep2)
    assert counts() == few
