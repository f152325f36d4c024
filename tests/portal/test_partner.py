"""Partner users: deal registration (a lead by the assignment rules, conflicts flagged), their deals only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.core.models import Notification
from kehu.portal.models import DealRegistration
from kehu.sales.models import Lead

pytestmark = pytest.mark.django_db


def test_register_a_deal_creates_a_lead_for_sales(
    world, portal_client, make_user, django_capture_on_commit_callbacks
):
    rep = make_user("sales.lead")
    world.partner_account.owner = rep
    world.partner_account.save()
    c = portal_client(world.partner)
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(
            reverse("portal:deal_new"),
            {"company": "深圳新客户有限公司", "name": "周", "phone": "", "email": "zhou@new.example.cn"},
        )
    assert response.status_code == 302
    reg = DealRegistration.objects.get()
    assert reg.outcome == "new" and reg.lead.source == "referral"
    assert reg.lead.owner == rep  # no assignment rule matched: the partner's account manager
    assert Notification.objects.filter(user=rep, title__contains="深圳新客户").exists()
    assert "深圳新客户有限公司" in c.get(reverse("portal:deals")).content.decode()


def test_a_known_customer_is_a_conflict(world, portal_client):
    c = portal_client(world.partner)
    c.post(reverse("portal:deal_new"), {"company": "上海宏达机械有限公司"})
    reg = DealRegistration.objects.get()
    assert reg.outcome == "conflict" and "上海宏达" in reg.conflict_note


def test_bad_deal_input_creates_nothing(world, portal_client):
    c = portal_client(world.partner)
    response = c.post(reverse("portal:deal_new"), {"company": "", "email": "not-mail"})
    assert response.status_code == 400 and not Lead.objects.exists()


def test_customer_users_have_no_deals(world, portal_client):
    c = portal_client(world.a.portal)
    assert c.get(reverse("portal:deals")).status_code == 404
    assert c.post(reverse("portal:deal_new"), {"company": "X"}).status_code == 404
    assert not Lead.objects.exists()


def test_partners_see_only_their_own_registrations(world, portal_client, staff):
    from kehu.sales.services.leads import lead_create

    lead_create(data={"company": "Staff lead"}, by=staff)
    c = portal_client(world.partner)
    c.post(reverse("portal:deal_new"), {"company": "Partner lead"})
    page = c.get(reverse("portal:deals")).content.decode()
    assert "Partner lead" in page and "Staff lead" not in page


def test_the_sales_assignment_rules_pick_the_owner(world, portal_client, make_user):
    from kehu.sales.models import AssignmentRule

    channel_rep = make_user("sales.lead")
    rule = AssignmentRule.objects.create(name="partner referrals", source="referral", method="round_robin")
    rule.users.set([channel_rep])
    c = portal_client(world.partner)
    c.post(reverse("portal:deal_new"), {"company": "杭州新客户有限公司", "city": "杭州"})
    lead = DealRegistration.objects.get().lead
    assert lead.owner == channel_rep and lead.assignment_rule == rule
