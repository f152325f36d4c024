"""Fixtures of the marketing tests: the demo roles (kehu.core.demo.ROLES, so the demo grants are what is
tested) and customers of two reps in different departments."""

from __future__ import annotations

import pytest

from kehu.customers.models import Customer
from tests.factories import UserFactory
from tests.sales.conftest import Org, demo_role


class MarketingOrg(Org):
    def __init__(self):
        super().__init__()
        self.marketer = UserFactory(username="mkt")
        self.marketer.roles.add(demo_role("marketer"))


@pytest.fixture
def org(db):
    return MarketingOrg()


@pytest.fixture
def people(org):
    """rep1 owns two Beijing prospects and a Shanghai customer; rep3 (another department) a Beijing prospect."""
    mk = lambda name, owner, city, stage="prospect": Customer.objects.create(  # noqa: E731
        name=name, owner=owner, city=city, lifecycle_stage=stage, income_band="high"
    )
    return {
        "a": mk("北京甲公司", org.rep1, "北京"),
        "b": mk("北京乙公司", org.rep1, "北京"),
        "c": mk("上海丙公司", org.rep1, "上海", "customer"),
        "d": mk("北京丁公司", org.rep3, "北京"),
    }


BEIJING = {"match": "all", "conditions": [{"field": "region.city", "op": "in", "value": ["北京"]}]}
