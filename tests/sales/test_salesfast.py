"""The fourth performance pass keeps behaviour: capped counts on API lists (count_exact, ?count=exact) and
list pages, the list rows rendered in one pass (same cells, links, escaping, scope, sort), the receivables
tables rendered in one pass, the access engine's fewer statements (same field rights)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from kehu.core.access import Access
from kehu.core.models import FieldGrant
from kehu.sales.models import Opportunity
from kehu.sales.services import opportunities as svc
from tests.factories import UserFactory
from tests.sales.conftest import demo_role

pytestmark = pytest.mark.django_db


def _deals(org, account, n, owner=None):
    return [
        svc.opportunity_create(
            data={"name": f"商机<{i}>", "customer": account, "amount": Decimal("1000.50")},
            by=owner or org.rep1,
        )
        for i in range(n)
    ]


def test_api_count_is_exact_under_the_cap_and_a_lower_bound_above(org, account, api_for, monkeypatch):
    _deals(org, account, 7)
    api = api_for(org.manager)
    body = api.get("/api/opportunities/?page_size=2").json()
    assert body["count"] == 7 and body["count_exact"] is True and len(body["results"]) == 2

    monkeypatch.setattr("kehu.core.drf.MAX_COUNT", 3)
    body = api.get("/api/opportunities/?page_size=2").json()
    assert body["count"] == 3 and body["count_exact"] is False  # "more than 3"
    assert body["next"] and len(body["results"]) == 2
    # a page past the cap still pages, and knows whether another page follows
    page3 = api.get("/api/opportunities/?page_size=2&page=3").json()
    assert len(page3["results"]) == 2 and page3["next"] and page3["count_exact"] is False
    page4 = api.get("/api/opportunities/?page_size=2&page=4").json()
    assert len(page4["results"]) == 1 and page4["next"] is None and page4["count_exact"] is True
    assert page4["count"] == 7
    assert api.get("/api/opportunities/?page_size=2&page=5").status_code == 404
    # ?count=exact pays for the exact count; ?page=last needs it too
    exact = api.get("/api/opportunities/?page_size=2&count=exact").json()
    assert exact["count"] == 7 and exact["count_exact"] is True
    last = api.get("/api/opportunities/?page_size=2&page=last").json()
    assert len(last["results"]) == 1 and last["count"] == 7
    assert api.get("/api/opportunities/?page=x").status_code == 404
    # the pages together hold every deal once, in the list's order
    ids = []
    for page in range(1, 5):
        ids += [r["id"] for r in api.get(f"/api/opportunities/?page_size=2&page={page}").json()["results"]]
    assert ids == list(Opportunity.objects.order_by("-created_at", "-id").values_list("pk", flat=True))


def test_api_count_follows_scope(org, account, api_for):
    other = UserFactory(username="outsider")
    other.roles.add(demo_role("sales_rep"))
    _deals(org, account, 3)
    assert api_for(org.rep1).get("/api/opportunities/").json()["count"] == 3
    assert api_for(other).get("/api/opportunities/").json()["count"] == 0


def test_list_page_rows_cells_links_and_escaping(org, account, client_for, monkeypatch):
    deals = _deals(org, account, 4)
    page = client_for(org.manager).get(reverse("sales:opportunities")).content.decode()
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr>") == 4
    for deal in deals:
        assert f'<a href="{deal.get_absolute_url()}">商机&lt;' in body
        assert f'name="ids" value="{deal.pk}"' in body
    assert "<{" not in body and "商机<" not in body  # names escaped
    assert "1,000.50" in body and str(account.name) in body and str(org.rep1) in body
    assert 'data-label="Name"' in body or 'data-label="名称"' in body
    # capped count on the page: "more than N"
    from kehu.sales.views import OpportunityList

    monkeypatch.setattr("kehu.core.pagination.MAX_COUNT", 2)
    monkeypatch.setattr(OpportunityList, "paginate_by", 1)
    capped = client_for(org.manager).get(reverse("sales:opportunities")).content.decode()
    assert "more than 2 records" in capped
    # a page past the cap is served (not clamped to the last counted page)
    page4 = client_for(org.manager).get(reverse("sales:opportunities") + "?page=4").content.decode()
    assert page4.split("<tbody>", 1)[1].count("<tr>") == 1 and "4 records" in page4


def test_list_page_empty_and_scope(org, account, client_for):
    empty = client_for(org.rep2).get(reverse("sales:opportunities")).content.decode()
    assert 'class="empty"' in empty
    _deals(org, account, 2)
    outsider = UserFactory(username="outsider2")
    outsider.roles.add(demo_role("sales_rep"))
    page = client_for(outsider).get(reverse("sales:opportunities")).content.decode()
    assert "商机&lt;" not in page and 'class="empty"' in page


def test_list_page_sort_still_applies(org, account, client_for):
    a, b = _deals(org, account, 2)
    Opportunity.objects.filter(pk=a.pk).update(amount=Decimal("5"))
    Opportunity.objects.filter(pk=b.pk).update(amount=Decimal("9"))
    page = client_for(org.manager).get(reverse("sales:opportunities") + "?sort=-amount").content.decode()
    # the rows' checkboxes (ids also stand as option values in the filter form's selects)
    assert page.index(f'name="ids" value="{b.pk}"') < page.index(f'name="ids" value="{a.pk}"')


def test_hidden_field_stays_hidden_with_one_statement_for_field_rights(org, account, client_for, api_for):
    _deals(org, account, 1)
    FieldGrant.objects.create(role=demo_role("sales_manager"), model="sales.opportunity", field="amount",
                              access="hidden")  # fmt: skip
    Access.forget(org.manager)
    assert "amount" in Access.of(org.manager).hidden_fields(Opportunity)
    result = api_for(org.manager).get("/api/opportunities/").json()["results"][0]
    assert "amount" not in result
    page = client_for(org.manager).get(reverse("sales:opportunities")).content.decode()
    assert "1,000.50" not in page
    # a role that views the model without restricting the field keeps it editable (most permissive wins)
    org.manager.roles.add(demo_role("sales_rep"))
    Access.forget(org.manager)
    assert "amount" not in Access.of(org.manager).hidden_fields(Opportunity)


def test_receivables_tables_escape_and_format(org, client_for):
    from django.template import Context, Template

    from kehu.sales.selectors_collections import Receivable

    rows = [
        Receivable(
            key=1, label="<b>华</b>", currency="CNY", outstanding=Decimal("1234.5"), overdue=Decimal(0)
        )
    ]
    template = Template(
        "{% load sales_receivables %}<table>{% receivable_rows rows True %}</table>"
        "<table>{% receivable_rows rows %}</table><table>{% overdue_rows overdue %}</table>"
    )
    html = template.render(Context({"rows": rows, "overdue": []}))
    assert "&lt;b&gt;华&lt;/b&gt;" in html and "<b>华" not in html
    assert (
        html.count("<td>0</td>") == 2 and "<td>0.00</td>" not in html
    )  # by customer: "0"; by rep: the amount
    assert 'colspan="7"' in html  # nothing overdue
    assert re.search(r"1,?234\.5", html)
