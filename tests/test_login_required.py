"""Every URL needs a signed-in user, except the login page, health check and API schema. The URL list is
walked from the resolver, so URLs that later apps add are covered automatically."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {
    "/accounts/login/",
    "/healthz",
    "/healthz/ready",
    "/metrics",  # loopback or a bearer token: tests/test_production_profile.py
    "/api/schema/",
    "/favicon.ico",
}  # and /public/ (anonymous lead forms)
# the portal's own sign-in pages (kehu/portal/views_auth.py), open to anonymous visitors
PORTAL_OPEN = ("/portal/login/", "/portal/password/reset/", "/portal/activate/", "/portal/language/")


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def _concrete(route: str) -> str:
    route = route.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\.", ".")
    route = re.sub(r"<int:\w+>", "1", route)
    route = re.sub(r"<(?:slug|str):\w+>", "x", route)
    route = re.sub(r"<\w+>", "x", route)
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)  # DRF regex routes
    route = route.replace("(?P<format>[a-z0-9]+)/?", "json").replace("\\.", ".")
    route = re.sub(r"[\^\$\?\\]", "", route)
    return "/" + route


URLS = sorted({_concrete(r) for r in _walk(get_resolver().url_patterns)})


def test_the_walk_finds_the_apps_urls():
    assert len(URLS) > 60
    assert {"/customers/", "/interactions/tasks/", "/products/units/", "/settings/roles/"} <= set(URLS)


@pytest.mark.django_db
@pytest.mark.parametrize("url", URLS)
def test_anonymous_requests_are_refused(client, url):
    if url in PUBLIC or url.startswith(("/static/", "/public/")):  # /public/: tests/sales/test_web_form.py
        return
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        if url.startswith("/portal/"):
            # the portal guards its own pages: its sign-in, activation and reset pages are open (an invalid
            # activation or reset link answers 400 or says so), every other page sends to the portal sign-in
            assert response.status_code in (200, 302, 400, 405), (method, url, response.status_code)
            if (
                response.status_code == 302 and url != "/portal/language/"
            ):  # the switch goes back where it was
                assert response["Location"].startswith(("/portal/login/", "/portal/password/reset/")), (
                    method,
                    url,
                    response["Location"],
                )
            if response.status_code == 200:
                assert url.startswith(PORTAL_OPEN), (method, url)
            continue
        if url.startswith("/api/"):
            assert response.status_code in (302, 401, 403, 404, 405), (method, url, response.status_code)
        else:
            assert response.status_code in (302, 405), (method, url, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith("/accounts/login/"), (method, url)
