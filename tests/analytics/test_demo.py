"""The demo has orders (the sales demo makes none) and a first scoring run, so the value pages mean something."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from kehu.analytics.models import CustomerScore, RunStatus, ScoringRun
from kehu.sales.models import Order, OrderLine

pytestmark = pytest.mark.django_db


def test_seed_demo_generates_orders_and_scores_them():
    out = io.StringIO()
    call_command("seed_demo", customers=400, seed=5, stdout=out)
    assert "kehu.analytics.demo" in out.getvalue()
    assert Order.objects.filter(kind="return").exists()
    assert OrderLine.objects.filter(counted=False).exists()  # cancelled orders
    # the denormalised line columns agree with their orders
    assert not OrderLine.objects.exclude(customer=models_f("order__customer")).exists()
    run = ScoringRun.objects.get()
    assert run.status == RunStatus.DONE and run.purchase_model == "bgnbd", run.messages
    assert run.spend_model == "gamma_gamma", run.messages
    assert CustomerScore.objects.count() == run.customers > 100
    assert CustomerScore.objects.values("segment").distinct().count() >= 6


def models_f(name):
    from django.db.models import F

    return F(name)
