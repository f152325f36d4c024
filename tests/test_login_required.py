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
        if url.startswith("/api/"):
            assert response.status_code in (302, 401, 403, 404, 405), (method, url, response.status_code)
        else:
            assert response.status_code in (302, 405), (method, url, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith("/accounts/login/"), (method, url)
