"""ADR 0018 addendum: campaigns' four-eyes approval on the engine (one way), the requester's department head,
and records left "awaiting approval" by the code before the engine getting a request (migration 0003)."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.apps import apps as live_apps
from django.core.exceptions import PermissionDenied, ValidationError

from kehu.approvals import services as engine
from kehu.approvals.models import (
    ApprovalChain,
    ApprovalEvent,
    ApprovalRequest,
    ApprovalStep,
    ApprovalTask,
    ApproverKind,
)
from kehu.core.models import Department
from kehu.marketing.models import Campaign, CampaignStatus
from kehu.marketing.services import campaigns as campaign_services
from kehu.sales.models import Contract
from kehu.salesmgmt.models import Expense, ExpenseCategory
from kehu.salesmgmt.services import expenses
from tests.factories import UserFactory
from tests.marketing.campaigning import campaign, static_segment
from tests.marketing.conftest import MarketingOrg
from tests.sales.conftest import demo_role


@pytest.fixture
def morg(db):
    return MarketingOrg()


@pytest.fixture
def submitted(morg):
    from kehu.customers.models import Customer

    people = [Customer.objects.create(name="北京甲公司", owner=morg.rep1, city="北京")]
    made = campaign(morg.marketer, static_segment(morg.marketer, people), budget=Decimal("50000"))
    campaign_services.campaign_submit(campaign=made, by=morg.marketer, reason="春季")
    made.refresh_from_db()
    return made


def test_a_submitted_campaign_waits_on_the_engine_for_someone_who_may_change_it_but_its_owner(
    morg, submitted
):
    other_marketer = UserFactory(username="mkt2")  # change right, write scope OWN: not on this campaign
    other_marketer.roles.add(demo_role("marketer"))
    request = engine.pending_request(submitted)
    assert submitted.status == CampaignStatus.PENDING_APPROVAL
    assert request is not None and request.requester == morg.marketer and request.reason == "春季"
    assert request.plan[0]["kind"] == ApproverKind.CAMPAIGN_APPROVER
    holders = set(ApprovalTask.objects.filter(request=request).values_list("approver__username", flat=True))
    assert holders == {"boss"}  # the executive (change right on every campaign); never the owner
    assert campaign_services.can_approve(morg.exec, submitted)
    assert not campaign_services.can_approve(morg.marketer, submitted)
    assert not campaign_services.can_approve(other_marketer, submitted)
    with pytest.raises(PermissionDenied):
        campaign_services.campaign_approve(campaign=submitted, by=morg.marketer)
    with pytest.raises(PermissionDenied):
        campaign_services.campaign_approve(campaign=submitted, by=other_marketer)
    campaign_services.campaign_approve(campaign=submitted, by=morg.exec, comment="同意")
    submitted.refresh_from_db()
    request.refresh_from_db()
    assert submitted.status == CampaignStatus.APPROVED and submitted.approved_by == morg.exec
    assert request.status == "approved"
    assert list(ApprovalEvent.objects.filter(request=request).values_list("kind", flat=True)) == [
        "started",
        "approved",
    ]


def test_sending_back_needs_a_reason_and_writes_nothing_without_one(morg, submitted):
    version = submitted.version
    with pytest.raises(ValidationError) as caught:
        campaign_services.campaign_reject(campaign=submitted, by=morg.exec, comment="  ")
    assert "comment" in caught.value.message_dict
    submitted.refresh_from_db()
    assert submitted.status == CampaignStatus.PENDING_APPROVAL and submitted.version == version
    campaign_services.campaign_reject(campaign=submitted, by=morg.exec, comment="预算太高")
    submitted.refresh_from_db()
    assert submitted.status == CampaignStatus.DRAFT and submitted.approved_by is None
    # resubmitted: a new request, the old one stays in the history
    campaign_services.campaign_submit(campaign=submitted, by=morg.marketer)
    statuses = sorted(
        ApprovalRequest.objects.filter(model="marketing.campaign", object_id=str(submitted.pk)).values_list(
            "status", flat=True
        )
    )
    assert statuses == ["pending", "rejected"]
    with pytest.raises(ValidationError):  # not awaiting approval: the old wording
        campaign_services.campaign_approve(
            campaign=Campaign.objects.create(name="x", owner=morg.marketer), by=morg.exec
        )


def test_a_campaign_chain_with_a_second_step_for_big_budgets(morg, submitted):
    """An administrator adds a step (the marketing head above a budget): the campaign is approved only after
    both — the chain is configuration, not code."""
    engine.approval_withdraw(record=submitted, by=morg.marketer)
    Campaign.objects.filter(pk=submitted.pk).update(status=CampaignStatus.DRAFT)
    cmo = UserFactory(username="cmo")
    chain = ApprovalChain.objects.create(
        code="big-campaign", name="big", model="marketing.campaign", priority=1, min_amount=Decimal("10000")
    )
    ApprovalStep.objects.create(chain=chain, position=1, name="four eyes", approver_kind="campaign_approver")
    ApprovalStep.objects.create(chain=chain, position=2, name="CMO", approver_kind="user", user=cmo)
    submitted.refresh_from_db()
    campaign_services.campaign_submit(campaign=submitted, by=morg.marketer)
    campaign_services.campaign_approve(campaign=submitted, by=morg.exec)
    submitted.refresh_from_db()
    assert submitted.status == CampaignStatus.PENDING_APPROVAL  # step 2 waits
    campaign_services.campaign_approve(campaign=submitted, by=cmo)
    submitted.refresh_from_db()
    assert submitted.status == CampaignStatus.APPROVED and submitted.approved_by == cmo


def test_the_api_and_page_take_the_comment(morg, submitted, client_for, api_for):
    api = api_for(morg.exec)
    refused = api.post(f"/api/campaigns/{submitted.pk}/reject/", {}, format="json")
    assert refused.status_code == 400 and "comment" in refused.json()
    page = client_for(morg.exec).get(submitted.get_absolute_url())
    assert b'data-testid="reject-comment"' in page.content and b'data-testid="approval-panel"' in page.content
    done = api.post(f"/api/campaigns/{submitted.pk}/reject/", {"comment": "再想想"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "draft"


def test_the_requester_department_head(morg):
    """Sales > North > Key accounts: the manager of a key-account rep is the team lead; their department head
    (top level below the root) is North's head; below a chosen department, the head one level down."""
    lead = UserFactory(username="lead")
    key = Department.objects.create(name="Key accounts", parent=morg.north, manager=lead)
    lead.department = key
    lead.save()
    rep = UserFactory(username="karep", department=key)
    plan = lambda dept=None: {"kind": "requester_dept_head", "department": dept}  # noqa: E731
    assert engine.manager_of(rep) == lead
    assert engine.resolve_approvers(plan(), rep) == [morg.manager]
    assert engine.resolve_approvers(plan(morg.sales.pk), rep) == [morg.manager]
    assert engine.resolve_approvers(plan(morg.north.pk), rep) == [lead]
    outside = Department.objects.create(name="Finance")
    assert engine.resolve_approvers(plan(outside.pk), rep) == [
        lead
    ]  # not below it: falls back to the manager
    # the head is the requester: the fallback (their manager) decides, never themselves
    assert engine.resolve_approvers(plan(morg.north.pk), lead) == [morg.manager]
    step = ApprovalStep(approver_kind="requester_dept_head", name="head", position=1)
    step.clean()  # the department is optional for this kind


