"""Idempotency keys on creates and opt-in cursor pagination (issue #18 item 6, ADR 0022)."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from kehu.core.models import Scope
from kehu.customers.models import Customer
from kehu.integrations.models import IdempotencyKey
from tests.factories import CustomerFactory, UserFactory, user_with


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.mark.django_db
def test_same_key_same_body_replays_the_first_answer(admin_user):
    api = api_as(admin_user)
    first = api.post("/api/customers/", {"name": "幂等公司"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/customers/", {"name": "幂等公司"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again["Idempotent-Replayed"] == "true"
    assert again["ETag"] == first["ETag"]
    assert Customer.objects.filter(name="幂等公司").count() == 1


@pytest.mark.django_db
def test_same_key_other_body_is_422_and_keys_are_per_user(admin_user):
    api = api_as(admin_user)
    api.post("/api/customers/", {"name": "甲"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = api.post("/api/customers/", {"name": "乙"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
    assert not Customer.objects.filter(name="乙").exists()
    colleague = UserFactory(is_superuser=True)
    assert api_as(colleague).post("/api/customers/", {"name": "乙"}, format="json",
                                  HTTP_IDEMPOTENCY_KEY="k-2").status_code == 201  # fmt: skip


@pytest.mark.django_db
def test_an_error_is_not_stored_and_a_bad_key_is_400(admin_user):
    api = api_as(admin_user)
    bad = api.post("/api/customers/", {"name": ""}, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert bad.status_code == 400 and not IdempotencyKey.objects.exists()
    good = api.post("/api/customers/", {"name": "改正后"}, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert good.status_code == 201
    long_key = api.post("/api/customers/", {"name": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 300)
    assert long_key.status_code == 400 and "Idempotency-Key" in long_key.json()
    assert not Customer.objects.filter(name="x").exists()


@pytest.mark.django_db
def test_app_specific_creates_are_guarded_too(admin_user):
    api = api_as(admin_user)
    body = {"name": "王芳", "company": "测试公司", "phone": "13800138000"}
    a = api.post("/api/leads/", body, format="json", HTTP_IDEMPOTENCY_KEY="lead-1")
    b = api.post("/api/leads/", body, format="json", HTTP_IDEMPOTENCY_KEY="lead-1")
    assert a.status_code == 201 and b.json() == a.json() and b["Idempotent-Replayed"] == "true"


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_once(admin_user):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises the whole database)")
    results, barrier = [], threading.Barrier(4)

    def call():
        from django.db import connection as conn

        try:
            barrier.wait()
            r = api_as(admin_user).post("/api/customers/", {"name": "并发公司"}, format="json",
                                        HTTP_IDEMPOTENCY_KEY="same")  # fmt: skip
            results.append((r.status_code, r.json()["id"]))
        finally:
            conn.close()

    threads = [threading.Thread(target=call) for _i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and {code for code, _id in results} == {201}
    assert len({pk for _code, pk in results}) == 1
    assert Customer.objects.filter(name="并发公司").count() == 1


@pytest.mark.django_db
def test_cursor_pagination_walks_every_row_with_filters_and_scope():
    rep = user_with("customers.customer", ("view",), Scope.OWN, Scope.OWN)
    other = UserFactory()
    mine = [CustomerFactory(name=f"我的{i}", owner=rep, city="上海" if i % 2 else "北京") for i in range(7)]
    CustomerFactory(name="别人的", owner=other, city="上海")
    api = api_as(rep)
    seen, url = [], "/api/customers/?pagination=cursor&page_size=2&city=%E4%B8%8A%E6%B5%B7"  # 上海
    pages = 0
    while url:
        body = api.get(url).json()
        assert "count" not in body and set(body) >= {"next", "previous", "results"}
        seen += [row["id"] for row in body["results"]]
        url, pages = body["next"], pages + 1
    expected = sorted((c.pk for c in mine if c.city == "上海"), reverse=True)
    assert seen == expected and pages == 2
    plain = api.get("/api/customers/", {"city": "上海"}).json()
    assert plain["count"] == 3 and plain["count_exact"] is True  # page numbers stay the default


@pytest.mark.django_db
def test_the_schema_has_examples_the_idempotency_header_and_cursor_parameters(admin_user):
    schema = api_as(admin_user).get("/api/schema/?format=json").json()
    missing, creates = [], 0
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            media = [op.get("requestBody", {}).get("content", {}).get("application/json")]
            media += [(r.get("content") or {}).get("application/json") for c, r in op["responses"].items()
                      if c.startswith("2")]  # fmt: skip
            missing += [f"{method} {path}" for m in media if m and "example" not in m and "examples" not in m]
            if method == "post" and op["operationId"].endswith("_create"):
                creates += 1
                assert any(p["name"] == "Idempotency-Key" for p in op["parameters"]), path
    assert not missing and creates > 50
    customers = {p["name"] for p in schema["paths"]["/api/customers/"]["get"]["parameters"]}
    assert {"pagination", "cursor", "page"} <= customers
    assert "scopedToken" in schema["components"]["securitySchemes"]
