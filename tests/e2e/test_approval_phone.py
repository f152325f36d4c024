"""A quote over the discount limit, approved by the manager from the in-app notification on a phone: the rep
submits it in the browser; the manager, on a phone-sized screen, opens the notifications, reads the request's
page (no sideways scrolling), and approves right from the notification; the rep's quote is approved and its
approval history shows on the quote's page."""

from __future__ import annotations

import pytest

from kehu.approvals.services import pending_request
from kehu.sales.models import Quote
from tests.e2e.test_quote_to_order import deal  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def test_manager_approves_a_discount_from_the_notification_on_a_phone(
    seeded,
    deal,  # noqa: F811 - the fixture
    context_factory,
    login,
    live_server,  # noqa: F811
):
    rep_page = context_factory().new_page()
    login(rep_page, "rep1")
    rep_page.goto(f"{live_server.url}{deal.get_absolute_url()}")
    rep_page.click("[data-testid=make-quote]")
    rep_page.wait_for_selector("[data-testid=quote-lines]")
    rep_page.fill("[data-testid=line-discount]", "15")
    rep_page.click("[data-testid=line-save]")
    rep_page.wait_for_selector("[data-testid=approval-required]")
    rep_page.click("[data-testid=submit]")
    rep_page.wait_for_selector("[data-testid=pending-approval]")
    quote = Quote.objects.get(opportunity=deal)
    request = pending_request(quote)
    assert request is not None

    phone = context_factory(**PHONE).new_page()
    login(phone, "manager")
    phone.goto(f"{live_server.url}/notifications/")
    phone.wait_for_selector(f"[data-testid=notification-decide-{request.pk}]")
    # the request's page fits the phone's width and shows the discount the manager may see
    phone.click(f"a[href='/approvals/{request.pk}/']")
    phone.wait_for_selector("[data-testid=figure-discount]")
    assert "15" in phone.inner_text("[data-testid=figure-discount]")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    phone.go_back()
    form = f"[data-testid=notification-decide-{request.pk}]"
    phone.fill(f"{form} input[name=comment]", "同意，战略客户")
    with phone.expect_navigation():
        phone.tap(f"{form} [data-testid=notification-approve]")
    phone.wait_for_selector(form, state="detached")  # decided: no buttons any more
    assert phone.url == f"{live_server.url}/notifications/"
    quote.refresh_from_db()
    assert quote.status == "approved" and quote.approved_by.username == "manager"

    rep_page.reload()
    rep_page.wait_for_selector("[data-testid=approval-panel] [data-testid=event-approved]")
    assert "同意，战略客户" in rep_page.inner_text("[data-testid=approval-panel]")
