"""Leads captured by import (issue #16 item 1): a CSV file with Chinese or English column names; all rows or
none, each problem named with its row and field; the assignment rules or the importer own them; rights."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kehu.core.models import AuditEntry, FieldGrant
from kehu.sales.models import AssignmentRule, Lead
from kehu.sales.services.lead_import import leads_import
from tests.sales.conftest import demo_role

pytestmark = pytest.mark.django_db

GOOD = (
    "公司名称,联系人,手机,邮箱,来源,预算,备注,微信\n"
    "鲲鹏精密机械有限公司,王强,13800138000,wang@kunpeng.example,展会,50000,想要报价,wq01\n"
    ",李娜,13900139000,,,,,\n"
).encode("gb18030")


def test_a_gb18030_file_with_chinese_columns_becomes_leads_of_the_importer(org):
    result = leads_import(raw=GOOD, by=org.manager, use_rules=False)
    assert result.errors == [] and result.ignored_columns == ["微信"]
    company, person = sorted(result.created, key=lambda lead: lead.name != "王强")
    assert (company.kind, company.company, company.phone, company.source) == (
        "organization", "鲲鹏精密机械有限公司", "+8613800138000", "trade_show"
    )  # fmt: skip
    assert company.budget == Decimal("50000") and company.notes == "想要报价"
    assert (person.kind, person.source, person.owner) == ("person", "import", org.manager)
    assert company.first_contact_due is not None  # the first-contact SLA starts
    assert AuditEntry.objects.filter(model="sales.lead", object_id=str(company.pk)).exists()


def test_the_assignment_rules_choose_the_owner_when_asked(org):
    rule = AssignmentRule.objects.create(name="全部给 rep2", priority=1, method="round_robin", active=True)
    rule.users.add(org.rep2)
    result = leads_import(raw=b"company,name\nAcme,Ann\n", by=org.manager, use_rules=True)
    assert [lead.owner for lead in result.created] == [org.rep2]


def test_one_bad_row_saves_nothing_and_names_row_and_field(org):
    raw = (
        b"Company,Contact name,Email,Budget,Source\n"
        b"Good Co,Ann,ann@example.com,100,web form\n"
        b"Bad Co,Bob,bob@example.com,lots,Trade show\n"
        b"Odd Co,Di,di@example.com,Infinity,\n"
        b'Worse Co,Cy,cy@example.com,"50,000",carrier pigeon\n'
    )
    result = leads_import(raw=raw, by=org.manager)
    assert result.created == [] and not Lead.objects.exists()
    assert any(e.startswith("Row 3: budget") for e in result.errors), result.errors
    assert any(e.startswith("Row 4: budget") for e in result.errors), result.errors
    assert any(e.startswith("Row 5: source") for e in result.errors), result.errors
    assert not any(e.startswith("Row 5: budget") for e in result.errors)  # "50,000" is a number


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "empty"),
        (b"colour,size\nred,9\n", "No column names"),
        (b"company,name\n", "no rows"),
        ("公司\n测试".encode("utf-16"), "neither UTF-8"),
    ],
)
def test_bad_files_are_refused_with_a_reason(org, raw, message):
    result = leads_import(raw=raw, by=org.manager)
    assert result.created == [] and any(message in e for e in result.errors), result.errors


def test_rights_import_right_and_field_rights(org):
    with pytest.raises(PermissionDenied):  # a rep has no import right on leads
        leads_import(raw=b"company\nAcme\n", by=org.rep1)
    FieldGrant.objects.create(
        role=demo_role("sales_manager"), model="sales.lead", field="budget", access="readonly"
    )
    from kehu.core.access import Access

    Access.forget(org.manager)
    result = leads_import(raw=b"company,budget\nAcme,10\n", by=org.manager)
    assert result.created == [] and "budget" in result.errors[0] and not Lead.objects.exists()


def test_import_page(org, client_for):
    rep = client_for(org.rep1)  # one test client: each client_for() signs it in as that user
    assert 'data-testid="import"' not in rep.get(reverse("sales:leads")).content.decode()
    assert rep.get(reverse("sales:lead_import")).status_code == 403
    client = client_for(org.manager)
    assert 'data-testid="import"' in client.get(reverse("sales:leads")).content.decode()
    page = client.get(reverse("sales:lead_import"))
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.content.decode()
    bad = client.post(
        reverse("sales:lead_import"),
        {"file": SimpleUploadedFile("leads.csv", b"company,email\nAcme,not-an-email\n", "text/csv")},
    )
    assert bad.status_code == 400 and "Row 2: email" in bad.content.decode() and not Lead.objects.exists()
    assert client.post(reverse("sales:lead_import"), {}).status_code == 400
    done = client.post(
        reverse("sales:lead_import"),
        {"file": SimpleUploadedFile("leads.csv", GOOD, "text/csv"), "use_rules": "1"},
        follow=True,
    )
    assert done.status_code == 200 and "2 leads imported" in done.content.decode()
    assert Lead.objects.count() == 2
