"""Access.filter(qs, owners=...): a team filter intersected with the scope gives exactly the rows of the scope
filter followed by the owner filter — for every scope, with shares (user and team), for a superuser, for an
empty owner list — and is refused for a model without owner."""

from __future__ import annotations

import pytest

from kehu.core import services as core_services
from kehu.core.access import Access
from kehu.core.models import ModelGrant, Scope, User
from kehu.customers import services
from kehu.customers.models import Customer
from tests.factories import DepartmentFactory, RoleFactory, TeamFactory, UserFactory, grant

pytestmark = pytest.mark.django_db
MODEL = "customers.customer"


def test_owners_narrowing_equals_scope_then_owner_filter():
    root = DepartmentFactory(name="总部")
    sales = DepartmentFactory(name="销售", parent=root)
    other_dept = DepartmentFactory(name="市场", parent=root)
    me = UserFactory(department=sales)
    colleague = UserFactory(department=sales)
    teammate = UserFactory(department=other_dept)
    stranger = UserFactory(department=other_dept)
    far = UserFactory(department=other_dept)
    team = TeamFactory()
    team.members.add(me, teammate)
    admin = UserFactory(is_superuser=True)
    people = (me, colleague, teammate, stranger, far)
    made = {u: [services.customer_create(data={"name": f"{u.username}的客户{i}"}, by=admin) for i in range(2)]
            for u in people}  # fmt: skip
    for u, customers in made.items():
        Customer.objects.filter(pk__in=[c.pk for c in customers]).update(owner=u)
    # shares outside every scope: one to me directly (stranger's), one to my team (far's)
    core_services.record_share(instance=made[stranger][0], by=admin, user=me)
    core_services.record_share(instance=made[far][0], by=admin, team=team, access="edit")
    role = RoleFactory()
    me.roles.add(role)
    owner_lists = [
        [],
        [me.pk],
        [stranger.pk],
        [colleague.pk, teammate.pk, stranger.pk],
        [u.pk for u in people],
    ]
    for scope in (Scope.OWN, Scope.TEAM, Scope.DEPARTMENT, Scope.ALL):
        ModelGrant.objects.filter(role=role).delete()
        grant(role, MODEL, ("view", "change"), scope, scope)
        Access.forget(me)
        access = Access.of(me)
        for mode in ("read", "write"):
            for owners in owner_lists:
                plain = set(access.filter(Customer.objects.all(), mode=mode).filter(owner_id__in=owners).values_list("pk", flat=True))  # fmt: skip
                narrowed = set(access.filter(Customer.objects.all(), mode=mode, owners=owners).values_list("pk", flat=True))  # fmt: skip
                assert narrowed == plain, (scope, mode, owners)
    # the shares count: stranger's shared customer is in "stranger's" list for me, the other one is not
    assert set(Access.of(me).filter(Customer.objects.all(), owners=[stranger.pk]).values_list("pk", flat=True)) >= {made[stranger][0].pk}  # fmt: skip
    superuser = Access.of(admin)
    assert set(superuser.filter(Customer.objects.all(), owners=[far.pk]).values_list("pk", flat=True)) == {
        c.pk for c in made[far]
    }
    assert not superuser.filter(Customer.objects.all(), owners=[]).exists()


def test_owners_on_a_model_without_owner_is_refused():
    with pytest.raises(ValueError, match="no owner"):
        Access.of(UserFactory(is_superuser=True)).filter(User.objects.all(), owners=[1])
