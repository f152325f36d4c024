"""Fixtures of the sales tests: an organisation with the demo roles (kehu.core.demo.ROLES, so the demo grants
are what is tested), a default pipeline, and the real SMTP server of the interactions tests."""

from __future__ import annotations

import pytest

from kehu.core.demo import ROLES
from kehu.core.models import Department, FieldGrant, ModelGrant, Role, Team
from kehu.customers import services as customer_services
from tests.factories import UserFactory
from tests.interactions.conftest import smtp_server, smtp_settings  # noqa: F401 - fixtures


def demo_role(code: str) -> Role:
    role = Role.objects.filter(code=code).first()
    if role is not None:
        return role
    name, grants, fields = ROLES[code]
    role = Role.objects.create(code=code, name=name)
    for model, (actions, read, write) in grants.items():
        ModelGrant.objects.create(
            role=role, model=model, read_scope=read, write_scope=write, **{f"can_{a}": True for a in actions}
        )
    for model, restrictions in fields.items():
        for fname, access in restrictions.items():
            FieldGrant.objects.create(role=role, model=model, field=fname, access=access)
    return role


class Org:
    def __init__(self):
        self.sales = Department.objects.create(name="销售部 Sales")
        self.north = Department.objects.create(name="华北 North", parent=self.sales)
        self.east = Department.objects.create(name="华东 East", parent=self.sales)
        self.manager = UserFactory(username="mgr", department=self.north, email="mgr@example.com")
        self.manager.roles.add(demo_role("sales_manager"))
        self.north.manager = self.manager
        self.north.save()
        self.rep1 = self._rep("rep1", self.north)
        self.rep2 = self._rep("rep2", self.north)
        self.rep3 = self._rep("rep3", self.east)
        self.team = Team.objects.create(name="North key accounts", department=self.north)
        self.team.members.add(self.rep1, self.rep2)
        self.exec = UserFactory(username="boss")
        self.exec.roles.add(demo_role("executive"))

    def _rep(self, username, dept):
        user = UserFactory(username=username, department=dept, email=f"{username}@example.com")
        user.roles.add(demo_role("sales_rep"))
        return user


@pytest.fixture
def org(db):
    return Org()


@pytest.fixture
def pipeline(db):
    from kehu.sales.services.opportunities import pipeline_default

    return pipeline_default()


@pytest.fixture
def stages(pipeline):
    return {s.probability if s.kind == "open" else s.kind: s for s in pipeline.stages.all()}


@pytest.fixture
def account(org):
    return customer_services.customer_create(data={"name": "上海启明星科技有限公司"}, by=org.rep1)
