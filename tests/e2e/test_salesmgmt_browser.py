"""Sales management in a real browser: a rep's visit day on a phone (location granted and denied, the visit
page reloaded without a connection through the service worker, a note typed offline and sent when the
connection returns, a photo), a manager allocating a plan top-down, and the team-visits map on Leaflet with
tiles and on the plain grid when the tile server does not answer."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kehu.customers.models import Customer
from kehu.salesmgmt.models import CustomerLocation, PlanTarget, Visit, VisitNote, VisitPhoto
from kehu.salesmgmt.services import plans, visits

pytestmark = pytest.mark.e2e

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


# a 1×1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f8cf"
    "c0f01f0005000201a5d0b9de0000000049454e44ae426082"
)


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
    # the service worker keeps the visit page: it opens again without a connection
    page.wait_for_function(
        "navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=15_000
    )
    page.reload()  # cached by the worker while online
    # the connection drops: the note waits in the phone and is sent when it returns
    ctx.set_offline(True)
    page.reload()
    expect(page.locator("[data-testid=note-text]")).to_be_visible()
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
    # an optional photo from the phone: a PDF renamed .jpg is refused, a PNG kept
    page.set_input_files("[data-testid=photo-input]", {"name": "shelf.jpg", "mimeType": "image/jpeg",
                                                        "buffer": b"%PDF-1.7 not a photo"})  # fmt: skip
    page.click("[data-testid=add-photo]")
    expect(page.locator(".msg-error, [role=alert]").first).to_contain_text("Only JPEG, PNG or WebP")
    page.set_input_files(
        "[data-testid=photo-input]", {"name": "shelf.png", "mimeType": "image/png", "buffer": PNG}
    )
    page.click("[data-testid=add-photo]")
    expect(page.locator("[data-testid=photo]")).to_have_count(1)
    assert VisitPhoto.objects.filter(visit=visit).count() == 1
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


def test_team_visits_on_leaflet_with_tiles_and_on_the_grid_without(
    seeded, context_factory, login, live_server, settings
):
    visit = _visit(seeded, "Map visit")
    visits.visit_check_in(visit=visit, latitude="31.2305", longitude="121.4740", accuracy="10",
                          by=seeded.users["rep1"])  # fmt: skip
    # tiles from the live server itself (any image answers for the test): Leaflet draws the point on them
    settings.KEHU_MAP_TILES_URL = (
        f"{live_server.url}/static/vendor/leaflet-1.9.4/images/layers.png?z={{z}}&x={{x}}&y={{y}}"
    )
    page = context_factory(viewport={"width": 1280, "height": 900}).new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, "manager")
    page.goto(f"{live_server.url}/sales-management/visits/team/")
    expect(page.locator("[data-testid=leaflet-map]")).to_have_attribute("data-ready", "1")
    expect(page.locator("[data-testid=leaflet-map] path.leaflet-interactive")).to_have_count(1)
    page.wait_for_function("Number(document.getElementById('team-map').dataset.tilesLoaded || 0) > 0")
    expect(page.locator("[data-testid=grid-map]")).to_be_hidden()
    assert not [e for e in errors if "Content Security Policy" in e]
    # a tile server that does not answer: the points on the plain grid
    settings.KEHU_MAP_TILES_URL = "http://127.0.0.1:9/{z}/{x}/{y}.png"
    page.goto(f"{live_server.url}/sales-management/visits/team/")
    expect(page.locator("[data-testid=leaflet-map]")).to_have_attribute("data-fallback", "grid")
    expect(page.locator(f"[data-testid=grid-map] [data-testid=point-{visit.pk}]")).to_be_visible()
    # no tile server configured: the grid only, no Leaflet
    settings.KEHU_MAP_TILES_URL = ""
    page.goto(f"{live_server.url}/sales-management/visits/team/")
    expect(page.locator(f"[data-testid=point-{visit.pk}]")).to_be_visible()
    assert page.locator("[data-testid=leaflet-map]").count() == 0
