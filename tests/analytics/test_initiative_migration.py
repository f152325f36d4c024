"""Migration analytics.0006_anfix: NBA's CrmInitiative rows become scorecard initiatives with one cash flow
(cost C, benefit E) in their first period, keeping their benefit index; grants carry over."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("analytics", "0004_scorecard")]
AFTER = [("analytics", "0006_anfix")]


@pytest.fixture
def back_to_the_latest_schema():
    """The test moves the schema back and forth; the tests after it need every migration applied again (on
    PostgreSQL 0007_anperf's summary table and triggers, which a stop at 0006 would leave out)."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_crm_initiatives_and_their_grants_are_carried_over(back_to_the_latest_schema):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Role, ModelGrant = old.get_model("core", "Role"), old.get_model("core", "ModelGrant")
    role = Role.objects.create(code="planner", name="planner")
    ModelGrant.objects.create(role=role, model="analytics.crminitiative", can_view=True, can_add=True)
    CrmInitiative = old.get_model("analytics", "CrmInitiative")
    CrmInitiative.objects.create(
        name="会员积分计划", stage="strategy", status="running", expected_benefit=Decimal("50000"),
        expected_cost=Decimal("20000"), starts_on=dt.date(2026, 5, 17), notes="积分兑换", created_at=timezone.now(),
    )  # fmt: skip
    CrmInitiative.objects.create(
        name="免费调研", stage="evaluation", expected_benefit=Decimal("1000"), expected_cost=Decimal("0"),
        created_at=timezone.now(),
    )  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    from kehu.analytics import scorecard
    from kehu.analytics.models_scorecard import Initiative
    from kehu.core.models import ModelGrant as Grant
    from kehu.core.models import User

    admin = User.objects.create_superuser("mig-admin", password="x")  # noqa: S106
    points = Initiative.objects.get(name="会员积分计划")
    assert (points.stage, points.status, points.description) == ("strategy", "running", "积分兑换")
    assert points.start == dt.date(2026, 4, 1) and points.period_type == "quarter" and points.periods == 1
    flow = points.cash_flows.get()
    assert (flow.period_index, flow.outflow, flow.inflow) == (0, Decimal("20000.00"), Decimal("50000.00"))
    assert scorecard.evaluate_initiative(points, user=admin).benefit_index() == pytest.approx(1.5)
    free = Initiative.objects.get(name="免费调研")
    assert scorecard.evaluate_initiative(free, user=admin).benefit_index() == pytest.approx(1000.0)
    grant = Grant.objects.get(role__code="planner", model="analytics.initiative")
    assert grant.can_view and grant.can_add and not grant.can_delete
    assert not Grant.objects.filter(model="analytics.crminitiative").exists()
