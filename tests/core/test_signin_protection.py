"""Sign-in protection: failed sign-ins per user name and per client address lead to a lockout with a clear
message, the cool-off lifts it, an administrator can unlock sooner; API tokens are guarded the same way; every
lockout, unlock and sign-in is in the audit trail."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.authtoken.models import Token

from kehu.core.models import AuditAction, AuditEntry

from ..factories import UserFactory

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
PASSWORD = "pw-123456"  # tests/factories.py


@pytest.fixture
def person(db):
    return UserFactory(username="wang")


def _sign_in(client, username, password, ip="10.1.1.1", **extra):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def test_a_user_name_is_locked_after_five_failures_even_with_the_right_password(client, person, frozen_clock):
    for _ in range(4):
        assert _sign_in(client, "wang", "wrong").status_code == 200  # the form again, with the error
    locked = _sign_in(client, "wang", "wrong")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode() and locked["Retry-After"] == "900"
    # from another address, with the right password: the user name is locked
    assert _sign_in(client, "wang", PASSWORD, ip="10.9.9.9").status_code == 429
    assert "_auth_user_id" not in client.session
    entry = AuditEntry.objects.get(action=AuditAction.LOCKOUT)  # one entry, however many attempts follow
    assert entry.object_id == str(person.pk) and "10.1.1.1" in entry.note
    # the cool-off runs from the last attempt
    frozen_clock.shift(dt.timedelta(minutes=14))
    assert _sign_in(client, "wang", PASSWORD, ip="10.9.9.9").status_code == 429
    frozen_clock.shift(dt.timedelta(minutes=16))
    assert _sign_in(client, "wang", PASSWORD, ip="10.9.9.9").status_code == 302
    assert client.session["_auth_user_id"] == str(person.pk)


def test_an_address_guessing_many_user_names_is_locked_and_a_forged_forwarded_for_does_not_help(
    client, person
):
    for i in range(5):
        _sign_in(client, f"guess{i}", "wrong", ip="10.6.6.6", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
    assert (
        _sign_in(client, "wang", PASSWORD, ip="10.6.6.6", HTTP_X_FORWARDED_FOR="192.0.2.200").status_code
        == 429
    )
    assert _sign_in(client, "wang", PASSWORD, ip="10.7.7.7").status_code == 302  # another address is not


def test_behind_a_trusted_proxy_the_address_the_proxy_saw_counts(client, person, settings):
    settings.KEHU_TRUSTED_PROXIES = 1
    for i in range(5):
        _sign_in(client, f"guess{i}", "wrong", ip="10.0.0.2", HTTP_X_FORWARDED_FOR=f"6.6.6.6, 198.51.100.{i}")
    # each request came from a different client address (the proxy's view): none is locked
    assert (
        _sign_in(client, "wang", PASSWORD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.9").status_code
        == 302
    )


def test_a_success_resets_the_count(client, person):
    for _ in range(4):
        _sign_in(client, "wang", "wrong")
    assert _sign_in(client, "wang", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert _sign_in(client, "wang", "wrong").status_code == 200


def test_an_administrator_sees_and_unlocks_a_lockout(client, person, admin_user):
    for _ in range(5):
        _sign_in(client, "wang", "wrong")
    client.force_login(admin_user)
    page = client.get("/settings/lockouts/").content.decode()
    assert "wang" in page and "10.1.1.1" in page
    response = client.post("/settings/lockouts/", {"username": "wang", "ip_address": "10.1.1.1"})
    assert response.status_code == 302
    assert "wang" not in client.get("/settings/lockouts/").content.decode()
    unlock = AuditEntry.objects.get(action=AuditAction.UNLOCK)
    assert unlock.actor == admin_user and unlock.object_id == str(person.pk)
    client.logout()
    assert _sign_in(client, "wang", PASSWORD).status_code == 302


def test_only_administrators_reach_the_lockouts_page(client, person):
    client.force_login(person)
    assert client.get("/settings/lockouts/").status_code == 403
    assert client.post("/settings/lockouts/", {"username": "wang"}).status_code == 403


def test_the_lockout_message_is_translated(client, person):
    for _ in range(5):
        response = _sign_in(client, "wang", "wrong", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 429 and "登录失败次数过多" in response.content.decode()


def test_wrong_api_tokens_lock_the_address_out_with_429(person):
    from rest_framework.test import APIClient

    good = Token.objects.create(user=person).key
    api = APIClient(REMOTE_ADDR="10.3.3.3")
    for i in range(4):
        api.credentials(HTTP_AUTHORIZATION=f"Token {i:040x}")
        wrong = api.get("/api/customers/")
        assert wrong.status_code in (401, 403) and wrong.json()["detail"] == "Invalid token."
    api.credentials(HTTP_AUTHORIZATION=f"Token {5:040x}")
    assert api.get("/api/customers/").status_code == 429  # the fifth wrong token locks the address out
    api.credentials(HTTP_AUTHORIZATION=f"Token {good}")
    refused = api.get("/api/customers/")
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.json()["detail"]
    other = APIClient(REMOTE_ADDR="10.4.4.4")
    other.credentials(HTTP_AUTHORIZATION=f"Token {good}")
    assert other.get("/api/customers/").status_code in (200, 403)  # authenticated: the grants decide
