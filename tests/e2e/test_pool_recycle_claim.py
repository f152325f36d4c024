"""A customer recycled to the public pool and claimed in a real browser: the recycle rule warns the owner,
returns the customer warn_days later with the reason; another rep of the region opens the pool, sees who held
it and why it came back, and claims it (desktop and phone viewport)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kehu.customers.models import Customer
from kehu.sales.models import CustomerPool, PoolEvent, RecycleRule
from kehu.sales.services import pools

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}])
def test_customer_recycled_to_the_pool_and_claimed(seeded, context_factory, login, live_server, viewport):
    rep1, rep2 = seeded.users["rep1"], seeded.users["rep2"]
    assert rep1.department_id == rep2.department_id
    pool = CustomerPool.objects.create(name="华北公海 North pool", department=rep1.department)
    RecycleRule.objects.create(
        name="30 天未跟进", pool=pool, department=rep1.department, no_followup_days=30, warn_days=3
    )
    customer = Customer.objects.filter(owner=rep1, kind="organization").order_by("pk").first()
    now = timezone.now()
    Customer.objects.filter(pk=customer.pk).update(created_at=now - dt.timedelta(days=90))
    customer.interactions.all().delete()
    Customer.objects.exclude(pk=customer.pk).update(created_at=now)  # only our customer is stale
    assert pools.pools_recycle(now=now)["warned"] == 1
    assert pools.pools_recycle(now=now + dt.timedelta(days=3, minutes=1))["recycled"] == 1

    page = context_factory(viewport=viewport).new_page()
    login(page, "rep2")
    page.goto(f"{live_server.url}/sales/pools/")
    page.click(f"text={pool.name}")
    row = page.locator(f"tr[data-customer='{customer.name}']")
    history = row.locator("[data-testid=pool-history]").inner_text()
    assert str(rep1) in history and "no follow-up for 30 days" in history
    row.locator("[data-testid=claim]").click()
    page.wait_for_url(f"**{customer.get_absolute_url()}")
    customer.refresh_from_db()
    assert customer.owner_id == rep2.pk
    assert PoolEvent.objects.filter(customer=customer, kind="claimed", to_owner=rep2).exists()
    page.goto(f"{live_server.url}/sales/pools/")
    assert customer.name in page.locator("[data-testid=my-customers]").inner_text()
