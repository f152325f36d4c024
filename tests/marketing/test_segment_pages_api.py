"""Segment pages and API: the builder saves validated rules, the live count and every member read stay in the
reader's scope, snapshots materialise members, the customer list filters by segment, campaigns target
segments, hidden fields are refused everywhere."""

from __future__ import annotations

import json

from django.urls import reverse

from kehu.core.access import Access
from kehu.core.models import AuditEntry, FieldGrant
from kehu.marketing.models import Campaign, Segment, SegmentKind, SegmentMember
from kehu.marketing.segments import campaign_audience, members
from kehu.marketing.services.segments import segment_create, segment_snapshot

from .conftest import BEIJING


def _preview(client, definition):
    return client.post(
        reverse("marketing:segment_preview"),
        data=json.dumps({"definition": definition}),
        content_type="application/json",
    )


def test_builder_page_renders_the_field_catalogue_without_inline_script(client_for, org):
    response = client_for(org.marketer).get(reverse("marketing:segment_create"))
    assert response.status_code == 200
    html = response.content.decode()
    schema = json.loads(html.split('id="segment-schema" type="application/json">')[1].split("</script>")[0])
    keys = {f["key"] for f in schema["fields"]}
    assert {"lifecycle_stage", "purchase.spent", "interaction.contact", "consent.email", "tags"} <= keys
    assert "notes" not in keys and "tax_id" not in keys  # hidden for marketers (and not a rule field)
    assert "marketing/segments.js" in html
    for chunk in html.split("<script")[1:]:
        assert " src=" in chunk.split(">")[0] or "application/json" in chunk.split(">")[0]


def test_live_count_is_in_the_users_scope(client_for, org, people):
    data = _preview(client_for(org.marketer), BEIJING).json()
    assert data["count"] == 3  # marketers see every customer
    assert [s["name"] for s in data["sample"]] == sorted(["北京甲公司", "北京乙公司", "北京丁公司"])
    data = _preview(client_for(org.manager), BEIJING).json()  # the north department's customers
    assert data["count"] == 2 and {s["name"] for s in data["sample"]} == {"北京甲公司", "北京乙公司"}


def test_live_count_names_bad_rules_and_refuses_hidden_fields(client_for, org, people):
    client = client_for(org.marketer)
    response = _preview(
        client, {"match": "all", "conditions": [{"field": "city", "op": "like", "value": "x"}]}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0].startswith("conditions[0].op: Unknown operator")
    FieldGrant.objects.create(
        role=org.marketer.roles.get(), model="customers.customer", field="income_band", access="hidden"
    )
    Access.forget(org.marketer)
    response = _preview(
        client, {"match": "all", "conditions": [{"field": "income_band", "op": "eq", "value": "high"}]}
    )
    assert response.status_code == 400 and "may not use" in response.json()["errors"][0]
    assert (
        client.post(
            reverse("marketing:segment_preview"), data="{bad", content_type="application/json"
        ).status_code
        == 400
    )


def test_a_user_without_segment_rights_gets_no_count(client_for, org, people, make_user):
    user = make_user("customers.customer", actions=("view",))
    assert _preview(client_for(user), BEIJING).status_code == 403


def test_save_from_the_builder_validates_and_audits(client_for, org, people):
    client = client_for(org.marketer)
    bad = {"name": "x", "definition": json.dumps({"match": "all", "conditions": [{"field": "nope"}]})}
    response = client.post(reverse("marketing:segment_create"), bad)
    assert response.status_code == 400 and "Unknown field" in response.content.decode()
    assert not Segment.objects.exists()
    response = client.post(
        reverse("marketing:segment_create"),
        {"name": "北京客户", "description": "d", "definition": json.dumps(BEIJING)},
    )
    segment = Segment.objects.get()
    assert response.status_code == 302 and response["Location"] == segment.get_absolute_url()
    assert segment.kind == SegmentKind.DYNAMIC and segment.owner == org.marketer
    assert segment.definition == BEIJING
    assert AuditEntry.objects.filter(
        model="marketing.segment", object_id=str(segment.pk), action="create"
    ).exists()
    page = client.get(segment.get_absolute_url()).content.decode()
    assert 'data-testid="member-count">3<' in page
    # edit with a stale version is refused
    response = client.post(
        reverse("marketing:segment_edit", args=[segment.pk]),
        {"name": "新名字", "definition": json.dumps(BEIJING), "version": "0"},
    )
    assert response.status_code == 400
    Segment.objects.filter(pk=segment.pk).update()  # unchanged
    response = client.post(
        reverse("marketing:segment_edit", args=[segment.pk]),
        {"name": "新名字", "definition": json.dumps(BEIJING), "version": str(segment.version)},
    )
    assert response.status_code == 302
    assert Segment.objects.get().name == "新名字"


