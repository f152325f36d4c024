"""Campaign pages and API: plan, journey step, submit, four-eyes approval, launch, pause and resume; counts
per contact rule on the page and in the API; scope (another marketer's campaign is read-only)."""

from __future__ import annotations

import pytest

from kehu.marketing.models import Campaign, CampaignStatus
from kehu.marketing.services import campaigns as services
from kehu.marketing.services import sending

from .campaigning import campaign, customer, launch, static_segment, to_next_slot

pytestmark = pytest.mark.django_db


def test_the_marketer_plans_submits_and_the_executive_approves_on_the_pages(org, client_for, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    seg = static_segment(org.marketer, [customer("王芳", org.rep1)])
    client = client_for(org.marketer)
    response = client.post(
        "/marketing/campaigns/new/",
        {
            "name": "双十一预热",
            "segments": [seg.pk],
            "budget": "5000",
            "currency": "CNY",
            "expected_response_rate": "2",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    made = Campaign.objects.get(name="双十一预热")
    assert made.owner == org.marketer and made.status == CampaignStatus.DRAFT
    client.post(
        f"/marketing/campaigns/{made.pk}/steps/",
        {"kind": "send", "subject": "预热", "body": "见 https://x.example/"},
    )
    client.post(
        f"/marketing/campaigns/{made.pk}/steps/", {"kind": "send", "subject": ""}
    )  # refused: no subject
    assert list(made.steps.values_list("kind", flat=True)) == ["send"]
    client.post(f"/marketing/campaigns/{made.pk}/launch/")  # not approved: refused
    made.refresh_from_db()
    assert made.status == CampaignStatus.DRAFT
    client.post(f"/marketing/campaigns/{made.pk}/submit/")
    client.post(f"/marketing/campaigns/{made.pk}/approve/")  # the owner may not approve
    made.refresh_from_db()
    assert made.status == CampaignStatus.PENDING_APPROVAL
    page = client_for(org.exec).get(f"/marketing/campaigns/{made.pk}/")
    assert b'data-testid="action-approve"' in page.content
    client_for(org.exec).post(f"/marketing/campaigns/{made.pk}/approve/")
    made.refresh_from_db()
    assert made.status == CampaignStatus.APPROVED and made.approved_by == org.exec
    client = client_for(org.marketer)
    client.post(f"/marketing/campaigns/{made.pk}/launch/")
    made.refresh_from_db()
    assert made.status == CampaignStatus.RUNNING and made.enrolments.count() == 1
    client.post(f"/marketing/campaigns/{made.pk}/pause/")
    made.refresh_from_db()
    assert made.status == CampaignStatus.PAUSED
    client.post(f"/marketing/campaigns/{made.pk}/resume/")
    made.refresh_from_db()
    assert made.status == CampaignStatus.RUNNING
    listing = client.get("/marketing/campaigns/")
    assert listing.status_code == 200 and "双十一预热" in listing.content.decode()


def test_the_page_and_api_count_holds_per_rule(org, client_for, api_for, mail_sink, frozen_clock):
    to_next_slot(frozen_clock)
    people = [customer("甲", org.rep1), customer("乙", org.rep1, consent={})]
    made = launch(campaign(org.marketer, static_segment(org.marketer, people)), org.marketer, org.exec)
    services.journeys_advance()
    sending.dispatch()
    page = client_for(org.marketer).get(f"/marketing/campaigns/{made.pk}/").content.decode()
    assert 'data-testid="rule-counts"' in page and "No consent for the channel" in page
    stats = api_for(org.marketer).get(f"/api/campaigns/{made.pk}/stats/").json()
    assert stats["by_status"] == {"sent": 1, "dropped": 1}
    assert stats["by_rule"] == {"consent": {"held": 0, "dropped": 1}}


def test_api_scope_and_actions(org, api_for, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    made = campaign(org.marketer, static_segment(org.marketer, [customer("丙", org.rep1)]))
    api = api_for(org.marketer)
    assert api.get("/api/campaigns/").json()["count"] == 1
    assert api.post(f"/api/campaigns/{made.pk}/launch/").status_code == 400  # a draft cannot launch
    assert api.post(f"/api/campaigns/{made.pk}/submit/").json()["status"] == "pending_approval"
    assert api.post(f"/api/campaigns/{made.pk}/approve/").status_code == 403  # four eyes
    assert api_for(org.exec).post(f"/api/campaigns/{made.pk}/approve/").json()["status"] == "approved"
    assert api_for(org.rep1).get(f"/api/campaigns/{made.pk}/").status_code in (403, 404)  # reps: no grant
    assert api_for(org.manager).post(f"/api/campaigns/{made.pk}/launch/").status_code == 403  # read only
