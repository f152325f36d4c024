"""The demo expenses: categories, every demo rep with approved, pending and draft expenses with receipts, the
approved ones decided by their approver, the tied ones on the customer's timeline."""

from __future__ import annotations

import random

import pytest

from kehu.interactions.models import Interaction
from kehu.salesmgmt.models import Expense, ExpenseCategory, ExpenseReceipt


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.django_db
def test_demo_expenses():
    from kehu.core.demo import seed_org
    from kehu.customers.demo import seed_customers
    from kehu.products import demo as products_demo
    from kehu.sales import demo as sales_demo
    from kehu.salesmgmt import demo

    org = seed_org()
    rng = random.Random(5)
    ids = seed_customers(count=120, owners=org.owners, rng=rng)
    ctx = {"rng": rng, "org": org, "customer_ids": ids}
    products_demo.seed(ctx)
    sales_demo.seed(ctx)
    summary = demo.seed(ctx)
    assert "sales plan" in summary and "16 expenses" in summary
    assert ExpenseCategory.objects.count() == 5
    for username in ("rep1", "rep2", "rep3", "rep4"):
        mine = Expense.objects.filter(owner__username=username)
        assert set(mine.values_list("status", flat=True)) == {"approved", "submitted", "draft"}
        assert all(e.decided_by_id and e.decided_by_id != e.owner_id for e in mine.filter(status="approved"))
    assert ExpenseReceipt.objects.count() == 16
    tied = Expense.objects.exclude(customer=None)
    assert tied.exists()
    assert Interaction.objects.filter(related_model="salesmgmt.expense").count() == tied.count()
