"""Lead conversion: customer (+ contact) + opportunity in one step, dedup proposals, history moves, races."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.interactions.models import Interaction
from kehu.sales.models import Lead, Opportunity, StageChange
from kehu.sales.services import leads
from kehu.sales.services.conversion import (
    DuplicateCustomers,
    LeadAlreadyConverted,
    lead_convert,
    lead_duplicates,
)


def _org_lead(by, **extra):
    data = {
        "kind": "organization",
        "company": "南京金陵重工有限公司",
        "name": "孙经理",
        "job_title": "采购经理",
        "phone": "13912345678",
        "email": "sun@jinling.example",
        "budget": Decimal("250000"),
        **extra,
    }
    return leads.lead_create(data=data, by=by)


@pytest.mark.django_db
def test_convert_creates_account_contact_and_deal_and_moves_the_history(org, pipeline):
    lead = _org_lead(org.rep1)
    leads.lead_activity_log(
        lead=lead, data={"channel": "call", "subject": "需求沟通：两台空压机"}, by=org.rep1
    )
    leads.lead_activity_log(lead=lead, data={"channel": "note", "subject": "预算已批"}, by=org.rep1)
    lead.refresh_from_db()
    result = lead_convert(lead=lead, by=org.rep1, expected_version=lead.version)
    account, contact, deal = result.customer, result.contact, result.opportunity
    assert (
        result.created_customer and account.kind == "organization" and account.name == "南京金陵重工有限公司"
    )
    assert (
        contact.account == account and contact.phone == "+8613912345678" and contact.job_title == "采购经理"
    )
    assert (deal.customer, deal.contact, deal.amount, deal.owner) == (
        account,
        contact,
        Decimal("250000.00"),
        org.rep1,
    )
    assert deal.stage == pipeline.stages.order_by("position").first() and deal.lead == lead
    assert StageChange.objects.filter(opportunity=deal).count() == 1
    lead.refresh_from_db()
    assert (
        lead.status == "converted"
        and lead.converted_opportunity == deal
        and lead.converted_customer == account
    )
    timeline = Interaction.objects.filter(account=account)
    subjects = set(timeline.values_list("subject", flat=True))
    assert {"需求沟通：两台空压机", "预算已批"} <= subjects
    moved_call = timeline.get(subject="需求沟通：两台空压机")
    assert (moved_call.channel, moved_call.user, moved_call.customer) == ("call", org.rep1, contact)
    assert timeline.filter(related_model="sales.lead", related_id=str(lead.pk)).exists()
    assert timeline.filter(related_model="sales.opportunity.created").exists()
    with pytest.raises(LeadAlreadyConverted):
        lead_convert(lead=lead, by=org.rep1)


@pytest.mark.django_db
def test_existing_customers_are_proposed_instead_of_a_duplicate(org, pipeline):
    existing = customer_services.customer_create(data={"name": "南京金陵重工有限公司"}, by=org.rep1)
    contact = customer_services.customer_create(
        data={"kind": "person", "name": "孙经理", "account": existing, "phone": "13912345678"}, by=org.rep1
    )
    lead = _org_lead(org.rep1, company="南京金陵重工")
    proposals = lead_duplicates(lead=lead, user=org.rep1)
    assert proposals and proposals[0][0] == existing
    assert lead_duplicates(lead=lead, user=org.rep3) == []  # rep3 may not see rep1's customers: nothing leaks
    with pytest.raises(DuplicateCustomers) as exc:
        lead_convert(lead=lead, by=org.rep1)
    assert exc.value.candidates[0][0] == existing
    assert Customer.objects.count() == 2 and Opportunity.objects.count() == 0  # nothing half-saved
    result = lead_convert(lead=lead, by=org.rep1, customer=existing)
    assert not result.created_customer and result.customer == existing and result.contact == contact
    assert Customer.objects.count() == 2 and result.opportunity.customer == existing


@pytest.mark.django_db
def test_a_person_lead_becomes_an_individual_and_a_new_customer_can_be_confirmed(org, pipeline):
    customer_services.customer_create(
        data={"kind": "person", "name": "李雷", "phone": "13700001111"}, by=org.rep1
    )
    lead = leads.lead_create(data={"kind": "person", "name": "李雷", "phone": "13700001111"}, by=org.rep1)
    with pytest.raises(DuplicateCustomers):
        lead_convert(lead=lead, by=org.rep1)
    result = lead_convert(lead=lead, by=org.rep1, create_customer=True, create_opportunity=False)
    assert result.customer.kind == "person" and result.contact is None and result.opportunity is None
    assert Customer.objects.filter(name="李雷").count() == 2


@pytest.mark.django_db
def test_conversion_rights(org, pipeline):
    lead = _org_lead(org.rep1)
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    with pytest.raises(Http404):
        lead_convert(lead=lead, by=org.rep3)
    with pytest.raises(PermissionDenied):
        lead_convert(lead=lead, by=org.exec)
    disq = leads.lead_disqualify(lead=_org_lead(org.rep1, company="另一家公司"), reason="spam", by=org.rep1)
    from kehu.core.exceptions import BusinessRuleError

    with pytest.raises(BusinessRuleError):
        lead_convert(lead=disq, by=org.rep1)
    # the manager converts a rep's lead: the customer and the deal stay with the rep (manager may transfer)
    result = lead_convert(lead=lead, by=org.manager, create_customer=True)
    assert result.customer.owner == org.rep1 and result.opportunity.owner == org.rep1


@pytest.mark.django_db
def test_api_convert_answers_409_with_candidates(org, pipeline, api_for):
    existing = customer_services.customer_create(data={"name": "南京金陵重工有限公司"}, by=org.rep1)
    lead = _org_lead(org.rep1)
    api = api_for(org.rep1)
    conflict = api.post(f"/api/leads/{lead.pk}/convert/", {}, format="json")
    assert conflict.status_code == 409 and conflict.json()["candidates"][0]["id"] == existing.pk
    assert api.get(f"/api/leads/{lead.pk}/duplicates/").json()[0]["id"] == existing.pk
    done = api.post(
        f"/api/leads/{lead.pk}/convert/", {"customer": existing.pk, "amount": "1000.00"}, format="json"
    )
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["customer"] == existing.pk and Opportunity.objects.get(
        pk=body["opportunity"]
    ).amount == Decimal("1000.00")
    again = api.post(f"/api/leads/{lead.pk}/convert/", {"customer": existing.pk}, format="json")
    assert again.status_code == 409 and again.json()["customer"] == existing.pk


@pytest.mark.django_db
def test_convert_page(org, pipeline, client_for):
    lead = _org_lead(org.rep1)
    client = client_for(org.rep1)
    page = client.get(reverse("sales:lead_convert", args=[lead.pk]))
    assert page.status_code == 200
    response = client.post(
        reverse("sales:lead_convert", args=[lead.pk]),
        {
            "customer": "new",
            "confirm_new": "1",
            "create_opportunity": "1",
            "opportunity_name": "金陵空压机项目",
            "pipeline": str(pipeline.pk),
            "version": str(lead.version),
        },
    )
    assert response.status_code == 302
    deal = Opportunity.objects.get()
    assert response["Location"] == deal.get_absolute_url() and deal.name == "金陵空压机项目"
    assert client.get(deal.get_absolute_url()).status_code == 200
    # the box unticked: only the customer (the hidden 0 comes before the checkbox's 1)
    other = _org_lead(org.rep1, company="无锡太湖仪表", phone="13511112222", email="x@taihu.example")
    response = client.post(
        reverse("sales:lead_convert", args=[other.pk]),
        {"customer": "new", "confirm_new": "1", "create_opportunity": "0"},
    )
    assert response.status_code == 302 and Opportunity.objects.count() == 1
    other.refresh_from_db()
    assert other.status == "converted" and other.converted_opportunity is None


@pytest.mark.django_db(transaction=True)
def test_two_reps_converting_the_same_lead_at_once_make_one_customer_and_one_deal(org):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race is exercised on PostgreSQL")
    from kehu.sales.services.opportunities import pipeline_default

    pipeline_default()
    lead = _org_lead(org.rep1)
    lead.owner = org.rep1
    # both the owner and the manager convert at the same moment
    results, errors, barrier = [], [], threading.Barrier(2)

    def convert(user):
        from django.db import connections

        try:
            barrier.wait()
            results.append(lead_convert(lead=Lead.objects.get(pk=lead.pk), by=user, create_customer=True))
        except LeadAlreadyConverted as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=convert, args=(u,)) for u in (org.rep1, org.manager)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1 and len(errors) == 1
    assert Customer.objects.filter(kind="organization").count() == 1
    assert Customer.objects.filter(kind="person").count() == 1
    assert Opportunity.objects.count() == 1
