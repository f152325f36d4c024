"""Pool configuration pages for admins: public pools, recycle rules, claim limits (generic list/detail/form
views) — create and edit with validation messages, audit, rights (a rep sees no settings page), the pool's
latest moves on its settings page, navigation entries."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.core.models import AuditEntry
from kehu.sales.models import ClaimLimit, CustomerPool, PoolEvent, RecycleRule
from tests.factories import UserFactory
from tests.sales.conftest import demo_role


@pytest.fixture
def admin(db):
    return UserFactory(username="pooladmin", is_superuser=True)


def _errors(response) -> str:
    return response.content.decode()


def test_admin_creates_and_edits_a_pool(client, org, admin):
    client.force_login(admin)
    assert client.get(reverse("sales:pool_settings")).status_code == 200
    response = client.post(
        reverse("sales:pool_setting_create"),
        {
            "name": "  华北   公海 ",
            "department": org.north.pk,
            "hide_contact_details": "on",
            "reclaim_cooldown_days": "7",
        },
    )
    pool = CustomerPool.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "sales:pool_setting", args=[pool.pk]
    )
    assert pool.name == "华北 公海" and pool.department == org.north and pool.hide_contact_details
    assert AuditEntry.objects.filter(
        model="sales.customerpool", object_id=str(pool.pk), action="create"
    ).exists()
    duplicate = client.post(
        reverse("sales:pool_setting_create"), {"name": "华北 公海", "reclaim_cooldown_days": "7"}
    )
    assert duplicate.status_code == 400 and "already exists" in _errors(duplicate)
    negative = client.post(
        reverse("sales:pool_setting_edit", args=[pool.pk]),
        {"name": "华北 公海", "reclaim_cooldown_days": "-1", "version": pool.version},
    )
    assert negative.status_code == 400 and "has-error" in _errors(negative)
    stale = client.post(
        reverse("sales:pool_setting_edit", args=[pool.pk]),
        {"name": "华北公海", "reclaim_cooldown_days": "3", "version": pool.version + 5},
    )
    assert stale.status_code == 400
    edited = client.post(
        reverse("sales:pool_setting_edit", args=[pool.pk]),
        {"name": "华北公海", "reclaim_cooldown_days": "3", "version": pool.version},
    )
    assert edited.status_code == 302
    pool.refresh_from_db()
    assert (pool.reclaim_cooldown_days, pool.hide_contact_details) == (3, False)


def test_pool_settings_page_lists_rules_and_latest_moves(client, org, admin, account):
    pool = CustomerPool.objects.create(name="华东公海", department=org.east)
    rule = RecycleRule.objects.create(name="华东 30 天", pool=pool, no_followup_days=30)
    PoolEvent.objects.create(
        customer=account, pool=pool, kind="released", from_owner=org.rep1, reason="没有预算"
    )
    PoolEvent.objects.create(customer=account, pool=pool, kind="warned", from_owner=org.rep1)
    client.force_login(admin)
    page = client.get(reverse("sales:pool_setting", args=[pool.pk])).content.decode()
    rules = page.split('data-testid="pool-rules"')[1].split("</table>")[0]
    events = page.split('data-testid="pool-events"')[1].split("</table>")[0]
    assert rule.name in rules and "30 days without follow-up" in rules
    assert "没有预算" in events and account.name in events and events.count("<tr>") == 1  # warnings left out


def test_recycle_rule_validation_messages(client, org, admin):
    pool = CustomerPool.objects.create(name="公海")
    client.force_login(admin)
    url = reverse("sales:recycle_rule_create")
    neither = client.post(url, {"name": "空规则", "pool": pool.pk, "warn_days": "3"})
    assert neither.status_code == 400
    assert "Give the days without follow-up, the days without a deal, or both." in _errors(neither)
    late = client.post(url, {"name": "晚提醒", "pool": pool.pk, "no_followup_days": "5", "warn_days": "5"})
    assert late.status_code == 400 and "The warning must come before the customer is recycled." in _errors(
        late
    )
    stage = client.post(
        url,
        {
            "name": "阶段",
            "pool": pool.pk,
            "no_followup_days": "30",
            "warn_days": "3",
            "exclude_lifecycle": "nope",
        },
    )
    assert stage.status_code == 400 and "has-error" in _errors(stage)
    assert not RecycleRule.objects.exists()
    ok = client.post(
        url,
        {"name": "华北 30/180", "pool": pool.pk, "department": org.north.pk, "no_followup_days": "30",
         "no_deal_days": "180", "warn_days": "3", "exclude_lifecycle": "loyal", "active": "on"},
    )  # fmt: skip
    rule = RecycleRule.objects.get()
    assert ok.status_code == 302 and (rule.no_deal_days, rule.exclude_lifecycle) == (180, "loyal")
    assert client.get(reverse("sales:recycle_rules")).status_code == 200
    client.post(reverse("sales:recycle_rule_delete", args=[rule.pk]), {"version": rule.version})
    assert not RecycleRule.objects.exists()


def test_claim_limit_validation_and_one_per_role(client, org, admin):
    role = demo_role("sales_rep")
    client.force_login(admin)
    url = reverse("sales:claim_limit_create")
    zero = client.post(url, {"role": role.pk, "max_customers": "0", "max_claims_per_day": "0"})
    assert zero.status_code == 400 and "Allow at least one customer" in _errors(zero)
    more = client.post(url, {"role": role.pk, "max_customers": "10", "max_claims_per_day": "20"})
    assert more.status_code == 400 and "cannot exceed the largest private pool (10)" in _errors(more)
    assert (
        client.post(url, {"role": role.pk, "max_customers": "200", "max_claims_per_day": "20"}).status_code
        == 302
    )
    again = client.post(url, {"role": role.pk, "max_customers": "100", "max_claims_per_day": "5"})
    assert again.status_code == 400 and "already exists" in _errors(again)
    assert ClaimLimit.objects.get().max_customers == 200
    assert client.get(reverse("sales:claim_limits")).status_code == 200


def test_reps_see_no_settings_and_managers_edit_rules_only(client, org, admin):
    pool = CustomerPool.objects.create(name="公海")
    client.force_login(org.rep1)
    for name in ("sales:pool_settings", "sales:recycle_rule_create", "sales:claim_limit_create"):
        assert client.get(reverse(name)).status_code == 403
    assert client.post(reverse("sales:pool_setting_edit", args=[pool.pk]), {"name": "x"}).status_code == 403
    client.force_login(org.manager)
    assert client.get(reverse("sales:recycle_rule_create")).status_code == 200
    assert client.get(reverse("sales:claim_limit_create")).status_code == 403
    assert client.get(reverse("sales:pool_setting_create")).status_code == 403
    home = client.get(reverse("sales:recycle_rules")).content.decode()
    assert reverse("sales:recycle_rules") in home and reverse("sales:claim_limits") not in home
    client.force_login(admin)
    home = client.get(reverse("sales:pools")).content.decode()
    assert all(
        reverse(n) in home for n in ("sales:pool_settings", "sales:recycle_rules", "sales:claim_limits")
    )
