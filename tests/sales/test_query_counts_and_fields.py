"""Hot lists answer in a constant number of queries; hidden fields stay hidden on page, API and export."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kehu.core.access import Access
from kehu.core.models import FieldGrant
from kehu.sales.services import leads
from kehu.sales.services import opportunities as svc
from tests.sales.conftest import demo_role

pytestmark = pytest.mark.django_db


def _count(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_lists_of_leads_and_deals_have_a_constant_query_count(org, pipeline, account, api_for, client_for):
    api, client = api_for(org.manager), client_for(org.manager)

    def add(n):
        for i in range(n):
            leads.lead_create(
                data={"kind": "person", "name": f"线索{i}", "budget": Decimal("10")}, by=org.rep1
            )
            svc.opportunity_create(data={"name": f"商机{i}", "customer": account}, by=org.rep1)

    def measure():
        Access.forget(org.manager)
        return (
            _count(lambda: api.get("/api/leads/").json()),
            _count(lambda: api.get("/api/opportunities/").json()),
            _count(lambda: client.get(reverse("sales:leads"))),
            _count(lambda: client.get(reverse("sales:opportunities"))),
        )

    add(2)
    measure()  # warm-up: the API client's user object keeps its portal link (one query, once) afterwards
    few = measure()
    add(12)
    assert measure() == few


def test_a_hidden_field_is_absent_from_page_api_and_export(org, client_for, api_for):
    lead = leads.lead_create(
        data={"kind": "person", "name": "保密预算", "budget": Decimal("987654")}, by=org.rep1
    )
    FieldGrant.objects.create(
        role=demo_role("sales_rep"), model="sales.lead", field="budget", access="hidden"
    )
    Access.forget(org.rep1)
    body = api_for(org.rep1).get(f"/api/leads/{lead.pk}/").json()
    assert "budget" not in body and body["name"] == "保密预算"
    page = client_for(org.rep1).get(reverse("sales:lead", args=[lead.pk])).content.decode()
    assert "987654" not in page and "987,654" not in page
    changed = api_for(org.rep1).patch(
        f"/api/leads/{lead.pk}/", {"budget": "1.00"}, format="json", HTTP_IF_MATCH=f'"{lead.pk}-1"'
    )
    lead.refresh_from_db()
    assert lead.budget == Decimal("987654.00")  # not written (the hidden field is dropped from input)
    assert changed.status_code == 200 and "budget" not in changed.json()
    manager_role = demo_role("sales_manager")
    FieldGrant.objects.create(role=manager_role, model="sales.lead", field="budget", access="hidden")
    Access.forget(org.manager)
    export = client_for(org.manager).get(reverse("sales:leads"), {"export": "csv"})
    content = b"".join(export.streaming_content if export.streaming else [export.content]).decode("utf-8-sig")
    assert export.status_code == 200 and "保密预算" in content and "987654" not in content
