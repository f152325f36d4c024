"""The 360° timeline in a real browser: two-click logging without a reload, GPS check-in, load more."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kehu.customers.models import Customer
from kehu.interactions import services
from kehu.interactions.models import Interaction

pytestmark = pytest.mark.e2e


def first_item_is(page, text: str) -> None:
    # Playwright's expect polls from outside the page: wait_for_function would eval in it, which the CSP forbids
    expect(page.locator("#timeline-list li").first).to_contain_text(text)


def test_log_in_two_clicks_check_in_and_load_more(seeded, context_factory, login, live_server):  # noqa: F811
    rep = seeded.users["rep1"]
    customer = Customer.objects.filter(owner=rep, kind="organization").first()
    for i in range(22):
        services.interaction_log(customer=customer, data={"channel": "note", "subject": f"旧记录{i}"}, by=rep)
    page = context_factory(
        permissions=["geolocation"], geolocation={"latitude": 31.230416, "longitude": 121.473701}
    ).new_page()
    login(page, "rep1")
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    page.wait_for_selector("[data-testid=timeline]")
    page.evaluate("window.__marker = 'same page'")  # gone if the page reloads

    page.click("[data-testid=timeline] [data-channel=wechat]")  # click 1: the channel (focuses the subject)
    expect(
        page.locator("[data-testid=log-subject]")
    ).to_be_focused()  # no wait_for_function: the CSP forbids eval
    page.keyboard.type("微信发送报价单")
    page.click("[data-testid=log-save]")  # click 2
    first_item_is(page, "微信发送报价单")
    assert page.input_value("[data-testid=log-subject]") == ""
    assert page.evaluate("window.__marker") == "same page"
    assert Interaction.objects.get(subject="微信发送报价单").channel == "wechat"

    page.click("[data-testid=timeline] summary")
    page.click("[data-testid=check-in]")
    page.wait_for_selector("[data-testid=check-in-status] >> text=31.230416")
    page.fill("[data-testid=log-subject]", "上门拜访签到")
    page.click("[data-testid=log-save]")
    first_item_is(page, "上门拜访签到")
    visit = Interaction.objects.get(subject="上门拜访签到")
    assert visit.channel == "visit" and float(visit.latitude) == pytest.approx(31.230416)
    assert float(visit.longitude) == pytest.approx(121.473701)

    page.fill("[data-testid=log-subject]", "再打一次电话")
    page.click("[data-testid=log-save]")
    first_item_is(page, "再打一次电话")
    plain = Interaction.objects.get(subject="再打一次电话")
    assert plain.channel == "call" and plain.latitude is None  # the form reset to a plain call

    assert page.locator("[data-testid=timeline-item]").count() == 20 + 3
    page.click("[data-testid=load-more]")
    page.wait_for_selector("text=旧记录0")
    items = page.locator("[data-testid=timeline-item]")
    assert items.count() == 22 + 3  # the two oldest came in, nothing twice
    assert page.locator("[data-testid=load-more]").count() == 0
    texts = items.all_inner_texts()
    assert len(set(texts)) == len(texts)
