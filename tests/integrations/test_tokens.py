"""API tokens (issue #18 item 6, ADR 0022): scoped, hashed, shown once, expiring, revocable, last use written
cheaply, rate-limited per token; older DRF tokens and sessions keep working; the management page and API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from kehu.core.models import Scope
from kehu.customers.models import Customer
from kehu.integrations import tokens
from kehu.integrations.models import ApiToken
from tests.factories import CustomerFactory, UserFactory, grant, user_with

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def refused(response) -> bool:
    """Credentials refused: the API answers 403 (its first authenticator, the session, sends no challenge)."""
    return response.status_code in (401, 403) and "token" in response.json()["detail"].lower()


def bearer(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


@pytest.fixture
def rep():
    user = user_with("customers.customer", ("view", "add", "change"), Scope.ALL, Scope.ALL)
    grant(user.roles.get(), "sales.lead", ("view", "add"), Scope.ALL, Scope.ALL)
    return user


def make_token(user, scopes, **kwargs):
    return tokens.token_create(user=user, name="t", scopes=scopes, by=user, **kwargs)


def test_key_is_shown_once_and_only_its_hash_is_stored(rep):
    token, key = make_token(rep, ["customers:read"])
    assert key.startswith("kehu_") and key not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert token.key_hash == tokens.key_hash(key) and len(token.key_hash) == 64
    listed = bearer(key).get("/api/integrations/tokens/")
    assert listed.status_code == 403  # integrations:read is not among its scopes
    session = APIClient()
    session.force_authenticate(rep)
    rows = session.get("/api/integrations/tokens/").json()["results"]
    assert rows[0]["display"] == f"kehu_{token.prefix}_…" and "key" not in rows[0]


def test_scopes_read_and_write_per_app(rep):
    CustomerFactory(name="甲公司", owner=rep)
    _t, read_key = make_token(rep, ["customers:read"])
    api = bearer(read_key)
    assert api.get("/api/customers/").status_code == 200
    refused = api.post("/api/customers/", {"name": "新公司"}, format="json")
    assert refused.status_code == 403 and "customers:write" in refused.json()["detail"]
    assert api.get("/api/leads/").status_code == 403  # another app
    _t, write_key = make_token(rep, ["customers:write", "sales:read"])
    api = bearer(write_key)
    assert api.post("/api/customers/", {"name": "新公司"}, format="json").status_code == 201
    assert api.get("/api/leads/").status_code == 200
    _t, star = make_token(rep, ["*:read"])
    assert bearer(star).get("/api/leads/").status_code == 200
    assert bearer(star).post("/api/customers/", {"name": "x"}, format="json").status_code == 403


def test_a_token_never_exceeds_its_user_rights(rep):
    other = UserFactory()
    CustomerFactory(name="别人的", owner=other)
    viewer = user_with("customers.customer", ("view",), Scope.OWN, Scope.OWN)
    _t, key = make_token(viewer, ["*:write"])
    api = bearer(key)
    assert api.get("/api/customers/").json()["count"] == 0  # record scope of the user
    assert api.post("/api/customers/", {"name": "x"}, format="json").status_code == 403  # no add right


def test_expired_and_revoked_tokens_are_refused(rep, frozen_clock):
    from django.utils import timezone

    token, key = make_token(rep, ["customers:read"], expires_at=timezone.now() + dt.timedelta(days=1))
    assert bearer(key).get("/api/customers/").status_code == 200
    frozen_clock.shift(dt.timedelta(days=2))
    cache.clear()
    assert refused(bearer(key).get("/api/customers/"))
    token2, key2 = make_token(rep, ["customers:read"])
    tokens.token_revoke(token=token2, by=rep)
    assert refused(bearer(key2).get("/api/customers/"))
    assert refused(bearer(key2[:-2] + "xx").get("/api/customers/"))
    assert refused(bearer("kehu_nope_nope").get("/api/customers/"))


def test_last_use_is_written_at_most_once_per_interval(rep, frozen_clock):
    token, key = make_token(rep, ["customers:read"])
    api = bearer(key)
    api.get("/api/customers/")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as ctx:
        api.get("/api/customers/")
    assert not [q for q in ctx.captured_queries if "UPDATE" in q["sql"] and "apitoken" in q["sql"]]
    frozen_clock.shift(tokens.LAST_USE_EVERY + dt.timedelta(seconds=1))
    api.get("/api/customers/")
    token.refresh_from_db()
    assert token.last_used_at > first


def test_rate_limit_per_token(rep):
    _t, key = make_token(rep, ["customers:read"], rate_per_minute=2)
    _t, other = make_token(rep, ["customers:read"], rate_per_minute=2)
    api = bearer(key)
    assert [api.get("/api/customers/").status_code for _i in range(3)] == [200, 200, 429]
    assert "Retry-After" in api.get("/api/customers/")
    assert bearer(other).get("/api/customers/").status_code == 200  # keyed by token


def test_older_drf_tokens_and_sessions_keep_working(rep, client):
    legacy = Token.objects.create(user=rep)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {legacy.key}")
    assert api.get("/api/customers/").status_code == 200
    assert api.post("/api/customers/", {"name": "旧令牌公司"}, format="json").status_code == 201
    client.force_login(rep)
    assert client.get("/api/customers/").status_code == 200
    _t, key = make_token(rep, ["customers:read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")  # the new keys also work with the Token keyword
    assert api.get("/api/customers/").status_code == 200


def test_bad_input_is_refused_per_field(rep):
    api = APIClient()
    api.force_authenticate(rep)
    r = api.post("/api/integrations/tokens/", {"name": "", "scopes": ["nope:read"]}, format="json")
    assert r.status_code == 400 and {"name", "scopes"} <= set(r.json())
    r = api.post("/api/integrations/tokens/", {"name": "a", "scopes": ["customers:admin"]}, format="json")
    assert r.status_code == 400 and "scopes" in r.json()
    r = api.post("/api/integrations/tokens/", {"name": "a", "scopes": ["customers:read"],
                                                "expires_at": "2000-01-01T00:00:00Z"}, format="json")  # fmt: skip
    assert r.status_code == 400 and "expires_at" in r.json()
    assert not ApiToken.objects.exists()


def test_api_create_revoke_and_no_broader_token_from_a_token(rep):
    api = APIClient()
    api.force_authenticate(rep)
    r = api.post("/api/integrations/tokens/", {"name": "ERP", "kind": "integration",
                                                "scopes": ["integrations:write", "customers:read"]}, format="json")  # fmt: skip
    assert r.status_code == 201 and r.json()["key"].startswith("kehu_")
    key, pk = r.json()["key"], r.json()["id"]
    via_token = bearer(key)
    broader = via_token.post(
        "/api/integrations/tokens/", {"name": "x", "scopes": ["customers:write"]}, format="json"
    )
    assert broader.status_code == 400 and "scopes" in broader.json()
    narrower = via_token.post(
        "/api/integrations/tokens/", {"name": "x", "scopes": ["customers:read"]}, format="json"
    )
    assert narrower.status_code == 201
    other = UserFactory()
    assert api.post("/api/integrations/tokens/", {"name": "x", "user": other.pk, "scopes": ["customers:read"]},
                    format="json").status_code == 403  # fmt: skip
    assert api.delete(f"/api/integrations/tokens/{pk}/").status_code == 204
    assert refused(via_token.get("/api/customers/"))


def test_the_page_creates_shows_once_and_revokes(rep, client):
    client.force_login(rep)
    page = client.post(reverse("integrations:tokens"), {"name": "脚本", "kind": "personal", "scopes": ["customers:read"],
                                                       "rate_per_minute": 60}, follow=True)  # fmt: skip
    html = page.content.decode()
    token = ApiToken.objects.get(user=rep)
    assert 'data-testid="new-key"' in html and f"kehu_{token.prefix}_" in html
    again = client.get(reverse("integrations:tokens")).content.decode()
    assert 'data-testid="new-key"' not in again  # shown once
    bad = client.post(reverse("integrations:tokens"), {"name": "", "kind": "personal", "rate_per_minute": 60})
    assert bad.status_code == 200 and ApiToken.objects.count() == 1
    client.post(reverse("integrations:token_revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None
    someone = UserFactory()
    theirs, _k = tokens.token_create(user=someone, name="x", scopes=["customers:read"], by=someone)
    assert client.post(reverse("integrations:token_revoke", args=[theirs.pk])).status_code == 403


def test_portal_users_cannot_use_tokens_on_the_staff_api(rep, admin_user):
    from kehu.service.models import Queue, RoutingMethod
    from tests.portal.conftest import make_portal_user

    Queue.objects.create(name="一线", code="first", is_default=True, method=RoutingMethod.MANUAL)
    customer = CustomerFactory(owner=rep)
    portal_user = make_portal_user(customer, "buyer@example.com", admin_user).user
    with pytest.raises(ValidationError) as refused_token:
        tokens.token_create(user=portal_user, name="p", scopes=["*:read"], by=admin_user)
    assert "user" in refused_token.value.message_dict
    # a token made for the user before they became a portal user is refused at the API as well
    key = "kehu_abcd1234_" + "x" * 32
    ApiToken.objects.create(user=portal_user, name="old", prefix="abcd1234", key_hash=tokens.key_hash(key),
                            scopes=["*:read"])  # fmt: skip
    assert bearer(key).get("/api/customers/").status_code == 403
    assert bearer(key).get("/api/approvals/").status_code == 403  # a view with its own permission class
    legacy = APIClient()
    legacy.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=portal_user).key}")
    assert legacy.get("/api/approvals/").status_code == 403  # the older tokens too
    assert Customer.objects.filter(pk=customer.pk).exists()
