"""The per-rep worklist index (ADR 0011, an11): the recommendation carries its customer's owner, written by the
NBA run and kept current by a database trigger; a rep's worklist names the owners on it (so PostgreSQL walks
only that rep's rows) and returns the same rows as the plain scope — also with records shared with the rep, for
a manager looking at a rep's list, and after a customer changes owner."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.analytics import selectors_nba, services_nba
from kehu.analytics.models_nba import NbaRecommendation
from kehu.analytics.selectors_nba import worklist
from kehu.analytics.services import scoring_run
from kehu.analytics.services_nba import nba_run
from kehu.core.access import Access, request_scope
from kehu.core.models import RecordShare
from kehu.customers import services as customer_services
from kehu.customers.models import Customer

from .conftest import buy
from .test_nba import days_ago, grant_phone

pytestmark = pytest.mark.django_db


@pytest.fixture
def ranked(org, make_customer):
    """Four buyers of rep1, three of rep3, all with phone consent; scored and ranked."""
    made = {}
    for owner, names in ((org.rep1, ("甲", "乙", "丙", "丁")), (org.rep3, ("戊", "己", "庚"))):
        for k, name in enumerate(names):
            c = make_customer(f"{name}贸易有限公司", owner=owner)
            for n in range(2 + k):
                buy(c, days_ago(10 + 25 * n + k), 1000 + 700 * k)
            grant_phone(c, owner)
            made[name] = c
    scoring_run()
    nba_run()
    return made


def _plain(user, rep=None) -> list[int]:
    """The worklist without the owner narrowing (the statement before an11), as customer ids in order."""
    original = Access.owner_reach
    Access.owner_reach = lambda self, model, mode="read": False
    try:
        return [r.customer_id for r in worklist(user=user, rep=rep)]
    finally:
        Access.owner_reach = original


def _owners_match() -> bool:
    rows = NbaRecommendation.objects.values_list("customer_owner_id", "customer__owner_id")
    return bool(rows) and all(a == b for a, b in rows)


def test_the_run_writes_the_customers_owner_and_the_worklist_narrows_by_it(ranked, org):
    assert _owners_match()
    with request_scope(), CaptureQueriesContext(connection) as queries:
        rows = [r.customer_id for r in worklist(user=org.rep1)]
    statements = [q["sql"] for q in queries.captured_queries if "analytics_nbarecommendation" in q["sql"]]
    assert len(statements) == 1 and "customer_owner_id" in statements[0]  # one statement, narrowed
    assert rows and rows == _plain(org.rep1)
    assert set(rows) <= set(Customer.objects.filter(owner=org.rep1).values_list("pk", flat=True))
    # the manager looking at rep1's list: rep1's write scope ∩ the manager's read scope
    assert [r.customer_id for r in worklist(user=org.manager, rep=org.rep1)] == _plain(org.manager, org.rep1)
    assert list(worklist(user=org.rep3, rep=org.rep1)) == []


def test_a_customer_changing_owner_moves_on_the_worklists_at_once(ranked, org, admin_user):
    moved = ranked["戊"]  # rep3's customer
    assert moved.pk not in _plain(org.rep1)
    customer_services.customer_update(
        customer=moved, data={"owner": org.rep1}, by=admin_user, expected_version=moved.version
    )
    assert set(
        NbaRecommendation.objects.filter(customer=moved).values_list("customer_owner_id", flat=True)
    ) == {org.rep1.pk}
    assert _owners_match()
    rep1 = [r.customer_id for r in worklist(user=org.rep1)]
    assert rep1 == _plain(org.rep1) and moved.pk in rep1
    assert moved.pk not in [r.customer_id for r in worklist(user=org.rep3)]
    # an update that keeps the owner leaves the copies alone (the trigger fires on a changed owner only)
    Customer.objects.filter(pk=moved.pk).update(name="戊贸易（集团）有限公司")
    assert _owners_match()


def test_shared_customers_join_the_reps_own_in_one_ranking(ranked, org):
    shared = ranked["己"]  # rep3's, shared with rep1 for editing
    RecordShare.objects.create(model="customers.customer", object_id=shared.pk, user=org.rep1, access="edit")
    Access.forget(org.rep1)
    reach = Access.of(org.rep1).owner_reach(NbaRecommendation, mode="write")
    assert reach is not False and reach[1] is not None  # the owner list and a share condition
    rows = [r.customer_id for r in worklist(user=org.rep1)]
    assert shared.pk in rows and rows == _plain(org.rep1)
    # a short limit takes the best rows of both parts together
    assert [r.customer_id for r in worklist(user=org.rep1, limit=2)] == _plain(org.rep1)[:2]


def test_an_owner_changed_while_the_run_ranks_is_read_again_before_commit(ranked, org, monkeypatch):
    moved = ranked["甲"]
    load = services_nba._load_customers

    def load_then_reassign(*args, **kwargs):
        result = load(*args, **kwargs)
        # another user reassigns the customer after the run read the owners (the old rows move with the trigger,
        # the run's new rows carry the owner it read)
        Customer.objects.filter(pk=moved.pk).update(owner=org.rep3)
        return result

    monkeypatch.setattr(services_nba, "_load_customers", load_then_reassign)
    nba_run()
    assert _owners_match()
    assert moved.pk in [r.customer_id for r in worklist(user=org.rep3)]


def test_the_owner_reach_refuses_scopes_with_other_terms(org, admin_user):
    assert Access.of(admin_user).owner_reach(NbaRecommendation) == (None, None)
    owners, shared = Access.of(org.rep1).owner_reach(NbaRecommendation, mode="write")
    assert owners == [org.rep1.pk] and shared is None
    # a scope term the helper does not know (an extra scope) → False: callers keep the plain statement
    from kehu.core import registry

    root = registry.require(Customer)
    original = root.extra_scope
    try:
        from django.db.models import Q

        # the registry entry is a frozen dataclass: set the hook the way a registration would have
        object.__setattr__(
            root, "extra_scope", lambda access, mode, scope, prefix: Q(**{f"{prefix}name": "x"})
        )
        Access.forget(org.rep1)
        assert Access.of(org.rep1).owner_reach(NbaRecommendation, mode="write") is False
        # and the worklist still answers with the plain statement
        assert isinstance(list(selectors_nba.worklist(user=org.rep1)), list)
    finally:
        object.__setattr__(root, "extra_scope", original)
        Access.forget(org.rep1)


def test_a_withdrawn_consent_clears_the_copy_and_a_renewed_one_sets_it(ranked, org):
    customer = ranked["甲"]
    phone = NbaRecommendation.objects.filter(customer=customer, action__consent_channel="phone")
    if not phone.exists():
        pytest.skip("no phone action ranked for this customer")
    assert set(phone.values_list("consent_ok", flat=True)) == {True}
    customer_services.consent_record(customer=customer, channel="phone", status="withdrawn", method="verbal",
                                     by=org.rep1)  # fmt: skip
    assert set(phone.values_list("consent_ok", flat=True)) == {False}
    # actions without a consent channel stay eligible
    assert set(
        NbaRecommendation.objects.filter(customer=customer, action__consent_channel="").values_list(
            "consent_ok", flat=True
        )
    ) <= {True}
    assert [r.customer_id for r in worklist(user=org.rep1)] == _plain(org.rep1)
    grant_phone(customer, org.rep1)
    assert set(phone.values_list("consent_ok", flat=True)) == {True}
    assert [r.customer_id for r in worklist(user=org.rep1)] == _plain(org.rep1)
