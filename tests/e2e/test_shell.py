"""The UI shell in a real browser: sign in, navigate, create and edit a record, conflicts, language, phone
layout, search as you type, and record scope."""

from __future__ import annotations

import re

import pytest

from kehu.customers.models import Customer

pytestmark = pytest.mark.e2e


def test_admin_creates_and_edits_a_customer(seeded, page, login, live_server):
    login(page, "admin")
    page.click('nav a.nav-item >> text="Customers"')
    page.wait_for_url(re.compile(r"/customers/$"))
    page.click("[data-testid=create]")
    page.fill("input[name=name]", "浏览器测试科技有限公司")
    page.fill("input[name=phone]", "138 0013 8000")
    page.fill("input[name=email]", "Buyer@Example.COM")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=customer-name]")
    assert page.inner_text("[data-testid=customer-name]").startswith("浏览器测试科技有限公司")
    assert "138 0013 8000" in page.inner_text("[data-testid=contact-points]")
    assert "buyer@example.com" in page.content()
    page.click("[data-testid=edit]")
    page.fill("input[name=city]", "苏州")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=history]")
    history = page.inner_text("[data-testid=history]")
    assert "苏州" in history and ("City" in history or "城市" in history)  # the field label, not "city"
    assert Customer.objects.get(name="浏览器测试科技有限公司").city == "苏州"


def test_stale_edit_shows_who_changed_what_and_keeps_input(seeded, context_factory, login, live_server):
    customer = Customer.objects.filter(kind="organization").first()
    first, second = context_factory().new_page(), context_factory().new_page()
    login(first, "admin")
    login(second, "admin")
    url = f"{live_server.url}/customers/{customer.pk}/edit/"
    first.goto(url)
    second.goto(url)
    first.fill("input[name=city]", "成都")
    first.click("[data-testid=save]")
    first.wait_for_selector("[data-testid=customer-name]")
    second.fill("input[name=industry]", "我的修改")
    second.click("[data-testid=save]")
    error = second.inner_text("[data-testid=form-error]")
    assert "changed while you were editing" in error and "city" in error
    assert second.input_value("input[name=industry]") == "我的修改"
    customer.refresh_from_db()
    assert customer.city == "成都" and customer.industry != "我的修改"


def test_language_switch(seeded, page, login):
    login(page, "admin")
    assert page.get_attribute("html", "lang") == "en"
    with page.expect_navigation():
        page.select_option("[data-testid=language]", "zh-hans")
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert "客户" in page.inner_text("nav")
    with page.expect_navigation():
        page.select_option("[data-testid=language]", "en")
    assert page.get_attribute("html", "lang") == "en"
    assert "Customers" in page.inner_text("nav")


def test_rep_sees_only_own_customers(seeded, page, login, live_server):
    rep = seeded.users["rep1"]
    login(page, "rep1")
    page.goto(f"{live_server.url}/customers/?sort=name")
    shown = set(page.locator("[data-testid=list-table] tbody tr td:nth-child(2) a").all_inner_texts())
    own = set(Customer.objects.filter(owner=rep).values_list("name", flat=True))
    assert shown and shown <= own
    other = Customer.objects.exclude(owner=rep).first()
    response = page.goto(f"{live_server.url}/customers/{other.pk}/")
    assert response.status == 404


def test_phone_layout_has_a_menu(seeded, context_factory, login, live_server):
    phone = context_factory(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    login(phone, "admin")
    sidebar = phone.locator("nav.sidebar")
    box = sidebar.bounding_box()
    assert box is None or box["x"] + box["width"] <= 1  # off-screen until opened
    phone.click(".nav-toggle")
    phone.wait_for_timeout(300)
    box = sidebar.bounding_box()
    assert box is not None and box["x"] >= 0
    phone.click('nav a.nav-item >> text="Customers"')
    phone.wait_for_url(re.compile(r"/customers/$"))


def test_search_as_you_type(seeded, page, login):
    customer = Customer.objects.filter(kind="organization").order_by("pk").first()
    login(page, "admin")
    page.fill("#global-search-input", customer.name[2:6])
    page.wait_for_selector("[data-testid=search-results] >> text=" + customer.name)
    page.click("[data-testid=search-results] >> text=" + customer.name)
    page.wait_for_selector("[data-testid=customer-name]")
    assert customer.name in page.inner_text("[data-testid=customer-name]")


def test_log_interaction_in_two_clicks(seeded, page, login, live_server):
    customer = Customer.objects.filter(kind="organization").first()
    login(page, "admin")
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    page.click("[data-channel=visit]")
    page.fill("[data-testid=log-subject]", "上门拜访：演示新机型")
    page.click("[data-testid=log-save]")
    page.wait_for_selector("[data-testid=timeline-item] >> text=上门拜访：演示新机型")
    from kehu.interactions.models import Interaction

    assert Interaction.objects.get(subject="上门拜访：演示新机型").channel == "visit"


def test_customer_form_shows_the_fields_of_the_chosen_kind(seeded, page, login, live_server):
    login(page, "rep1")
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/customers/new/")
    expect(page.locator("select[name=gender]")).to_be_hidden()  # waits for Alpine to apply x-show
    expect(page.locator("input[name=tax_id]")).to_be_visible()
    page.select_option("select[name=kind]", "person")
    expect(page.locator("select[name=gender]")).to_be_visible()
    expect(page.locator("[data-testid=picker-account]")).to_be_visible()
    expect(page.locator("input[name=tax_id]")).to_be_hidden()
    page.fill("input[name=name]", "表单测试人")
    page.select_option("select[name=gender]", "female")
    page.check("text=VIP")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=customer-name]")
    created = Customer.objects.get(name="表单测试人")
    assert created.kind == "person" and created.gender == "female"
    assert list(created.tags.values_list("name", flat=True)) == ["VIP"]
