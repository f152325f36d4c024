"""The 360° page in a real browser: key figures are never cut (dates whole at desktop and phone widths), phones and
emails are links that dial or write, the favicon is there, consent reads in the page's language."""

from __future__ import annotations

import pytest

from kehu.customers import services
from kehu.customers.models import Customer
from kehu.interactions import services as interaction_services

pytestmark = pytest.mark.e2e


@pytest.fixture
def customer(seeded):
    admin = seeded.users["admin"]
    c = Customer.objects.filter(kind="organization").order_by("pk").first()
    interaction_services.interaction_log(
        customer=c, data={"channel": "call", "subject": "回访电话"}, by=admin
    )
    services.contact_point_add(customer=c, kind="email", value="buyer@example.com", by=admin)
    services.consent_record(customer=c, channel="email", status="granted", method="web_form", by=admin)
    return c


@pytest.mark.parametrize("width", [1400, 1280, 390])
def test_key_figures_are_never_cut(customer, context_factory, login, live_server, width):
    page = context_factory(viewport={"width": width, "height": 900}).new_page()
    login(page, "admin")
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    cut = page.eval_on_selector_all(
        ".kpi-value", "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"
    )
    figures = page.eval_on_selector_all(".kpi-value", "els => els.map(e => e.textContent.trim())")
    assert figures and cut == []
    assert not any("…" in f or "···" in f for f in figures)


def test_phones_and_emails_dial_and_write_and_consent_is_translated(
    customer, context_factory, login, live_server
):
    page = context_factory(locale="zh-CN").new_page()
    login(page, "admin")
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    links = page.eval_on_selector_all("[data-testid=contact-points] a", "els => els.map(e => e.href)")
    assert "mailto:buyer@example.com" in links
    assert [h for h in links if h.startswith("tel:")] == [f"tel:{p.number}" for p in customer.phones.all()]
    consent = page.inner_text("[data-testid=consent]")
    assert "granted" not in consent and "web_form" not in consent


def test_the_favicon_is_served(customer, page, login, live_server):
    login(page, "admin")
    icon = page.get_attribute("link[rel=icon]", "href")
    assert page.request.get(f"{live_server.url}{icon}").status == 200
    assert page.request.get(f"{live_server.url}/favicon.ico").status == 200
