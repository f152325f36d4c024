"""The performance page as XLSX and PDF (issue #17 part 4): the page's figures, its scope and its hidden fields;
the export right; audited."""

from __future__ import annotations

import io

from django.urls import reverse

from kehu.core.access import Access
from kehu.core.models import AuditEntry, FieldGrant, Role
from tests.salesmgmt.test_performance import world  # noqa: F401 - fixture


def _xlsx_cells(content: bytes) -> list[list]:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(content), read_only=True)
    return [list(row) for row in wb.worksheets[0].iter_rows(values_only=True)]


def _pdf_text(user, team) -> str:
    """The PDF's HTML (WeasyPrint's input: text extraction from the PDF would need a library we do not ship)."""
    from kehu.salesmgmt import exports_performance as ex
    from kehu.salesmgmt.selectors_performance import performance, period_parse

    return ex.pdf_html(performance(user=user, period=period_parse(None), team_id=team.pk), "en")


def test_xlsx_and_pdf_hold_the_pages_figures(world, org, client):  # noqa: F811 - fixture
    client.force_login(org.manager)
    url = reverse("salesmgmt:performance")
    page = client.get(url, {"team": org.team.pk}).content.decode()
    assert "format=xlsx" in page and "format=pdf" in page
    xlsx = client.get(url, {"team": org.team.pk, "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxml")
    cells = _xlsx_cells(xlsx.content)
    flat = [c for row in cells for c in row if c is not None]
    assert str(org.rep1) in flat and str(org.rep3) not in flat  # the team only: rep3 is another region
    rep1 = next(row for row in cells if str(org.rep1) in row)
    assert 900 in rep1 and 1000 in rep1 and 90 in rep1  # result, quota, attainment
    assert 9999 not in flat
    pdf = client.get(url, {"team": org.team.pk, "format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = _pdf_text(org.manager, org.team)
    assert str(org.rep1) in text and "90.0" in text and "9999" not in text
    assert (
        AuditEntry.objects.filter(
            model="sales.opportunity", note__in=["xlsx performance", "pdf performance"]
        ).count()
        == 2
    )


def test_hidden_amounts_are_empty_in_every_format(world, org, client):  # noqa: F811 - fixture
    role = Role.objects.get(code="sales_manager")
    FieldGrant.objects.create(role=role, model="sales.opportunity", field="amount", access="hidden")
    FieldGrant.objects.create(role=role, model="salesmgmt.expense", field="amount", access="hidden")
    Access.forget(org.manager)
    client.force_login(org.manager)
    url = reverse("salesmgmt:performance")
    page = client.get(url, {"team": org.team.pk}).content.decode()
    assert "90.0%" not in page  # the result (the won amounts' sum) and so its attainment are hidden
    cells = _xlsx_cells(client.get(url, {"team": org.team.pk, "format": "xlsx"}).content)
    rep1 = next(row for row in cells if str(org.rep1) in row)
    assert 900 not in rep1 and 90 not in rep1 and 100 not in rep1  # result, attainment, expenses
    assert 1000 in rep1  # the quota is the plan's, not a deal amount
    assert client.get(url, {"team": org.team.pk, "format": "pdf"}).content.startswith(b"%PDF")
    text = _pdf_text(org.manager, org.team)
    assert "900" not in text and "90.0" not in text
    csv = client.get(url, {"team": org.team.pk, "format": "csv"}).content.decode("utf-8-sig")
    assert ",900" not in csv


def test_export_needs_the_export_right(world, org, client):  # noqa: F811 - fixture
    client.force_login(org.rep1)  # reps have no export right on opportunities in the demo roles
    url = reverse("salesmgmt:performance")
    from kehu.core.access import Access as A

    if A.of(org.rep1).can("export", "sales.opportunity"):
        return
    for fmt in ("csv", "xlsx", "pdf"):
        assert client.get(url, {"format": fmt}).status_code == 403
