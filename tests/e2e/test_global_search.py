"""The top bar's search box on a phone (375 × 740): a usable width for the box and its results, and the
results list as an ARIA combobox/listbox driven from the keyboard (issue 7, item 10)."""

from __future__ import annotations

import pytest

from kehu.customers import services

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}
NAMES = ("北京天成和科技集团有限公司", "北京科技大学出版社", "中关村北京科技园")


@pytest.fixture
def phone(seeded, context_factory, login):
    for name in NAMES:
        services.customer_create(data={"name": name}, by=seeded.users["admin"])
    page = context_factory(**PHONE).new_page()
    login(page, "admin")
    return page


def _active(page) -> str | None:
    return page.get_attribute("#global-search-input", "aria-activedescendant")


def test_search_box_and_results_are_usable_on_a_phone(phone):
    box = phone.locator("#global-search-input").bounding_box()
    assert box["width"] >= 250 and box["x"] >= 0 and box["x"] + box["width"] <= 375
    phone.fill("#global-search-input", "北京科技")
    listbox = phone.locator("#search-results [role=listbox]")
    listbox.wait_for()
    popup = phone.locator("#search-results").bounding_box()
    assert popup["width"] >= 250 and popup["x"] >= 0 and popup["x"] + popup["width"] <= 375
    assert popup["y"] >= box["y"] + box["height"] - 1  # below the box, not over it
    titles = phone.locator("#search-results [role=option] b").all_inner_texts()
    assert set(NAMES) <= set(titles)  # the words of the query matched apart, too
    assert titles[0] == "北京科技大学出版社"  # the name starting with the query comes first
    # the sidebar still opens under the taller top bar without covering the search box
    phone.click(".nav-toggle")
    phone.wait_for_timeout(300)
    sidebar = phone.locator("nav.sidebar").bounding_box()
    assert sidebar["x"] >= 0 and sidebar["y"] >= box["y"] + box["height"]


def test_keyboard_moves_through_the_results_and_opens_one(phone, live_server):
    search = phone.locator("#global-search-input")
    assert search.get_attribute("role") == "combobox"
    assert search.get_attribute("aria-expanded") == "false"
    search.fill("北京科技")
    phone.locator("#search-results [role=listbox]").wait_for()
    assert search.get_attribute("aria-expanded") == "true"
    assert search.get_attribute("aria-controls") == "search-results"
    options = phone.locator("#search-results [role=option]")
    ids = [options.nth(i).get_attribute("id") for i in range(options.count())]
    assert len(ids) >= 3 and _active(phone) is None

    search.press("ArrowDown")
    assert _active(phone) == ids[0]
    assert options.nth(0).get_attribute("aria-selected") == "true"
    search.press("ArrowDown")
    assert _active(phone) == ids[1]
    assert options.nth(0).get_attribute("aria-selected") == "false"
    search.press("ArrowUp")
    search.press("ArrowUp")  # wraps from the first to the last
    assert _active(phone) == ids[-1]
    search.press("ArrowDown")
    assert _active(phone) == ids[0]

    search.press("Escape")
    assert phone.locator("#search-results").is_hidden()
    assert search.get_attribute("aria-expanded") == "false" and _active(phone) is None
    assert search.input_value() == "北京科技"  # Escape closed the list, kept the query

    search.press("ArrowDown")  # opens again on the first result
    assert phone.locator("#search-results").is_visible() and _active(phone) == ids[0]
    search.press("ArrowDown")
    target = options.nth(1).get_attribute("href")
    title = options.nth(1).locator("b").inner_text()
    search.press("Enter")
    phone.wait_for_url(f"{live_server.url}{target}")
    assert phone.inner_text("[data-testid=customer-name]").startswith(title)
