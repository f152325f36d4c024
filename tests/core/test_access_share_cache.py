"""The access engine's per-request share probe (kehu.core.access.request_scope, ADR 0017 addendum): one read of
the user's share kinds per request, emptied by every share written, never kept between requests or users."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from kehu.core import services as core_services
from kehu.core.access import Access, request_scope
from kehu.core.middleware import AccessRequestMiddleware
from kehu.core.models import RecordShare, Scope, ShareAccess
from kehu.customers import services
from kehu.customers.models import Customer
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db
MODEL = "customers.customer"


def _visible(user) -> set[int]:
    return set(Access.of(user).filter(Customer.objects.all()).values_list("pk", flat=True))


def _writable(user) -> set[int]:
    return set(Access.of(user).filter(Customer.objects.all(), mode="write").values_list("pk", flat=True))


def _share_probes(queries) -> int:
    """Statements that read the shares themselves (not a scoped read with the shared ids as a subquery)."""
    return sum(1 for q in queries if q["sql"].split(" FROM ", 1)[-1].startswith('"core_recordshare"'))


@pytest.fixture
def people(make_user):
    owner = make_user(MODEL, read=Scope.OWN, write=Scope.OWN)
    colleague = make_user(MODEL, read=Scope.OWN, write=Scope.OWN)
    other = make_user(MODEL, read=Scope.OWN, write=Scope.OWN)
    customer = services.customer_create(data={"name": "共享缓存测试公司"}, by=owner)
    return owner, colleague, other, customer


def test_one_probe_per_request_and_user(people):
    owner, colleague, _other, customer = people
    core_services.record_share(instance=customer, by=owner, user=colleague)
    with CaptureQueriesContext(connection) as outside:
        for _ in range(3):
            assert customer.pk in _visible(colleague)
    with request_scope(), CaptureQueriesContext(connection) as inside:
        for _ in range(3):
            assert customer.pk in _visible(colleague)
    # outside a request every scoped read probes; inside, the kinds are read once
    assert _share_probes(outside.captured_queries) == 3
    assert _share_probes(inside.captured_queries) == 1
    assert len(inside.captured_queries) == 3 + 1  # the three reads and one probe (grants were read above)


def test_a_share_granted_mid_request_is_seen(people):
    owner, colleague, _other, customer = people
    with request_scope():
        assert customer.pk not in _visible(colleague)  # probed and cached: nothing shared
        core_services.record_share(instance=customer, by=owner, user=colleague)
        assert customer.pk in _visible(colleague)
        assert customer.pk not in _writable(colleague)
        # upgraded to edit mid-request (update_or_create saves: the cache is emptied again)
        core_services.record_share(instance=customer, by=owner, user=colleague, access=ShareAccess.EDIT)
        assert customer.pk in _writable(colleague)


def test_a_team_share_and_a_direct_orm_write_mid_request_are_seen(people):
    owner, colleague, _other, customer = people
    team = TeamFactory()
    team.members.add(colleague)
    with request_scope():
        assert customer.pk not in _visible(colleague)
        RecordShare.objects.create(model=MODEL, object_id=customer.pk, team=team)
        assert customer.pk in _visible(colleague)


def test_a_share_revoked_mid_request_is_gone(people):
    owner, colleague, _other, customer = people
    share = core_services.record_share(instance=customer, by=owner, user=colleague)
    with request_scope():
        assert customer.pk in _visible(colleague)
        core_services.record_unshare(share=share, instance=customer, by=owner)
        assert customer.pk not in _visible(colleague)
    # even when the row goes without a signal (queryset delete), the shared ids are a live subquery
    share = core_services.record_share(instance=customer, by=owner, user=colleague)
    with request_scope():
        assert customer.pk in _visible(colleague)
        RecordShare.objects.filter(pk=share.pk)._raw_delete(RecordShare.objects.db)
        assert customer.pk not in _visible(colleague)


def test_the_cache_never_leaks_between_users(people):
    owner, colleague, other, customer = people
    core_services.record_share(instance=customer, by=owner, user=colleague)
    with request_scope():
        assert customer.pk in _visible(colleague)
        assert customer.pk not in _visible(other)  # other's probe is its own, not colleague's
        assert customer.pk in _visible(colleague)
    with request_scope():  # and the other way round: a user without shares first
        assert customer.pk not in _visible(other)
        assert customer.pk in _visible(colleague)


def test_the_cache_never_leaks_between_requests(people):
    owner, colleague, _other, customer = people
    seen: list[bool] = []

    def view(request):
        seen.append(customer.pk in _visible(request.user))
        return HttpResponse("ok")

    middleware = AccessRequestMiddleware(view)
    factory = RequestFactory()
    request = factory.get("/")
    request.user = colleague
    middleware(request)
    # a share written by another process (no signal here) between two requests is seen by the next request
    RecordShare.objects.bulk_create([RecordShare(model=MODEL, object_id=customer.pk, user=colleague)])
    request = factory.get("/")
    request.user = colleague
    middleware(request)
    assert seen == [False, True]


def test_pages_see_a_share_at_once(people, client):
    owner, colleague, _other, customer = people
    client.force_login(colleague)
    assert client.get(f"/customers/{customer.pk}/").status_code == 404
    client.force_login(owner)
    response = client.post(f"/share/{MODEL}/{customer.pk}/", {"user": colleague.pk, "access": "view"})
    assert response.status_code == 302
    client.force_login(colleague)
    assert client.get(f"/customers/{customer.pk}/").status_code == 200
