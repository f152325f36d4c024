"""The Content-Security-Policy (docs/adr/0007) holds in a real browser: the main pages load without a single
violation (`securitypolicyviolation` events, "Refused to …" console errors) and without an expression Alpine's
CSP build cannot run, and their interactive parts still work under it."""

from __future__ import annotations

import re

import pytest

from kehu.customers.models import Customer
from kehu.interactions.models import Interaction

pytestmark = pytest.mark.e2e

WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def watched(context_factory):
    """A page that records CSP violations and Alpine/JS errors; `problems()` returns them."""
    page = context_factory().new_page()
    page.add_init_script(WATCH)
    console: list[str] = []
    page.on(
        "console",
        lambda m: (
            console.append(m.text)
            if m.type in ("error", "warning")
            and re.search(r"Content Security Policy|Alpine|Refused to", m.text)
            else None
        ),
    )
    page.on("pageerror", lambda exc: console.append(f"page error: {exc}"))

    def problems() -> list[str]:
        try:
            seen = page.evaluate("window.__violations || []")
        except Exception:  # noqa: BLE001 - the page is navigating; the console still has everything
            seen = []
        return [*seen, *console]

    page.problems = problems
    return page


def test_the_policy_is_sent(seeded, client):
    header = client.get("/accounts/login/")["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ):
        assert directive in header
    assert "unsafe-inline" not in header and "unsafe-eval" not in header


def test_main_pages_have_no_csp_violation(seeded, watched, login, live_server):
    page = watched
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.problems() == []
    login(page, "admin")
    customer = Customer.objects.filter(kind="organization").first()
    for path in (
        "/",
        "/customers/",
        f"/customers/{customer.pk}/",
        "/customers/new/",
        f"/customers/{customer.pk}/edit/",
        "/interactions/calendar/",
        "/interactions/tasks/new/",
        "/sales/leads/",
        "/sales/leads/new/",
        "/sales/opportunities/",
        "/service/",
        "/service/tickets/",
        "/service/tickets/new/",
        "/settings/roles/",
    ):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert page.problems() == [], path


def test_interactive_parts_work_under_the_policy(seeded, watched, login, live_server):
    page = watched
    login(page, "admin")
    # list page: select all → the bulk bar shows the count (Alpine component bulkSelect)
    page.goto(f"{live_server.url}/customers/")
    expect_hidden = page.locator(".bulkbar")
    assert not expect_hidden.is_visible()
    page.locator("th.check input[type=checkbox]").check()
    page.wait_for_selector(".bulkbar", state="visible")
    rows = page.locator("input[name=ids]").count()
    assert page.inner_text(".bulkbar span").strip() == str(rows)
    # a confirmation replaces the inline onclick: dismissing it submits nothing
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click(".bulkbar button[type=submit]")
    assert page.url.endswith("/customers/")
    # the customer form shows the fields of the chosen kind (data-show-when)
    page.goto(f"{live_server.url}/customers/new/")
    assert not page.locator("select[name=gender]").is_visible()
    page.select_option("select[name=kind]", "person")
    page.wait_for_selector("select[name=gender]", state="visible")
    # the 360° page: a visit in two clicks through the quick log, the form resets
    customer = Customer.objects.filter(kind="organization").first()
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    visit = page.locator(".channel-buttons [data-channel=visit]")
    visit.click()
    assert "primary" in (visit.get_attribute("class") or "")
    assert visit.get_attribute("aria-checked") == "true"
    page.fill("[data-testid=log-subject]", "CSP 拜访")
    page.click("[data-testid=log-save]")
    page.wait_for_selector("#timeline-list >> text=CSP 拜访")
    assert page.input_value("[data-testid=log-subject]") == ""
    assert Interaction.objects.get(subject="CSP 拜访").channel == "visit"
    assert page.problems() == []
