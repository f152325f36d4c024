"""Lead capture, assignment rules, status flow, activities, first-contact SLA, the API and the public form."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from kehu.core.models import AuditEntry, Notification
from kehu.products.models import ProductCategory
from kehu.sales.models import AssignmentRule, Lead, LeadWebForm
from kehu.sales.services import leads
from kehu.sales.services.sla import lead_sla_scan, manager_of


def _lead(by, **extra):
    return leads.lead_create(
        data={"kind": "organization", "company": "杭州云帆网络有限公司", "name": "周敏", **extra}, by=by
    )


@pytest.mark.django_db
def test_a_lead_entered_by_hand_belongs_to_its_author_with_an_sla(org, settings):
    settings.KEHU_LEAD_SLA_HOURS = 8
    lead = _lead(org.rep1, phone="13800138000")
    assert lead.owner == org.rep1 and lead.status == "new"
    assert lead.first_contact_due == lead.assigned_at + dt.timedelta(hours=8)
    assert AuditEntry.objects.filter(model="sales.lead", object_id=str(lead.pk), action="create").exists()


@pytest.mark.django_db
def test_default_score_from_qualification(org):
    from decimal import Decimal

    hot = leads.lead_create(
        data={"kind": "person", "name": "热线索", "budget": Decimal("50000"), "decision_maker": True,
              "timeframe": "now", "need": "替换两台旧设备", "phone": "13800138000", "email": "a@example.com"},
        by=org.rep1,
    )  # fmt: skip
    assert hot.score == 100
    cold = leads.lead_create(data={"kind": "person", "name": "冷线索", "timeframe": "year"}, by=org.rep1)
    assert cold.score == 5
    given = leads.lead_create(data={"kind": "person", "name": "手工评分", "score": 42}, by=org.rep1)
    assert given.score == 42


@pytest.mark.django_db
def test_round_robin_deals_leads_in_turn(org):
    rule = AssignmentRule.objects.create(name="north", method="round_robin")
    rule.users.set([org.rep1, org.rep2])
    owners = [
        leads.lead_create(data={"kind": "person", "name": f"客户{i}"}, by=org.manager, use_rules=True).owner
        for i in range(4)
    ]
    assert owners == [org.rep1, org.rep2, org.rep1, org.rep2]
    lead = Lead.objects.order_by("id").first()
    assert lead.assignment_rule == rule
    entry = AuditEntry.objects.get(model="sales.lead", object_id=str(lead.pk), action="transfer")
    assert entry.changes["owner"][1] == str(org.rep1)


@pytest.mark.django_db
def test_rules_by_region_product_line_and_load(org):
    water = ProductCategory.objects.create(name="净水设备")
    purifiers = ProductCategory.objects.create(name="家用净水器", parent=water)
    by_line = AssignmentRule.objects.create(name="water", priority=1, product_line=water, method="fixed")
    by_line.users.set([org.rep3])
    by_region = AssignmentRule.objects.create(
        name="north", priority=2, region=org.sales, method="load", department=org.north
    )
    # rep1 already carries two uncontacted leads, rep2 none, the manager one
    for _ in range(2):
        _lead(org.rep1)
    _lead(org.manager)
    water_lead = leads.lead_create(
        data={"kind": "person", "name": "A", "product_line": purifiers}, by=org.manager, use_rules=True
    )
    assert water_lead.owner == org.rep3 and water_lead.assignment_rule == by_line
    north_lead = leads.lead_create(
        data={"kind": "person", "name": "B", "region": org.north}, by=org.manager, use_rules=True
    )
    assert north_lead.owner == org.rep2 and north_lead.assignment_rule == by_region
    nowhere = leads.lead_create(data={"kind": "person", "name": "C"}, by=org.rep1, use_rules=True)
    assert nowhere.owner == org.rep1 and nowhere.assignment_rule is None


@pytest.mark.django_db
def test_status_flow_and_disqualification_reason(org):
    lead = _lead(org.rep1)
    with pytest.raises(ValidationError) as exc:
        leads.lead_update(
            lead=lead, data={"status": "disqualified"}, by=org.rep1, expected_version=lead.version
        )
    assert "disqualify_reason" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        leads.lead_update(lead=lead, data={"status": "converted"}, by=org.rep1, expected_version=lead.version)
    assert "status" in exc.value.message_dict
    lead.refresh_from_db()
    assert lead.status == "new" and lead.version == 1  # nothing half-saved
    lead = leads.lead_disqualify(
        lead=lead, reason="no_budget", note="明年再说", by=org.rep1, expected_version=1
    )
    assert lead.status == "disqualified" and lead.disqualify_reason == "no_budget"
    lead = leads.lead_update(
        lead=lead, data={"status": "working"}, by=org.rep1, expected_version=lead.version
    )
    lead.refresh_from_db()
    assert lead.disqualify_reason == "" and lead.first_contacted_at is not None


@pytest.mark.django_db
def test_logging_a_call_is_the_first_contact(org):
    lead = _lead(org.rep1)
    leads.lead_activity_log(lead=lead, data={"channel": "note", "subject": "看了官网"}, by=org.rep1)
    lead.refresh_from_db()
    assert lead.first_contacted_at is None and lead.status == "new"
    leads.lead_activity_log(lead=lead, data={"channel": "call", "subject": "首次电话沟通"}, by=org.rep1)
    lead.refresh_from_db()
    assert lead.first_contacted_at is not None and lead.status == "working" and lead.version == 2
    with pytest.raises(Http404):  # rep2 may not even see rep1's lead
        leads.lead_activity_log(lead=lead, data={"channel": "call", "subject": "x"}, by=org.rep2)
    with pytest.raises(PermissionDenied):  # the executive sees it but may not write
        leads.lead_activity_log(lead=lead, data={"channel": "call", "subject": "x"}, by=org.exec)


@pytest.mark.django_db
def test_sla_reminds_the_owner_then_escalates_to_the_manager_once(
    org, frozen_clock, smtp_settings, django_capture_on_commit_callbacks, settings
):
    settings.KEHU_LEAD_SLA_HOURS, settings.KEHU_LEAD_SLA_REMIND_MINUTES = 4, 60
    assert manager_of(org.rep1) == org.manager and manager_of(org.manager) is None
    lead = _lead(org.rep2)
    contacted = _lead(org.rep2)
    leads.lead_activity_log(lead=contacted, data={"channel": "call", "subject": "已联系"}, by=org.rep2)
    assert lead_sla_scan() == {"reminded": 0, "escalated": 0}
    frozen_clock.shift(dt.timedelta(hours=3, minutes=30))
    with django_capture_on_commit_callbacks(execute=True):
        assert lead_sla_scan() == {"reminded": 1, "escalated": 0}
        assert lead_sla_scan() == {"reminded": 0, "escalated": 0}
    assert Notification.objects.filter(user=org.rep2, url=reverse("sales:lead", args=[lead.pk])).count() == 1
    frozen_clock.shift(dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert lead_sla_scan() == {"reminded": 0, "escalated": 1}
        assert lead_sla_scan() == {"reminded": 0, "escalated": 0}
    escalation = Notification.objects.get(user=org.manager)
    assert str(org.rep2) in escalation.title and escalation.url.endswith(f"/sales/leads/{lead.pk}/")
    assert [m[0] for m in smtp_settings.messages] == [[org.rep2.email], [org.manager.email]]


@pytest.mark.django_db
def test_api_capture_is_scoped_and_idempotent(org, api_for):
    api = api_for(org.rep1)
    body = {"kind": "person", "name": "赵六", "email": "zhao@example.com", "external_ref": "crm-x-1"}
    first = api.post("/api/leads/", body, format="json")
    assert first.status_code == 201, first.content
    again = api.post("/api/leads/", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Lead.objects.count() == 1
    bad = api.post("/api/leads/", {"kind": "organization", "name": "x", "phone": "abc"}, format="json")
    assert bad.status_code == 400 and {"company", "phone"} <= set(bad.json())
    lead_id = first.json()["id"]
    assert api_for(org.rep2).get(f"/api/leads/{lead_id}/").status_code == 404
    assert api_for(org.manager).get(f"/api/leads/{lead_id}/").status_code == 200
    etag = api.get(f"/api/leads/{lead_id}/")["ETag"]
    assert api.patch(f"/api/leads/{lead_id}/", {"score": 80}, format="json").status_code == 428
    ok = api.patch(f"/api/leads/{lead_id}/", {"score": 80}, format="json", HTTP_IF_MATCH=etag)
    assert ok.status_code == 200 and ok.json()["score"] == 80
    stale = api.patch(f"/api/leads/{lead_id}/", {"score": 90}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 409
    logged = api.post(
        f"/api/leads/{lead_id}/activities/", {"channel": "email", "subject": "发送资料"}, format="json"
    )
    assert logged.status_code == 201 and logged.json()["user"] == org.rep1.pk
    assert api.get("/api/leads/", {"status": "working"}).json()["count"] == 1


@pytest.mark.django_db
def test_api_assignment_by_rules_needs_no_transfer_right(org, api_for):
    rule = AssignmentRule.objects.create(name="rr")
    rule.users.set([org.rep2])
    created = api_for(org.rep1).post(
        "/api/leads/?assign=rules", {"kind": "person", "name": "钱七"}, format="json"
    )
    assert created.status_code == 201 and Lead.objects.get().owner == org.rep2
    # the capturing rep does not see the lead the rules gave a colleague: the answer names only id and owner
    assert set(created.json()) == {"id", "owner", "detail"}
    assert api_for(org.rep1).get(f"/api/leads/{Lead.objects.get().pk}/").status_code == 404


@pytest.fixture
def web_form(org):
    return LeadWebForm.objects.create(
        name="官网询价",
        default_owner=org.manager,
        region=org.north,
        rate_limit=2,
        thank_you="谢谢，我们会尽快联系您",
    )


@pytest.mark.django_db
def test_public_web_form_creates_an_assigned_lead(client, org, web_form):
    rule = AssignmentRule.objects.create(name="north web", region=org.north)
    rule.users.set([org.rep1])
    url = reverse("public:lead_form", args=[web_form.key])
    page = client.get(url)
    assert page.status_code == 200 and "X-Frame-Options" not in page.headers
    response = client.post(
        url, {"company": "苏州明湖机械", "name": "刘工", "phone": "0512-6666 8888", "message": "询价"}
    )
    assert response.status_code == 200 and "谢谢" in response.content.decode()
    lead = Lead.objects.get()
    assert (lead.owner, lead.source, lead.region, lead.web_form) == (
        org.rep1,
        "web_form",
        org.north,
        web_form,
    )
    assert lead.phone == "+8651266668888" and lead.first_contact_due is not None
    entry = AuditEntry.objects.get(model="sales.lead", object_id=str(lead.pk), action="create")
    assert entry.actor is None and "官网询价" in entry.note
    web_form.refresh_from_db()
    assert web_form.submissions == 1


@pytest.mark.django_db
def test_public_web_form_spam_protection(client, org, web_form):
    url = reverse("public:lead_form", args=[web_form.key])
    bot = client.post(url, {"name": "bot", "email": "bot@example.com", "website": "http://spam.example"})
    assert bot.status_code == 200 and Lead.objects.count() == 0  # looks accepted, stores nothing
    missing = client.post(url, {"name": "无联系方式"})
    assert missing.status_code == 400 and Lead.objects.count() == 0
    for i in range(2):
        assert client.post(url, {"name": f"访客{i}", "email": f"v{i}@example.com"}).status_code == 200
    limited = client.post(url, {"name": "访客3", "email": "v3@example.com"})
    assert limited.status_code == 429 and Lead.objects.count() == 2
    other_ip = client.post(url, {"name": "访客4", "email": "v4@example.com"}, REMOTE_ADDR="10.9.8.7")
    assert other_ip.status_code == 200 and Lead.objects.count() == 3
    assert client.get(reverse("public:lead_form", args=["no-such-form"])).status_code == 404
    web_form.active = False
    web_form.save()
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_lead_pages(org, client_for):
    client = client_for(org.rep1)
    created = client.post(
        reverse("sales:lead_create"),
        {
            "kind": "organization",
            "company": "成都天府软件",
            "name": "黄总",
            "source": "manual",
            "status": "new",
            "score": 10,
            "currency": "CNY",
            "timeframe": "unknown",
        },
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    lead = Lead.objects.get()
    assert lead.owner == org.rep1
    page = client.get(reverse("sales:lead", args=[lead.pk]))
    assert page.status_code == 200 and "成都天府软件" in page.content.decode()
    assert (
        client.post(
            reverse("sales:lead_log", args=[lead.pk]),
            {
                "channel": "call",
                "subject": "电话",
                "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            },
        ).status_code
        == 302
    )
    lead.refresh_from_db()
    assert lead.status == "working"
    listing = client.get(reverse("sales:leads"))
    assert listing.status_code == 200 and "成都天府软件" in listing.content.decode()
    assert client_for(org.rep2).get(reverse("sales:lead", args=[lead.pk])).status_code == 404


@pytest.mark.django_db
def test_reassignment_by_hand_or_by_the_rules_restarts_the_sla(org, frozen_clock):
    lead = _lead(org.rep1)
    first_due = lead.first_contact_due
    frozen_clock.shift(dt.timedelta(hours=2))
    with pytest.raises(PermissionDenied):  # a rep may not give a lead away
        leads.lead_assign(lead=lead, by=org.rep1, to_user=org.rep2)
    moved = leads.lead_assign(lead=lead, by=org.manager, to_user=org.rep2, expected_version=lead.version)
    moved.refresh_from_db()
    assert moved.owner == org.rep2 and moved.first_contact_due > first_due
    rule = AssignmentRule.objects.create(name="to rep3", method="fixed")
    rule.users.set([org.rep3])
    again = leads.lead_assign(lead=moved, by=org.manager)
    again.refresh_from_db()
    assert again.owner == org.rep3 and again.assignment_rule == rule and again.version == moved.version + 1
    assert AuditEntry.objects.filter(model="sales.lead", object_id=str(lead.pk), action="transfer").exists()


@pytest.mark.django_db
def test_campaign_responses_become_leads_for_the_rules_or_the_fallback(org):
    response = leads.campaign_response_capture(
        data={"kind": "person", "name": "活动报名者", "email": "fan@example.com"},
        campaign_ref="2026 春季展会",
        fallback_owner=org.manager,
    )
    assert (response.source, response.campaign_ref, response.owner) == (
        "campaign",
        "2026 春季展会",
        org.manager,
    )
    assert response.score == 5 and response.first_contact_due is not None
    rule = AssignmentRule.objects.create(name="campaigns", source="campaign")
    rule.users.set([org.rep2])
    routed = leads.campaign_response_capture(
        data={"kind": "person", "name": "第二位", "phone": "13600001111"},
        campaign_ref="x",
        fallback_owner=org.manager,
    )
    assert routed.owner == org.rep2
    with pytest.raises(ValidationError):
        leads.campaign_response_capture(
            data={"kind": "person", "name": ""}, campaign_ref="x", fallback_owner=org.manager
        )
