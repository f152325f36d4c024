"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium) against the live test server.

`playwright install` cannot download browsers here, so the tests use the system Chromium; CI installs it
(.ci/run). A missing browser fails the tests with a clear message rather than skipping them.
"""

from __future__ import annotations

import os
import random
import shutil

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

CHROMIUM = os.environ.get("KEHU_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--disable-sync",
]
PASSWORD = "kehu-demo-2026"


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install the Debian package 'chromium' (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def context_factory(browser):
    contexts = []

    def make(**kwargs):
        kwargs.setdefault("locale", "en-US")
        ctx = browser.new_context(**kwargs)
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def page(context_factory):
    return context_factory().new_page()


@pytest.fixture
def seeded(transactional_db):
    """The demo organisation (users of every role) and 60 demo customers."""
    from kehu.core.demo import seed_org
    from kehu.customers.demo import seed_customers

    org = seed_org()
    seed_customers(count=60, owners=org.owners, rng=random.Random(1))
    return org


@pytest.fixture
def login(live_server):
    def do(page, username, password=PASSWORD):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    return do
