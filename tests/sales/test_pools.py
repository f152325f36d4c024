"""Public and private pools (issue #16, deliverable 6): claim, release, assign, recycle rules, pages, API,
and two reps claiming the same customer at once on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse

from kehu.core.models import AuditAction, AuditEntry, Notification
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.interactions.models import Interaction
from kehu.sales.models import ClaimLimit, CustomerPool, PoolEntry, PoolEvent, RecycleRule
from kehu.sales.services import pools
from kehu.sales.services.pools import ClaimRefused
from tests.factories import UserFactory
from tests.sales.conftest import demo_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    return UserFactory(username="pooladmin", is_superuser=True, is_staff=True)


@pytest.fixture
def north_pool(org):
    return CustomerPool.objects.create(
        name="华北公海 North pool", department=org.north, reclaim_cooldown_days=7
    )


@pytest.fixture
def east_pool(org):
    return CustomerPool.objects.create(name="华东公海 East pool", department=org.east)


def pooled(name, pool, by, **extra):
    """A customer without an owner in `pool` (created by `by`, then released by the system)."""
    customer = customer_services.customer_create(
        data={"name": name, "phone": "+8613800138000", "email": "buyer@example.com", **extra}, by=by
    )
    Customer.objects.filter(pk=customer.pk).update(owner=None)
    customer.owner = None
    PoolEntry.objects.create(pool=pool, customer=customer, reason="seed")
    return customer


# ------------------------------------------------------------------------------------------------ claim
def test_claim_gives_the_customer_to_the_rep_and_records_history(org, admin, north_pool):
    customer = pooled("北京远航贸易", north_pool, admin)
    pools.pool_claim(customer=customer, by=org.rep1)
    customer.refresh_from_db()
    assert customer.owner_id == org.rep1.pk
    assert customer.version == 2
    assert not PoolEntry.objects.filter(customer=customer).exists()
    event = PoolEvent.objects.get(customer=customer)
    assert (event.kind, event.to_owner_id, event.pool_id) == ("claimed", org.rep1.pk, north_pool.pk)
    audit = AuditEntry.objects.filter(model="customers.customer", object_id=str(customer.pk)).latest("id")
    assert audit.action == AuditAction.TRANSFER and audit.changes["owner"][1] == str(org.rep1)
    assert Interaction.objects.filter(customer=customer, related_model="sales.pool.claimed").exists()
    # scope follows the owner: the rep now sees it through the customer selector, the other rep does not
    from kehu.core.access import Access

    assert Access.of(org.rep1).filter(Customer.objects.filter(pk=customer.pk)).exists()
    assert not Access.of(org.rep2).filter(Customer.objects.filter(pk=customer.pk)).exists()


def test_claim_refused_when_taken_or_outside_the_pools_department(org, admin, north_pool):
    customer = pooled("北京远航贸易", north_pool, admin)
    with pytest.raises(ClaimRefused):
        pools.pool_claim(customer=customer, by=org.rep3)  # rep3 is in East
    pools.pool_claim(customer=customer, by=org.rep1)
    with pytest.raises(ClaimRefused, match="already been claimed"):
        pools.pool_claim(customer=customer, by=org.rep2)


def test_claim_limits_of_the_role(org, admin, north_pool):
    ClaimLimit.objects.create(role=demo_role("sales_rep"), max_customers=100, max_claims_per_day=2)
    customers = [pooled(f"客户{i}", north_pool, admin) for i in range(3)]
    pools.pool_claim(customer=customers[0], by=org.rep1)
    pools.pool_claim(customer=customers[1], by=org.rep1)
    with pytest.raises(ClaimRefused, match="today"):
        pools.pool_claim(customer=customers[2], by=org.rep1)
    limit = ClaimLimit.objects.get()
    limit.max_customers, limit.max_claims_per_day = 2, 10
    limit.save()
    with pytest.raises(ClaimRefused, match="already hold 2"):
        pools.pool_claim(customer=customers[2], by=org.rep1)
    pools.pool_claim(customer=customers[2], by=org.rep2)


def test_claims_per_day_start_again_the_next_day(org, admin, north_pool, frozen_clock):
    ClaimLimit.objects.create(role=demo_role("sales_rep"), max_customers=100, max_claims_per_day=1)
    first, second = pooled("甲", north_pool, admin), pooled("乙", north_pool, admin)
    pools.pool_claim(customer=first, by=org.rep1)
    with pytest.raises(ClaimRefused):
        pools.pool_claim(customer=second, by=org.rep1)
    frozen_clock.shift(dt.timedelta(days=1))
    pools.pool_claim(customer=second, by=org.rep1)


def test_release_needs_a_reason_and_the_cooldown_stops_reclaiming(org, admin, north_pool, frozen_clock):
    customer = pooled("北京远航贸易", north_pool, admin)
    pools.pool_claim(customer=customer, by=org.rep1)
    with pytest.raises(ValidationError) as err:
        pools.pool_release(customer=customer, by=org.rep1, reason=" ")
    assert "reason" in err.value.message_dict
    entry = pools.pool_release(customer=customer, by=org.rep1, reason="预算取消")
    assert entry.pool == north_pool and entry.previous_owner == org.rep1
    customer.refresh_from_db()
    assert customer.owner_id is None
    with pytest.raises(ClaimRefused, match="recently"):
        pools.pool_claim(customer=customer, by=org.rep1)
    frozen_clock.shift(dt.timedelta(days=8))
    pools.pool_claim(customer=customer, by=org.rep1)


def test_release_of_another_reps_customer_is_refused(org, admin, north_pool):
    customer = pooled("北京远航贸易", north_pool, admin)
    pools.pool_claim(customer=customer, by=org.rep1)
    from django.http import Http404

    with pytest.raises(Http404):
        pools.pool_release(customer=customer, by=org.rep2, reason="not mine")


def test_assign_needs_the_transfer_right(org, admin, north_pool):
    customer = pooled("北京远航贸易", north_pool, admin)
    with pytest.raises(PermissionDenied):
        pools.pool_assign(customer=customer, to_user=org.rep2, by=org.rep1)
    pools.pool_assign(customer=customer, to_user=org.rep2, by=admin, reason="key account")
    customer.refresh_from_db()
    assert customer.owner_id == org.rep2.pk
    assert PoolEvent.objects.get(customer=customer).kind == "assigned"


def test_pools_visible_by_department(org, admin, north_pool, east_pool):
    assert [p.pk for p in pools.pools_for(user=org.rep1)] == [north_pool.pk]
    assert [p.pk for p in pools.pools_for(user=org.rep3)] == [east_pool.pk]
    assert {p.pk for p in pools.pools_for(user=admin)} == {north_pool.pk, east_pool.pk}


# ------------------------------------------------------------------------------------------------ recycle
@pytest.fixture
def rule(org, north_pool):
    return RecycleRule.objects.create(
        name="30 天未跟进", pool=north_pool, department=org.north, no_followup_days=30, warn_days=3
    )


def owned(name, by, created_at):
    customer = customer_services.customer_create(data={"name": name}, by=by)
    Customer.objects.filter(pk=customer.pk).update(created_at=created_at)
    return customer


def test_recycle_warns_first_then_returns_the_customer_with_the_reason(org, rule, frozen_clock, now):
    stale = owned("久未联系公司", org.rep1, now - dt.timedelta(days=60))
    active = owned("常联系公司", org.rep1, now - dt.timedelta(days=60))
    Interaction.objects.create(
        customer=active,
        account=active,
        channel="call",
        subject="call",
        occurred_at=now - dt.timedelta(days=2),
    )
    # day 0: 60 days without follow-up, never warned → warned, not recycled
    assert pools.pools_recycle(now=now) == {"warned": 1, "recycled": 0}
    assert Customer.objects.get(pk=stale.pk).owner_id == org.rep1.pk
    assert Notification.objects.filter(user=org.rep1).count() == 1
    # a second run the same day warns nobody again
    assert pools.pools_recycle(now=now + dt.timedelta(hours=1)) == {"warned": 0, "recycled": 0}
    # warn_days later: recycled; the active customer (call 5 days ago) is still far from due
    later = now + dt.timedelta(days=3, minutes=1)
    frozen_clock.move_to(later)
    assert pools.pools_recycle(now=later) == {"warned": 0, "recycled": 1}
    stale.refresh_from_db()
    assert stale.owner_id is None and stale.version == 2
    entry = PoolEntry.objects.get(customer=stale)
    assert entry.pool == rule.pool and entry.previous_owner == org.rep1
    assert "30" in entry.reason
    event = PoolEvent.objects.get(customer=stale, kind="recycled")
    assert event.rule == rule and event.from_owner == org.rep1
    audit = AuditEntry.objects.filter(model="customers.customer", object_id=str(stale.pk)).latest("id")
    assert audit.action == AuditAction.TRANSFER and audit.actor is None
    assert audit.changes["owner"] == [str(org.rep1), None]
    assert Interaction.objects.filter(customer=stale, related_model="sales.pool.recycled").exists()
    assert Customer.objects.get(pk=active.pk).owner_id == org.rep1.pk
    # scope follows: the rep no longer sees the customer
    from kehu.core.access import Access

    assert not Access.of(org.rep1).filter(Customer.objects.filter(pk=stale.pk)).exists()


def test_a_follow_up_after_the_warning_saves_the_customer(org, rule, now):
    customer = owned("久未联系公司", org.rep1, now - dt.timedelta(days=60))
    pools.pools_recycle(now=now)
    Interaction.objects.create(
        customer=customer,
        account=customer,
        channel="visit",
        subject="visit",
        occurred_at=now + dt.timedelta(days=1),
    )
    assert pools.pools_recycle(now=now + dt.timedelta(days=4)) == {"warned": 0, "recycled": 0}
    # 27 days after that visit: warned again (a new stale period), and recycled 3 days later
    again = now + dt.timedelta(days=1 + 27, hours=1)
    assert pools.pools_recycle(now=again)["warned"] == 1
    assert pools.pools_recycle(now=again + dt.timedelta(days=3, hours=1))["recycled"] == 1


def test_recycle_respects_excluded_stage_department_and_deals(org, rule, now, pipeline, stages):
    rule.exclude_lifecycle = "loyal"
    rule.no_deal_days = 90
    rule.save()
    loyal = owned("忠诚客户", org.rep1, now - dt.timedelta(days=200))
    Customer.objects.filter(pk=loyal.pk).update(lifecycle_stage="loyal")
    east = owned("华东客户", org.rep3, now - dt.timedelta(days=200))
    recent = owned("新客户", org.rep1, now - dt.timedelta(days=5))
    dealing = owned("成交客户", org.rep2, now - dt.timedelta(days=200))
    Interaction.objects.create(
        customer=dealing, account=dealing, channel="call", subject="c", occurred_at=now - dt.timedelta(days=1)
    )
    stale = owned("沉睡客户", org.rep2, now - dt.timedelta(days=200))
    Interaction.objects.create(
        customer=stale, account=stale, channel="call", subject="c", occurred_at=now - dt.timedelta(days=1)
    )
    from kehu.sales.models import Order

    Order.objects.create(
        customer=dealing, owner=org.rep2, currency="CNY", order_date=(now - dt.timedelta(days=10)).date()
    )
    assert pools.pools_recycle(now=now)["warned"] == 1  # only `stale`: followed up, but no deal for 90 days
    assert set(PoolEvent.objects.filter(kind="warned").values_list("customer_id", flat=True)) == {stale.pk}
    result = pools.pools_recycle(now=now + dt.timedelta(days=3, hours=1))
    assert result["recycled"] == 1
    assert PoolEntry.objects.get(customer=stale).reason.startswith("no deal")
    for kept in (loyal, east, recent, dealing):
        assert Customer.objects.get(pk=kept.pk).owner_id is not None


def test_a_claimed_customer_gets_a_fresh_period(org, admin, rule, now):
    customer = pooled("公海客户", rule.pool, admin)
    Customer.objects.filter(pk=customer.pk).update(created_at=now - dt.timedelta(days=400))
    pools.pool_claim(customer=customer, by=org.rep1, now=now)
    assert pools.pools_recycle(now=now + dt.timedelta(days=10)) == {"warned": 0, "recycled": 0}
    assert pools.pools_recycle(now=now + dt.timedelta(days=28))["warned"] == 1


def test_the_sales_schedule_runs_the_recycle_rules(org, rule, now):
    from django.core.cache import cache

    from kehu.sales.tasks import run_sales_schedule

    cache.clear()
    owned("久未联系公司", org.rep1, now - dt.timedelta(days=60))
    result = run_sales_schedule.call()
    assert result["pools"] == {"warned": 1, "recycled": 0}
    assert run_sales_schedule.call()["pools"] == {"skipped": 1}


# ------------------------------------------------------------------------------------------------ concurrency
@pytest.mark.django_db(transaction=True)
def test_two_reps_claiming_the_same_customer_at_once_one_wins(org):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race is exercised on PostgreSQL")
    admin = UserFactory(username="raceadmin", is_superuser=True)
    pool = CustomerPool.objects.create(name="race pool", department=org.north)
    customer = pooled("抢单客户", pool, admin)
    won, refused, barrier = [], [], threading.Barrier(2)

    def claim(user):
        from django.db import connections

        try:
            barrier.wait()
            won.append(pools.pool_claim(customer=Customer.objects.get(pk=customer.pk), by=user))
        except ClaimRefused as exc:
            refused.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(u,)) for u in (org.rep1, org.rep2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == 1
    customer.refresh_from_db()
    assert customer.owner_id == won[0].owner_id
    assert PoolEvent.objects.filter(customer=customer, kind="claimed").count() == 1
    assert not PoolEntry.objects.filter(customer=customer).exists()


# ------------------------------------------------------------------------------------------------ pages
def test_pool_page_hides_contact_details_and_shows_history(org, admin, north_pool, client_for):
    customer = pooled("北京远航贸易", north_pool, admin)
    pools.pool_claim(customer=customer, by=org.rep2)
    pools.pool_release(customer=customer, by=org.rep2, reason="客户暂停采购")
    page = client_for(org.rep1).get(reverse("sales:pool", args=[north_pool.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "北京远航贸易" in html and "客户暂停采购" in html and str(org.rep2) in html
    assert "+8613800138000" not in html and "buyer@example.com" not in html
    assert "style=" not in html.split("<main", 1)[-1] and "onclick" not in html
    north_pool.hide_contact_details = False
    north_pool.save()
    html = client_for(org.rep1).get(reverse("sales:pool", args=[north_pool.pk])).content.decode()
    assert "+8613800138000" in html


def test_pool_page_respects_hidden_fields_and_departments(org, admin, north_pool, east_pool, client_for):
    from kehu.core.models import FieldGrant

    north_pool.hide_contact_details = False
    north_pool.save()
    pooled("北京远航贸易", north_pool, admin)
    FieldGrant.objects.create(
        role=demo_role("sales_rep"), model="customers.customer", field="phone", access="hidden"
    )
    html = client_for(org.rep1).get(reverse("sales:pool", args=[north_pool.pk])).content.decode()
    assert "+8613800138000" not in html and "buyer@example.com" in html
    assert client_for(org.rep1).get(reverse("sales:pool", args=[east_pool.pk])).status_code == 404


def test_claim_and_release_from_the_pages(org, admin, north_pool, client_for, django_assert_max_num_queries):
    customers = [pooled(f"客户{i}", north_pool, admin) for i in range(5)]
    client = client_for(org.rep1)
    with django_assert_max_num_queries(20):
        assert client.get(reverse("sales:pool", args=[north_pool.pk])).status_code == 200
    response = client.post(reverse("sales:pool_claim", args=[north_pool.pk, customers[0].pk]))
    assert response.status_code == 302
    assert Customer.objects.get(pk=customers[0].pk).owner_id == org.rep1.pk
    index = client.get(reverse("sales:pools")).content.decode()
    assert "客户0" in index
    client.post(reverse("sales:pool_release", args=[customers[0].pk]), {"reason": "重复客户"})
    assert PoolEntry.objects.get(customer=customers[0]).reason == "重复客户"
    # another rep cannot release somebody else's customer
    pools.pool_claim(customer=customers[1], by=org.rep1)
    assert (
        client_for(org.rep2)
        .post(reverse("sales:pool_release", args=[customers[1].pk]), {"reason": "x"})
        .status_code
        == 404
    )


def test_assign_from_the_page_only_for_administrators(org, admin, north_pool, client_for):
    customer = pooled("北京远航贸易", north_pool, admin)
    client_for(org.rep1).post(
        reverse("sales:pool_assign", args=[north_pool.pk, customer.pk]), {"to_user": org.rep2.pk}
    )
    assert Customer.objects.get(pk=customer.pk).owner_id is None
    client_for(admin).post(
        reverse("sales:pool_assign", args=[north_pool.pk, customer.pk]), {"to_user": org.rep2.pk}
    )
    assert Customer.objects.get(pk=customer.pk).owner_id == org.rep2.pk


# ------------------------------------------------------------------------------------------------ API
def test_api_lists_pools_open_to_the_caller_and_their_customers(org, admin, north_pool, east_pool, api_for):
    customer = pooled("北京远航贸易", north_pool, admin)
    api = api_for(org.rep1)
    listed = api.get("/api/pools/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [p["id"] for p in rows] == [north_pool.pk]
    assert api.get(f"/api/pools/{east_pool.pk}/customers/").status_code == 404
    body = api.get(f"/api/pools/{north_pool.pk}/customers/").json()
    rows = body["results"] if isinstance(body, dict) else body
    assert rows[0]["customer"]["id"] == customer.pk
    assert "phone" not in rows[0]["customer"] and "email" not in rows[0]["customer"]
    assert rows[0]["reason"] == "seed"


def test_api_claim_release_with_etags(org, admin, north_pool, api_for):
    customer = pooled("北京远航贸易", north_pool, admin)
    api = api_for(org.rep1)
    claimed = api.post(f"/api/pools/{north_pool.pk}/claim/", {"customer": customer.pk}, format="json")
    assert claimed.status_code == 200, claimed.content
    assert claimed.json()["owner"] == org.rep1.pk
    etag = claimed["ETag"]
    assert etag == f'"{customer.pk}-2"'
    again = api_for(org.rep2).post(
        f"/api/pools/{north_pool.pk}/claim/", {"customer": customer.pk}, format="json"
    )
    assert again.status_code == 404  # no longer in the pool
    url = f"/api/pools/{north_pool.pk}/release/"
    assert api.post(url, {"customer": customer.pk, "reason": "换人跟进"}, format="json").status_code == 428
    stale = api.post(
        url, {"customer": customer.pk, "reason": "x"}, format="json", HTTP_IF_MATCH=f'"{customer.pk}-1"'
    )
    assert stale.status_code == 409
    assert api.post(url, {"customer": customer.pk}, format="json", HTTP_IF_MATCH=etag).status_code == 400
    released = api.post(
        url, {"customer": customer.pk, "reason": "换人跟进"}, format="json", HTTP_IF_MATCH=etag
    )
    assert released.status_code == 200 and released.json()["owner"] is None
    assert PoolEntry.objects.get(customer=customer).reason == "换人跟进"
    # the cooldown refuses the reclaim with a message
    refused = api.post(f"/api/pools/{north_pool.pk}/claim/", {"customer": customer.pk}, format="json")
    assert refused.status_code == 400 and "recently" in str(refused.json())


def test_api_assign_needs_the_transfer_right(org, admin, north_pool, api_for):
    customer = pooled("北京远航贸易", north_pool, admin)
    url = f"/api/pools/{north_pool.pk}/assign/"
    body = {"customer": customer.pk, "to_user": org.rep2.pk}
    assert api_for(org.rep1).post(url, body, format="json").status_code == 403
    assert api_for(admin).post(url, body, format="json").json()["owner"] == org.rep2.pk


# ------------------------------------------------------------------------------------------------ demo
def test_demo_pools_have_customers_history_and_a_rule(org, admin):
    import random

    from kehu.sales.demo import seed_pools

    ids = [customer_services.customer_create(data={"name": f"演示客户{i}"}, by=org.rep1).pk for i in range(9)]
    summary = seed_pools({"rng": random.Random(3), "customer_ids": ids}, now=now_())
    assert "9 customers" in summary
    assert CustomerPool.objects.count() == 2 and RecycleRule.objects.count() == 1
    assert Customer.objects.filter(pk__in=ids, owner__isnull=True).count() == 9
    assert (
        PoolEvent.objects.filter(kind="recycled").exists()
        and PoolEvent.objects.filter(kind="released").exists()
    )
    # the North rep sees the North pool with the history of who held each customer
    north = CustomerPool.objects.get(department=org.north)
    entries = list(pools.pool_entries(pool=north, user=org.rep1))
    assert entries and all(e.previous_owner_id == org.rep1.pk for e in entries)


def now_():
    from django.utils import timezone

    return timezone.now()


# ------------------------------------------------------------------------------------------------ contacts
def contact_of(org_customer, name, owner, by):
    contact = customer_services.customer_create(
        data={"name": name, "kind": "person", "account": org_customer}, by=by
    )
    Customer.objects.filter(pk=contact.pk).update(owner=owner)
    return contact


def transfers_of(contact):
    return list(
        AuditEntry.objects.filter(
            model="customers.customer", object_id=str(contact.pk), action=AuditAction.TRANSFER
        ).order_by("id")
    )


def test_contacts_follow_their_organisation_when_claimed_and_released(org, admin, north_pool):
    ClaimLimit.objects.create(role=demo_role("sales_rep"), max_customers=1, max_claims_per_day=10)
    company = pooled("北京远航贸易", north_pool, admin)
    buyer, engineer = contact_of(company, "王经理", None, admin), contact_of(company, "李工", None, admin)
    kept = contact_of(company, "赵总", org.rep2, admin)  # held by someone else: stays theirs

    pools.pool_claim(customer=company, by=org.rep1)  # the contacts do not count against the limit of 1
    owners = dict(Customer.objects.filter(account=company).values_list("pk", "owner_id"))
    assert owners == {buyer.pk: org.rep1.pk, engineer.pk: org.rep1.pk, kept.pk: org.rep2.pk}
    (moved,) = transfers_of(buyer)
    assert moved.actor == org.rep1 and moved.changes["owner"] == [None, str(org.rep1)]
    assert north_pool.name in moved.note
    assert Customer.objects.get(pk=buyer.pk).version == 2
    assert transfers_of(kept) == []
    # scope follows: the claimant sees the contacts, the other rep of the department does not
    from kehu.core.access import Access

    assert Access.of(org.rep1).filter(Customer.objects.filter(pk=buyer.pk)).exists()

    pools.pool_release(customer=company, by=org.rep1, reason="客户已转投竞品")
    owners = dict(Customer.objects.filter(account=company).values_list("pk", "owner_id"))
    assert owners == {buyer.pk: None, engineer.pk: None, kept.pk: org.rep2.pk}
    released = transfers_of(engineer)[-1]
    assert released.actor == org.rep1 and released.changes["owner"] == [str(org.rep1), None]
    assert released.note == "客户已转投竞品"
    assert not Access.of(org.rep1).filter(Customer.objects.filter(pk=buyer.pk)).exists()
    # the contacts are not pool entries of their own: the organisation is
    assert set(PoolEntry.objects.values_list("customer_id", flat=True)) == {company.pk}


def test_a_refused_release_moves_no_contact(org, admin, north_pool):
    company = pooled("北京远航贸易", north_pool, admin)
    buyer = contact_of(company, "王经理", None, admin)
    pools.pool_claim(customer=company, by=org.rep1)
    with pytest.raises(ValidationError):
        pools.pool_release(customer=company, by=org.rep1, reason="  ")
    assert Customer.objects.get(pk=buyer.pk).owner_id == org.rep1.pk


def test_contacts_follow_an_assignment_from_the_pool(org, admin, north_pool):
    company = pooled("北京远航贸易", north_pool, admin)
    buyer = contact_of(company, "王经理", None, admin)
    pools.pool_assign(customer=company, to_user=org.rep2, by=admin, reason="大客户")
    assert Customer.objects.get(pk=buyer.pk).owner_id == org.rep2.pk
    assert transfers_of(buyer)[-1].actor == admin


def test_contacts_follow_their_organisation_when_recycled(org, rule, frozen_clock, now):
    stale = owned("久未联系公司", org.rep1, now - dt.timedelta(days=60))
    buyer = contact_of(stale, "王经理", org.rep1, org.rep1)
    other = contact_of(stale, "李工", org.rep2, org.rep1)  # another rep's contact stays theirs
    assert pools.pools_recycle(now=now) == {"warned": 1, "recycled": 0}
    assert Customer.objects.get(pk=buyer.pk).owner_id == org.rep1.pk  # a warning moves nobody
    later = now + dt.timedelta(days=3, minutes=1)
    frozen_clock.move_to(later)
    assert pools.pools_recycle(now=later) == {"warned": 0, "recycled": 1}
    buyer.refresh_from_db()
    assert buyer.owner_id is None and buyer.version == 2
    (moved,) = transfers_of(buyer)
    assert moved.actor is None and moved.changes["owner"] == [str(org.rep1), None]
    assert rule.name in moved.note
    assert Customer.objects.get(pk=other.pk).owner_id == org.rep2.pk and transfers_of(other) == []
    assert set(PoolEntry.objects.values_list("customer_id", flat=True)) == {stale.pk}
