"""The demo forecast: categories set on the reps' open deals, the manager's adjustment, weekly snapshots."""

from __future__ import annotations

import random

import pytest

from kehu.salesmgmt.models import ForecastAdjustment, ForecastEntry, ForecastSnapshot


@pytest.mark.django_db
def test_demo_forecast():
    from kehu.core.demo import seed_org
    from kehu.customers.demo import seed_customers
    from kehu.products import demo as products_demo
    from kehu.sales import demo as sales_demo
    from kehu.salesmgmt import demo, demo_forecast

    org = seed_org()
    rng = random.Random(3)
    ids = seed_customers(count=120, owners=org.owners, rng=rng)
    ctx = {"rng": rng, "org": org, "customer_ids": ids}
    products_demo.seed(ctx)
    sales_demo.seed(ctx)
    demo.seed(ctx)
    summary = demo_forecast.seed(ctx)
    assert "forecast snapshots" in summary
    assert ForecastEntry.objects.filter(category="commit").exists()
    assert ForecastSnapshot.objects.filter(period_kind="quarter").exists()
    assert ForecastSnapshot.objects.values("week").distinct().count() >= 1
    adj = ForecastAdjustment.objects.first()
    assert adj is None or adj.adjusted_by.username == "manager"
