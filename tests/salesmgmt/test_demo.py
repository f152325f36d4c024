"""The sales-management demo data: this year's plan allocated down to the reps and adding up at every level,
today's visits with coordinates, one checked in with a note."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from kehu.salesmgmt.models import PlanTarget, SalesPlan, Visit, VisitNote


@pytest.mark.django_db
def test_demo_plan_adds_up_and_todays_visits_exist():
    from kehu.core.demo import seed_org
    from kehu.customers.demo import seed_customers
    from kehu.products import demo as products_demo
    from kehu.sales import demo as sales_demo
    from kehu.salesmgmt import demo

    org = seed_org()
    rng = random.Random(3)
    ids = seed_customers(count=120, owners=org.owners, rng=rng)
    ctx = {"rng": rng, "org": org, "customer_ids": ids}
    products_demo.seed(ctx)
    sales_demo.seed(ctx)
    summary = demo.seed(ctx)
    assert "sales plan" in summary
    plan = SalesPlan.objects.get(year=timezone.localdate().year)
    assert plan.status == "active"
    reps = PlanTarget.objects.filter(plan=plan, level="rep")
    assert {t.rep.username for t in reps} == {"rep1", "rep2", "rep3", "rep4"}
    for parent in PlanTarget.objects.filter(plan=plan).exclude(level="rep"):
        assert parent.children.aggregate(s=Sum("amount"))["s"] == parent.amount
    assert reps.aggregate(s=Sum("amount"))["s"] == Decimal("12000000.00")
    today = Visit.objects.filter(planned_start__date__gte=timezone.localdate() - timezone.timedelta(days=1))
    assert today.count() >= 8
    assert VisitNote.objects.count() == Visit.objects.filter(status="in").count()