def test_records_left_awaiting_by_the_old_code_get_a_request(morg):
    category = ExpenseCategory.objects.create(name="差旅 Travel")
    from django.utils import timezone

    expense = expenses.expense_create(
        data={
            "category": category,
            "amount": Decimal("80"),
            "currency": "CNY",
            "spent_on": timezone.localdate(),
        },
        submit=False,
        by=morg.rep1,
    )
    Expense.objects.filter(pk=expense.pk).update(status="submitted")  # what the old code left
    old_campaign = Campaign.objects.create(name="旧活动", owner=morg.marketer, status="pending_approval")
    contract = Contract.objects.create(
        number="HT-OLD-1",
        title="old",
        customer=_customer(morg),
        owner=morg.rep1,
        amount=Decimal("1000"),
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 12, 31),
        status="pending",
    )
    migration = importlib.import_module("kehu.approvals.migrations.0003_campaigns_and_adoption")
    migration.forward(live_apps, None)
    for record in (expense, old_campaign, contract):
        request = engine.pending_request(record)
        assert request is not None and ApprovalTask.objects.filter(request=request).exists()
    # the contract's approver decides through the contract's own service, as for any new request
    approver = ApprovalTask.objects.filter(request=engine.pending_request(contract)).first().approver
    from kehu.sales.services import contracts

    contracts.contract_set_status(contract=contract, status="approved", by=approver, comment="ok")
    contract.refresh_from_db()
    assert contract.status == "approved"
    # idempotent: nothing more the second time
    before = ApprovalRequest.objects.count()
    assert set(engine.adopt_awaiting().values()) <= {0}
    migration.forward(live_apps, None)
    assert ApprovalRequest.objects.count() == before


def _customer(morg):
    from kehu.customers.models import Customer

    return Customer.objects.create(name="上海启明星", owner=morg.rep1)
