"""Visits: planning (calendar and timeline), check-in/out with GPS fixes (distance, bad fixes refused,
nothing changed), notes sent twice stored once, the manager's team visits (list and grid map), the API."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kehu.interactions.models import Interaction
from kehu.salesmgmt.models import CustomerLocation, Visit, VisitNote
from kehu.salesmgmt.services import visits
from kehu.salesmgmt.services.visits import haversine_m

# 上海人民广场 and a point about 1.1 km east of it
SQUARE = (Decimal("31.230416"), Decimal("121.473701"))
EAST = ("31.230416", "121.485300")


@pytest.fixture
def visit(org, account):
    CustomerLocation.objects.create(customer=account, latitude=SQUARE[0], longitude=SQUARE[1])
    start = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=10)
    return visits.visit_plan(
        data={"customer": account, "subject": "季度拜访", "planned_start": start}, by=org.rep1
    )


def test_haversine():
    assert haversine_m(31.230416, 121.473701, 31.230416, 121.4853) == pytest.approx(1104, abs=5)
    assert haversine_m(0, 0, 0, 0) == 0


def test_a_planned_visit_is_on_the_calendar_and_the_timeline(visit, org, client_for):
    entry = Interaction.objects.get(related_model="salesmgmt.visit", related_id=str(visit.pk))
    assert entry.channel == "visit" and entry.user == org.rep1 and entry.occurred_at == visit.planned_start
    page = client_for(org.rep1).get(reverse("interactions:calendar"))
    assert page.status_code == 200 and "季度拜访" in page.content.decode()


def test_check_in_and_out_store_the_fix_and_the_distance(visit, org):
    now = timezone.now()
    visits.visit_check_in(visit=visit, latitude=EAST[0], longitude=EAST[1], accuracy="12.5",
                          at=now.isoformat(), by=org.rep1)  # fmt: skip
    visit.refresh_from_db()
    assert visit.status == "in" and visit.checkin_accuracy == Decimal("12.5")
    assert 1090 <= visit.checkin_distance <= 1120
    with pytest.raises(ValidationError):  # twice
        visits.visit_check_in(visit=visit, latitude=EAST[0], longitude=EAST[1], by=org.rep1)
    with pytest.raises(ValidationError):  # a check-out before the check-in
        visits.visit_check_out(
            visit=visit, latitude=EAST[0], longitude=EAST[1], at=now - dt.timedelta(minutes=5), by=org.rep1
        )
    visits.visit_check_out(visit=visit, latitude=EAST[0], longitude=EAST[1], report="谈妥了续约", by=org.rep1)
    visit.refresh_from_db()
    assert visit.status == "done" and visit.report == "谈妥了续约" and visit.checkout_at >= visit.checkin_at


def test_without_a_known_customer_location_the_distance_stays_empty(org, account):
    v = visits.visit_plan(
        data={"customer": account, "subject": "x", "planned_start": timezone.now()}, by=org.rep1
    )
    visits.visit_check_in(visit=v, latitude="31.2", longitude="121.4", by=org.rep1)
    v.refresh_from_db()
    assert v.status == "in" and v.checkin_distance is None


@pytest.mark.parametrize(
    ("lat", "lon", "acc", "shift", "field"),
    [
        ("91", "121", None, None, "latitude"),
        ("31", "-181", None, None, "latitude"),
        ("0", "0", None, None, "latitude"),  # null island: a broken receiver
        ("NaN", "121", None, None, "latitude"),
        ("abc", "121", None, None, "latitude"),
        ("", "", None, None, "latitude"),  # denied location: nothing sent
        ("31.2", "121.4", "-1", None, "accuracy"),
        ("31.2", "121.4", "50000", None, "accuracy"),
        ("31.2", "121.4", None, dt.timedelta(minutes=10), "at"),  # from the future
        ("31.2", "121.4", None, -dt.timedelta(days=2), "at"),  # stale
    ],
)
def test_a_bad_fix_is_refused_and_changes_nothing(visit, org, lat, lon, acc, shift, field):
    at = (timezone.now() + shift).isoformat() if shift else None
    version = visit.version
    with pytest.raises(ValidationError) as exc:
        visits.visit_check_in(visit=visit, latitude=lat, longitude=lon, accuracy=acc, at=at, by=org.rep1)
    assert field in exc.value.message_dict
    visit.refresh_from_db()
    assert visit.status == "planned" and visit.version == version and visit.checkin_at is None


def test_a_naive_timestamp_is_refused(visit, org):
    with pytest.raises(ValidationError):
        visits.visit_check_in(
            visit=visit, latitude="31.2", longitude="121.4", at="2026-01-01T10:00:00", by=org.rep1
        )


def test_notes_sent_twice_are_stored_once_and_future_notes_refused(visit, org):
    key = uuid.uuid4()
    written = timezone.now() - dt.timedelta(hours=2)  # typed offline two hours ago
    first, created = visits.visit_note_add(
        visit=visit, text="客户关心交期", client_id=key, written_at=written.isoformat(), by=org.rep1
    )
    again, created_again = visits.visit_note_add(visit=visit, text="客户关心交期", client_id=key, by=org.rep1)
    assert created and not created_again and first.pk == again.pk
    assert first.written_at == written and first.author == org.rep1
    with pytest.raises(ValidationError):
        visits.visit_note_add(
            visit=visit,
            text="x",
            written_at=(timezone.now() + dt.timedelta(hours=1)).isoformat(),
            by=org.rep1,
        )
    with pytest.raises(ValidationError):
        visits.visit_note_add(visit=visit, text="   ", by=org.rep1)
    assert VisitNote.objects.count() == 1


def test_another_rep_cannot_reach_the_visit(visit, org, client_for):
    c = client_for(org.rep2)
    assert c.get(visit.get_absolute_url()).status_code == 404
    assert (
        c.post(
            reverse("salesmgmt:visit_check_in", args=[visit.pk]), {"latitude": "31", "longitude": "121"}
        ).status_code
        == 404
    )
    assert c.post(reverse("salesmgmt:visit_note", args=[visit.pk]), {"text": "x"}).status_code == 404
    assert VisitNote.objects.count() == 0


def test_pages_check_in_by_fetch_and_show_the_team_visits_to_the_manager(visit, org, client_for):
    rep = client_for(org.rep1)
    assert rep.get(reverse("salesmgmt:my_visits")).status_code == 200
    detail = rep.get(visit.get_absolute_url())
    assert detail.status_code == 200 and 'data-testid="check-in"' in detail.content.decode()
    url = reverse("salesmgmt:visit_check_in", args=[visit.pk])
    bad = rep.post(url, {"latitude": "95", "longitude": "121"}, HTTP_X_REQUESTED_WITH="fetch")
    assert bad.status_code == 400 and "impossible" in bad.json()["error"]
    ok = rep.post(
        url, {"latitude": EAST[0], "longitude": EAST[1], "accuracy": "8"}, HTTP_X_REQUESTED_WITH="fetch"
    )
    assert ok.status_code == 200 and ok.json()["status"] == "in"
    note_url = reverse("salesmgmt:visit_note", args=[visit.pk])
    key = str(uuid.uuid4())
    assert (
        rep.post(note_url, {"text": "带样品", "client_id": key}, HTTP_X_REQUESTED_WITH="fetch").status_code
        == 201
    )
    assert (
        rep.post(note_url, {"text": "带样品", "client_id": key}, HTTP_X_REQUESTED_WITH="fetch").status_code
        == 200
    )
    manager = client_for(org.manager)
    team = manager.get(reverse("salesmgmt:team_visits"))
    body = team.content.decode()
    visit.refresh_from_db()
    assert team.status_code == 200 and f'data-testid="point-{visit.pk}"' in body
    assert f"{visit.checkin_distance} m" in body
    outsider = client_for(org.rep3).get(reverse("salesmgmt:team_visits"))
    assert f'data-testid="visit-{visit.pk}"' not in outsider.content.decode()


def test_team_visits_page_has_a_constant_query_count(org, account, client_for):
    def add(n):
        for i in range(n):
            visits.visit_plan(
                data={"customer": account, "subject": f"v{i}", "planned_start": timezone.now()}, by=org.rep1
            )

    c = client_for(org.manager)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(reverse("salesmgmt:team_visits")).status_code == 200
        return len(ctx.captured_queries)

    add(2)
    small = count()
    add(10)
    assert count() == small


def test_api_visits_day_check_in_and_notes(visit, org, api_for):
    api = api_for(org.rep1)
    day = timezone.localdate(visit.planned_start).isoformat()
    listed = api.get(f"/api/visits/?day={day}").json()
    assert [v["id"] for v in listed["results"]] == [visit.pk]
    assert api.get("/api/visits/?day=yesterday").status_code == 400
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    refused = api.post(
        f"/api/visits/{visit.pk}/check-in/",
        {"latitude": "31.2", "longitude": "121.4", "at": future},
        format="json",
    )
    assert refused.status_code == 400 and "at" in refused.json()
    done = api.post(
        f"/api/visits/{visit.pk}/check-in/", {"latitude": EAST[0], "longitude": EAST[1]}, format="json"
    )
    assert done.status_code == 200 and done.json()["status"] == "in"
    note = {"text": "offline note", "client_id": str(uuid.uuid4())}
    assert api.post(f"/api/visits/{visit.pk}/notes/", note, format="json").status_code == 201
    assert api.post(f"/api/visits/{visit.pk}/notes/", note, format="json").status_code == 200
    assert len(api.get(f"/api/visits/{visit.pk}/notes/").json()) == 1
    assert api_for(org.rep2).get(f"/api/visits/{visit.pk}/").status_code == 404


def test_the_page_dates_a_fix_and_a_note_by_their_age_on_the_servers_clock(visit, org, client_for):
    rep = client_for(org.rep1)
    note_url = reverse("salesmgmt:visit_note", args=[visit.pk])
    typed = rep.post(
        note_url, {"text": "离线记录", "age_ms": str(3 * 3600 * 1000)}, HTTP_X_REQUESTED_WITH="fetch"
    )
    assert typed.status_code == 201
    note = VisitNote.objects.get()
    assert abs((timezone.now() - dt.timedelta(hours=3) - note.written_at).total_seconds()) < 60
    future = rep.post(note_url, {"text": "x", "age_ms": "-5000"}, HTTP_X_REQUESTED_WITH="fetch")
    assert future.status_code == 400
    url = reverse("salesmgmt:visit_check_in", args=[visit.pk])
    stale = rep.post(
        url,
        {"latitude": EAST[0], "longitude": EAST[1], "age_ms": str(2 * 86400 * 1000)},
        HTTP_X_REQUESTED_WITH="fetch",
    )
    assert stale.status_code == 400 and Visit.objects.get(pk=visit.pk).status == "planned"
    ok = rep.post(
        url, {"latitude": EAST[0], "longitude": EAST[1], "age_ms": "1500"}, HTTP_X_REQUESTED_WITH="fetch"
    )
    assert ok.status_code == 200
    visit.refresh_from_db()
    assert abs((timezone.now() - visit.checkin_at).total_seconds()) < 60


def test_a_hidden_visit_report_is_neither_shown_nor_written(visit, org, client_for):
    """A role with the report hidden does not see it on the visit page and cannot set it at check-out."""
    from kehu.core.exceptions import FieldNotWritable
    from kehu.core.models import FieldGrant

    Visit.objects.filter(pk=visit.pk).update(report="SECRET-REPORT-TEXT")
    for role in org.rep1.roles.all():
        FieldGrant.objects.create(role=role, model="salesmgmt.visit", field="report", access="hidden")
    page = client_for(org.rep1).get(visit.get_absolute_url())
    assert page.status_code == 200 and "SECRET-REPORT-TEXT" not in page.content.decode()
    visits.visit_check_in(visit=visit, latitude=EAST[0], longitude=EAST[1], by=org.rep1)
    visit.refresh_from_db()
    page = client_for(org.rep1).get(visit.get_absolute_url()).content.decode()
    assert 'id="checkout-report"' not in page and "SECRET-REPORT-TEXT" not in page
    rep = type(org.rep1).objects.get(pk=org.rep1.pk)  # rights are read once per user object: a fresh one
    with pytest.raises(FieldNotWritable):
        visits.visit_check_out(visit=visit, latitude=EAST[0], longitude=EAST[1], report="overwrite", by=rep)
    visit.refresh_from_db()
    assert visit.report == "SECRET-REPORT-TEXT" and visit.status == "in"