def test_detail_page_counts_in_the_readers_scope(client_for, org, people):
    segment = segment_create(data={"name": "北京", "definition": BEIJING}, by=org.marketer)
    page = client_for(org.manager).get(segment.get_absolute_url()).content.decode()
    assert 'data-testid="member-count">2<' in page  # the north department's customers only
    assert "北京丁公司" not in page


def test_snapshot_materialises_the_members_the_user_sees(client_for, org, people):
    segment = segment_create(data={"name": "北京", "definition": BEIJING}, by=org.marketer)
    response = client_for(org.manager).post(reverse("marketing:segment_snapshot", args=[segment.pk]))
    snapshot = Segment.objects.exclude(pk=segment.pk).get()
    assert response.status_code == 302 and response["Location"] == snapshot.get_absolute_url()
    assert snapshot.kind == SegmentKind.STATIC and snapshot.owner == org.manager
    assert set(snapshot.members.values_list("customer__name", flat=True)) == {"北京甲公司", "北京乙公司"}
    entries = AuditEntry.objects.filter(model="marketing.segment", object_id=str(snapshot.pk))
    assert {e.action for e in entries} == {"create", "update"}
    assert entries.get(action="update").changes["members"] == [0, 2]
    # a static segment no longer follows the rules
    people["a"].city = "天津"
    people["a"].save()
    assert members(snapshot).count() == 2 and members(segment).count() == 2  # a left Beijing, d is still in


def test_snapshot_is_one_insert_select(org, people, django_assert_max_num_queries):
    segment = segment_create(data={"name": "北京", "definition": BEIJING}, by=org.marketer)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        snapshot = segment_snapshot(segment=segment, by=org.marketer)
    inserts = [
        q["sql"] for q in ctx.captured_queries if "INSERT INTO" in q["sql"] and "segmentmember" in q["sql"]
    ]
    assert len(inserts) == 1 and "SELECT" in inserts[0]
    assert SegmentMember.objects.filter(segment=snapshot).count() == 3


def test_customer_list_filters_by_segment_in_scope(client_for, org, people):
    segment = segment_create(data={"name": "北京", "definition": BEIJING}, by=org.marketer)
    page = client_for(org.marketer).get(reverse("customers:list") + f"?segment={segment.pk}").content.decode()
    assert "北京甲公司" in page and "北京丁公司" in page and "上海丙公司" not in page
    page = client_for(org.manager).get(reverse("customers:list") + f"?segment={segment.pk}").content.decode()
    assert "北京甲公司" in page and "北京丁公司" not in page and "上海丙公司" not in page
    # a rep without segment rights sees no segment's members
    page = client_for(org.rep1).get(reverse("customers:list") + f"?segment={segment.pk}").content.decode()
    assert "北京甲公司" not in page
    # a segment the reader may not see filters to nobody (never to everybody)
    page = (
        client_for(org.manager)
        .get(reverse("customers:list") + f"?segment={segment.pk + 999}")
        .content.decode()
    )
    assert "北京甲公司" not in page and "上海丙公司" not in page


