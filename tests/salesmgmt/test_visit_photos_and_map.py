"""Visit photos (optional; JPEG/PNG/WebP by content, size limit, at most five, nothing stored when refused,
scope) and the team-visits map: a plain grid without a tile server, Leaflet with the configured tiles and the
tile origin allowed in this page's CSP only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from kehu.core.models import AuditEntry
from kehu.salesmgmt.models import CustomerLocation, VisitPhoto
from kehu.salesmgmt.services import visits

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 32
PDF = b"%PDF-1.7\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.KEHU_VISIT_PHOTO_MAX_BYTES = 1024
    return tmp_path


@pytest.fixture
def visit(org, account):
    CustomerLocation.objects.create(
        customer=account, latitude=Decimal("31.230416"), longitude=Decimal("121.473701")
    )
    start = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=10)
    return visits.visit_plan(
        data={"customer": account, "subject": "拜访", "planned_start": start}, by=org.rep1
    )


def _stored(media) -> list:
    return [p for p in media.rglob("*") if p.is_file()]


@pytest.mark.parametrize(("content", "kind", "ext"), [(PNG, "image/png", "png"), (JPEG, "image/jpeg", "jpg"),
                                                      (WEBP, "image/webp", "webp")])  # fmt: skip
def test_a_photo_is_typed_by_its_content(visit, org, content, kind, ext, media):
    photo = visits.visit_photo_add(visit=visit, name="店面 shop.JPG", content=content, by=org.rep1)
    assert photo.content_type == kind and photo.name == f"店面 shop.{ext}" and photo.size == len(content)
    assert photo.uploaded_by == org.rep1
    assert AuditEntry.objects.filter(model="salesmgmt.visitphoto", object_id=str(photo.pk)).exists()


@pytest.mark.parametrize(("name", "content", "message"), [
    ("receipt.jpg", PDF, "Only JPEG, PNG or WebP"),  # a PDF renamed .jpg
    ("x.png", b"<script>alert(1)</script>", "Only JPEG, PNG or WebP"),
    ("big.png", PNG + b"\x00" * 2000, "too large"),
    ("empty.png", b"", "empty"),
])  # fmt: skip
def test_bad_photos_are_refused_and_nothing_is_stored(visit, org, name, content, message, media):
    with pytest.raises(ValidationError) as exc:
        visits.visit_photo_add(visit=visit, name=name, content=content, by=org.rep1)
    assert message in " ".join(exc.value.message_dict["photo"])
    assert not VisitPhoto.objects.exists() and _stored(media) == []


def test_at_most_five_photos_and_only_on_a_visit_one_may_change(visit, org, media):
    for i in range(visits.MAX_PHOTOS):
        visits.visit_photo_add(visit=visit, name=f"p{i}.png", content=PNG, by=org.rep1)
    with pytest.raises(ValidationError):
        visits.visit_photo_add(visit=visit, name="p6.png", content=PNG, by=org.rep1)
    assert VisitPhoto.objects.count() == visits.MAX_PHOTOS and len(_stored(media)) == visits.MAX_PHOTOS
    with pytest.raises(Http404):  # another region's rep does not see the visit
        visits.visit_photo_add(visit=visit, name="x.png", content=PNG, by=org.rep3)
    with pytest.raises((PermissionDenied, Http404)):  # the executive reads but may not change it
        visits.visit_photo_add(visit=visit, name="x.png", content=PNG, by=org.exec)


def test_page_upload_download_and_api(visit, org, client_for, api_for):
    rep = client_for(org.rep1)
    page = rep.get(visit.get_absolute_url()).content.decode()
    assert 'data-testid="photo-form"' in page and 'data-testid="no-photos"' in page
    url = reverse("salesmgmt:visit_photo", args=[visit.pk])
    bad = rep.post(url, {"photo": SimpleUploadedFile("fake.jpg", PDF)}, follow=True)
    assert "Only JPEG, PNG or WebP" in bad.content.decode() and not VisitPhoto.objects.exists()
    big = rep.post(url, {"photo": SimpleUploadedFile("big.png", PNG * 40)}, follow=True)
    assert "too large" in big.content.decode() and not VisitPhoto.objects.exists()
    assert rep.post(url, {}, follow=True).status_code == 200 and not VisitPhoto.objects.exists()
    assert rep.post(url, {"photo": SimpleUploadedFile("shelf.png", PNG)}).status_code == 302
    photo = VisitPhoto.objects.get()
    got = rep.get(reverse("salesmgmt:visit_photo_file", args=[photo.pk]))
    assert (
        got.status_code == 200
        and got["Content-Type"] == "image/png"
        and got["X-Content-Type-Options"] == "nosniff"
    )
    assert b"".join(got.streaming_content) == PNG
    assert (
        client_for(org.manager).get(reverse("salesmgmt:visit_photo_file", args=[photo.pk])).status_code == 200
    )
    assert client_for(org.rep3).get(reverse("salesmgmt:visit_photo_file", args=[photo.pk])).status_code == 404

    api = api_for(org.rep1)
    listed = api.get(f"/api/visits/{visit.pk}/photos/").json()
    assert [p["name"] for p in listed] == ["shelf.png"]
    assert api.post(f"/api/visits/{visit.pk}/photos/", {}, format="multipart").status_code == 400
    up = api.post(
        f"/api/visits/{visit.pk}/photos/", {"photo": SimpleUploadedFile("a.jpg", JPEG)}, format="multipart"
    )
    assert up.status_code == 201 and up.json()["content_type"] == "image/jpeg"
    bad = api.post(
        f"/api/visits/{visit.pk}/photos/", {"photo": SimpleUploadedFile("a.jpg", PDF)}, format="multipart"
    )
    assert bad.status_code == 400 and "photo" in bad.json()
    assert api_for(org.rep3).get(f"/api/visits/{visit.pk}/photos/").status_code == 404
    assert VisitPhoto.objects.count() == 2


def test_team_map_grid_without_tiles_leaflet_with_tiles(visit, org, client_for, settings):
    visits.visit_check_in(visit=visit, latitude="31.2305", longitude="121.4740", accuracy="10", by=org.rep1)
    manager = client_for(org.manager)
    settings.KEHU_MAP_TILES_URL = ""
    page = manager.get(reverse("salesmgmt:team_visits"))
    html = page.content.decode()
    assert 'data-testid="grid-map"' in html and "leaflet" not in html
    assert "tiles.example.cn" not in page["Content-Security-Policy"]

    settings.KEHU_MAP_TILES_URL = "https://tiles.example.cn/{z}/{x}/{y}.png"
    settings.KEHU_MAP_TILES_ATTRIBUTION = "© 示例地图"
    page = manager.get(reverse("salesmgmt:team_visits"))
    html = page.content.decode()
    assert 'data-testid="leaflet-map"' in html and "vendor/leaflet-1.9.4/leaflet.js" in html
    assert 'data-testid="grid-map"' in html  # kept in the page: shown again when no tile loads
    assert "img-src 'self' data: https://tiles.example.cn" in page["Content-Security-Policy"]
    assert "script-src 'self';" in page["Content-Security-Policy"]
    # other pages keep the site's policy
    assert "tiles.example.cn" not in manager.get(reverse("salesmgmt:my_visits"))["Content-Security-Policy"]
    settings.KEHU_MAP_TILES_URL = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    page = manager.get(reverse("salesmgmt:team_visits"))
    assert "https://*.tile.example.org" in page["Content-Security-Policy"]


def test_team_rows_in_one_pass_show_local_times_names_links_and_escape(org, account, client_for):
    from kehu.salesmgmt.models import VisitStatus

    account.name = "<b>客户</b> & Co"
    account.save(update_fields=["name"])
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(timezone.localdate(), dt.time(9, 30), tzinfo=tz)
    v = visits.visit_plan(data={"customer": account, "subject": "s", "planned_start": start}, by=org.rep1)
    type(v).objects.filter(pk=v.pk).update(status=VisitStatus.CHECKED_IN, checkin_at=start + dt.timedelta(minutes=5),
                                           checkin_distance=42)  # fmt: skip
    html = client_for(org.manager).get(reverse("salesmgmt:team_visits")).content.decode()
    row = html[html.index(f'data-testid="visit-{v.pk}"') :].split("</tr>")[0]
    assert "<td>09:30</td>" in row and f"<td>{org.rep1}</td>" in row and "Checked in 09:35" in row
    assert f'href="{v.get_absolute_url()}"' in row and "42 m" in row
    assert "&lt;b&gt;客户&lt;/b&gt; &amp; Co" in row and "<b>客户</b>" not in html
