"""Sales management in a real browser: a rep's visit day on a phone (location granted and denied, a note
typed offline and sent when the connection returns) and a manager allocating a plan top-down."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kehu.customers.models import Customer
from kehu.salesmgmt.models import CustomerLocation, PlanTarget, Visit, VisitNote
from kehu.salesmgmt.services import plans, visits

pytestmark = pytest.mark.e2e

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def _visit(seeded, subject):
    rep = seeded.users["rep1"]
    customer = Customer.objects.filter(owner=rep).first()
    CustomerLocation.objects.update_or_create(
        customer=customer, defaults={"latitude": Decimal("31.230416"), "longitude": Decimal("121.473701")}
    )
    start = timezone.now() - dt.timedelta(minutes=5)
    return visits.visit_plan(data={"customer": customer, "subject": subject, "planned_start": start}, by=rep)


def _wait(condition, seconds=10.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_rep_visit_day_on_a_phone_with_location_and_an_offline_note(
    seeded, context_factory, login, live_server
):
    visit = _visit(seeded, "季度拜访 Quarterly visit")
    ctx = context_factory(
        **PHONE,
        permissions=["geolocation"],
        geolocation={"latitude": 31.2304, "longitude": 121.4853, "accuracy": 15},
    )
    page = ctx.new_page()
    login(page, "rep1")
    page.goto(f"{live_server.url}/sales-management/visits/")
    page.click(f"[data-testid=visit-{visit.pk}] a")
    page.click("[data-testid=check-in]")
    expect(page.locator("[data-testid=visit-status]")).to_have_text("Checked in")
    expect(page.locator("[data-testid=distance]")).to_contain_text("m from the customer")
    visit.refresh_from_db()
    assert visit.status == "in" and 1000 < visit.checkin_distance < 1200
    # the connection drops: the note waits in the phone and is sent when it returns
    ctx.set_offline(True)
    page.fill("[data-testid=note-text]", "客户要样品 Wants samples")
    page.click("[data-testid=add-note]")
    expect(page.locator("[data-testid=notes-waiting]")).to_contain_text("1")
    assert VisitNote.objects.filter(visit=visit).count() == 0
    ctx.set_offline(False)
    assert _wait(lambda: VisitNote.objects.filter(visit=visit).count() == 1)
    expect(page.locator("[data-testid=notes-waiting]")).to_be_hidden()
    page.reload()
    expect(page.locator("[data-testid=note]")).to_contain_text("Wants samples")
    assert VisitNote.objects.filter(visit=visit).count() == 1  # sent once
    page.click("[data-testid=check-out]")
    expect(page.locator("[data-testid=visit-status]")).to_have_text("Done")


def test_a_denied_location_is_refused_gracefully(seeded, context_factory, login, live_server):
    visit = _visit(seeded, "Denied visit")
    ctx = context_factory(**PHONE)  # no geolocation permission: the browser denies it
    page = ctx.new_page()
    login(page, "rep1")
    page.goto(f"{live_server.url}{visit.get_absolute_url()}")
    page.click("[data-testid=check-in]")
    expect(page.locator("[data-testid=geo-status]")).to_contain_text("Location denied")
    assert Visit.objects.get(pk=visit.pk).status == "planned"
    expect(page.locator("[data-testid=check-in]")).to_be_enabled()


def test_manager_allocates_a_plan(seeded, context_factory, login, live_server):
    manager = seeded.users["manager"]
    plan = plans.plan_create(
        data={"name": "年度计划 Annual plan", "year": timezone.localdate().year}, by=manager
    )
    company = plans.plan_company_set(plan=plan, product_line=None, amount="1000000", units="0", by=manager,
                                     expected_version=plan.version)  # fmt: skip
    north, east = seeded.users["rep1"].department, seeded.users["rep3"].department
    page = context_factory().new_page()
    login(page, "manager")
    page.goto(f"{live_server.url}{plan.get_absolute_url()}")
    page.click(f"[data-testid='allocate-{company.key}']")
    for dept, amount in ((north, "600000"), (east, "300000")):
        page.check(f"[data-testid=use-department-{dept.pk}]")
        page.fill(f"[data-testid=amount-department-{dept.pk}]", amount)
    page.click("[data-testid=allocate]")
    expect(page.locator(".msg-error, [role=alert]").first).to_contain_text("does not add up")
    assert PlanTarget.objects.filter(parent=company).count() == 0
    page.fill(f"[data-testid=amount-department-{east.pk}]", "400000")
    page.click("[data-testid=allocate]")
    expect(
        page.locator(f"[data-testid='target-department:{north.pk}|*'] [data-testid=amount]")
    ).to_contain_text("600")
    assert sorted(PlanTarget.objects.filter(parent=company).values_list("amount", flat=True)) == [
        Decimal("400000.00"), Decimal("600000.00"),
    ]  # fmt: skip
    page.click("[data-testid=attainment]")
    expect(page.locator("[data-testid=attainment-chart]")).to_have_attribute("data-ready", "1")