def test_segments_are_campaign_targets(org, people):
    beijing = segment_create(data={"name": "北京", "definition": BEIJING}, by=org.marketer)
    shanghai = segment_create(
        data={
            "name": "上海",
            "definition": {"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "上海"}]},
        },
        by=org.marketer,
    )
    campaign = Campaign.objects.create(name="春季促销", owner=org.marketer)
    campaign.segments.set([beijing, shanghai])
    assert set(campaign_audience(campaign).values_list("name", flat=True)) == {
        "北京甲公司",
        "北京乙公司",
        "北京丁公司",
        "上海丙公司",
    }
    campaign.segments.set([segment_snapshot(segment=shanghai, by=org.marketer)])
    assert list(campaign_audience(campaign).values_list("name", flat=True)) == ["上海丙公司"]


# ------------------------------------------------------------------------------------------------ API
def test_api_create_count_members_snapshot(api_for, org, people):
    api = api_for(org.marketer)
    response = api.post("/api/segments/", {"name": "北京", "definition": BEIJING}, format="json")
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert api.get(f"/api/segments/{pk}/count/").json() == {"count": 3}
    rep_api = api_for(org.rep1)
    assert rep_api.get(f"/api/segments/{pk}/count/").status_code == 403  # reps have no segment rights
    manager = api_for(org.manager)
    assert manager.get(f"/api/segments/{pk}/count/").json() == {"count": 2}
    rows = manager.get(f"/api/segments/{pk}/members/").json()["results"]
    assert [r["name"] for r in rows] == ["北京乙公司", "北京甲公司"] or len(rows) == 2
    response = manager.post(f"/api/segments/{pk}/snapshot/", {"name": "快照"}, format="json")
    assert response.status_code == 201 and response.json()["kind"] == "static"
    assert api.get(f"/api/segments/{response.json()['id']}/count/").json() == {"count": 2}


def test_api_refuses_bad_rules_and_hidden_fields(api_for, org, people):
    api = api_for(org.marketer)
    bad = {
        "name": "x",
        "definition": {"match": "all", "conditions": [{"field": "tax_id", "op": "eq", "value": "1"}]},
    }
    response = api.post("/api/segments/", bad, format="json")
    assert response.status_code == 400 and "definition" in response.json()
    response = api.post(
        "/api/segments/preview/", {"definition": {"match": "any", "conditions": "x"}}, format="json"
    )
    assert response.status_code == 400
    assert api.post("/api/segments/preview/", {"definition": BEIJING}, format="json").json() == {"count": 3}
    # a segment saved by someone who may use income_band cannot be counted by a reader for whom it is hidden
    rich = segment_create(
        data={
            "name": "rich",
            "definition": {
                "match": "all",
                "conditions": [{"field": "income_band", "op": "eq", "value": "high"}],
            },
        },
        by=org.manager,
    )
    FieldGrant.objects.create(
        role=org.marketer.roles.get(), model="customers.customer", field="income_band", access="hidden"
    )
    Access.forget(org.marketer)
    api = api_for(org.marketer)
    response = api.get(f"/api/segments/{rich.pk}/count/")
    assert response.status_code == 403
    members_response = api.get(f"/api/segments/{rich.pk}/members/")
    assert members_response.status_code == 403


def test_api_update_needs_if_match(api_for, org, people):
    api = api_for(org.marketer)
    pk = api.post("/api/segments/", {"name": "北京", "definition": BEIJING}, format="json").json()["id"]
    assert api.patch(f"/api/segments/{pk}/", {"name": "y"}, format="json").status_code == 428
    etag = api.get(f"/api/segments/{pk}/")["ETag"]
    response = api.patch(f"/api/segments/{pk}/", {"name": "y"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200 and response.json()["name"] == "y"


def test_segment_list_and_rights_on_pages(client_for, org, people):
    mine = segment_create(data={"name": "北京", "definition": BEIJING}, by=org.marketer)
    theirs = segment_create(data={"name": "经理的细分", "definition": BEIJING}, by=org.manager)
    page = client_for(org.marketer).get(reverse("marketing:segments")).content.decode()
    assert "北京" in page and "经理的细分" in page
    client = client_for(org.marketer)
    assert client.get(reverse("marketing:segment_edit", args=[mine.pk])).status_code == 200
    # marketers change only their own segments; reps have no segment pages at all
    assert client.get(reverse("marketing:segment_edit", args=[theirs.pk])).status_code == 403
    rep = client_for(org.rep1)
    assert rep.get(reverse("marketing:segments")).status_code == 403
    assert rep.get(reverse("marketing:segment_create")).status_code == 403
    assert rep.post(reverse("marketing:segment_snapshot", args=[mine.pk])).status_code == 403


def test_sample_never_shows_a_hidden_name(client_for, org, people):
    FieldGrant.objects.create(
        role=org.marketer.roles.get(), model="customers.customer", field="name", access="hidden"
    )
    data = _preview(client_for(org.marketer), BEIJING).json()
    assert data["count"] == 3
    assert {s["name"] for s in data["sample"]} == {f"#{people[k].pk}" for k in ("a", "b", "d")}


def test_builder_and_detail_leave_out_hidden_segment_fields(client_for, org, people):
    segment = segment_create(
        data={"name": "北京", "description": "SECRET-NOTE", "definition": BEIJING}, by=org.marketer
    )
    FieldGrant.objects.create(
        role=org.marketer.roles.get(), model="marketing.segment", field="description", access="hidden"
    )
    client = client_for(org.marketer)
    assert (
        "SECRET-NOTE" not in client.get(reverse("marketing:segment_edit", args=[segment.pk])).content.decode()
    )
    assert "SECRET-NOTE" not in client.get(segment.get_absolute_url()).content.decode()
    response = client.post(
        reverse("marketing:segment_edit", args=[segment.pk]),
        {
            "name": "北京2",
            "description": "",
            "definition": json.dumps(BEIJING),
            "version": str(segment.version),
        },
    )
    assert response.status_code == 302
    assert Segment.objects.get().description == "SECRET-NOTE"  # a hidden field is not written
