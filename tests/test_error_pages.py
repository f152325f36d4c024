"""What users see when something goes wrong: friendly 404/500 pages, never Django's debug pages (which list every
URL pattern and show tracebacks with settings) — also in the `make run` demo unless a developer asks (DEBUG=1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import include, path

ROOT = Path(__file__).resolve().parent.parent


def _boom(request):
    raise RuntimeError("secret internals of the failure")


urlpatterns = [path("boom/", _boom), path("", include("kehu.urls"))]


@pytest.mark.parametrize(("env", "expected"), [({}, "False"), ({"DEBUG": "1"}, "True")])
def test_the_demo_settings_show_debug_pages_only_when_a_developer_asks(tmp_path, env, expected):
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "kehu.settings.dev", "KEHU_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == expected


@pytest.mark.django_db
def test_an_unknown_address_gets_the_friendly_404_without_the_url_patterns(client, make_user):
    client.force_login(make_user())
    response = client.get("/no/such/page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "Not found" in body and "URLconf" not in body and "api/schema" not in body


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_server_error_gets_the_friendly_500_without_internals(make_user):
    client = Client(raise_request_exception=False)
    client.force_login(make_user())
    response = client.get("/boom/")
    body = response.content.decode()
    assert response.status_code == 500
    assert "Server error" in body and "服务器错误" in body
    assert "secret internals" not in body and "Traceback" not in body
