"""Visit pages: my day (phone first), a visit with check-in/out by the browser's geolocation and notes kept
offline until sent (static/salesmgmt/visits.js), planning, and the manager's team visits (list and a map of
points on a plain grid: no tile server is assumed). Thin: selectors read, services write."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.access import Access
from kehu.core.exceptions import StaleRecordError
from kehu.ui.generic import RecordFormView

from . import selectors
from .models import Visit, VisitStatus
from .services import visits


class VisitForm(forms.ModelForm):
    class Meta:
        model = Visit
        fields = ["customer", "opportunity", "subject", "planned_start", "planned_minutes", "owner"]


class VisitEdit(RecordFormView):
    model = Visit
    form_class = VisitForm
    select_related = ("customer",)

    def save(self, form, obj):
        data = self.form_data(form)
        if obj is None:
            return visits.visit_plan(data=data, by=self.request.user)
        return super().save(form, obj)


def _wants_json(request) -> bool:
    return request.headers.get("X-Requested-With") == "fetch" or "application/json" in request.headers.get(
        "Accept", ""
    )


def _errors(exc) -> str:
    if isinstance(exc, StaleRecordError):
        return exc.message
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc) or _("Not allowed.")


def _day(request) -> dt.date:
    raw = request.GET.get("day", "")
    try:
        return dt.date.fromisoformat(raw) if raw else timezone.localdate()
    except ValueError:
        return timezone.localdate()


def my_day(request):
    if not Access.of(request.user).can("view", Visit):
        raise PermissionDenied(_("You do not have access to this page."))
    day = _day(request)
    items = list(selectors.visits_of_day(user=request.user, day=day, owner=request.user))
    return render(
        request,
        "salesmgmt/my_visits.html",
        {
            "title": _("My visits"),
            "day": day,
            "visits": items,
            "prev": day - dt.timedelta(days=1),
            "next": day + dt.timedelta(days=1),
            "can_add": Access.of(request.user).can("add", Visit),
        },
    )


def visit_detail(request, pk):
    visit = selectors.visit_get(user=request.user, pk=pk)
    access = Access.of(request.user)
    can_write = access.can("change", Visit) and access.can_write_record(visit)
    location = selectors.customer_locations([visit.customer_id]).get(visit.customer_id)
    return render(
        request,
        "salesmgmt/visit_detail.html",
        {
            "title": str(visit),
            "visit": visit,
            "notes": list(selectors.visit_notes(user=request.user, visit=visit)),
            "photos": list(visit.photos.all()),
            "photo_name_hidden": "name" in access.hidden_fields("salesmgmt.visitphoto"),
            "max_photos": visits.MAX_PHOTOS,
            "can_write": can_write,
            "location": location,
            "statuses": VisitStatus,
            "report_hidden": "report" in access.hidden_fields(Visit),
        },
    )


def _fix_action(request, pk, action):
    visit = selectors.visit_get(user=request.user, pk=pk)
    data = request.POST
    try:
        at = data.get("at") or visits.at_from_age(data.get("age_ms"), "at")
        if action == "out" and not data.get("at") and visit.checkin_at and at and at < visit.checkin_at:
            at = timezone.now()  # the phone reused the check-in's cached fix: the check-out is now
        if action == "in":
            done = visits.visit_check_in(visit=visit, latitude=data.get("latitude"), longitude=data.get("longitude"),
                                         accuracy=data.get("accuracy"), at=at, by=request.user)  # fmt: skip
            text = _("Checked in.")
        else:
            done = visits.visit_check_out(visit=visit, latitude=data.get("latitude"), longitude=data.get("longitude"),
                                          accuracy=data.get("accuracy"), at=at,
                                          report=data.get("report") or None, by=request.user)  # fmt: skip
            text = _("Checked out.")
    except (ValidationError, StaleRecordError) as exc:
        if _wants_json(request):
            return JsonResponse({"ok": False, "error": _errors(exc)}, status=400)
        messages.error(request, _errors(exc))
        return redirect(visit.get_absolute_url())
    if _wants_json(request):
        return JsonResponse(
            {"ok": True, "message": str(text), "status": done.status, "distance": done.checkin_distance}
        )
    messages.success(request, text)
    return redirect(visit.get_absolute_url())


@require_POST
def visit_check_in(request, pk):
    return _fix_action(request, pk, "in")


@require_POST
def visit_check_out(request, pk):
    return _fix_action(request, pk, "out")


@require_POST
def visit_note(request, pk):
    visit = selectors.visit_get(user=request.user, pk=pk)
    try:
        note, created = visits.visit_note_add(
            visit=visit,
            text=request.POST.get("text", ""),
            client_id=request.POST.get("client_id") or None,
            written_at=request.POST.get("written_at")
            or visits.at_from_age(request.POST.get("age_ms"), "written_at"),
            by=request.user,
        )
    except ValidationError as exc:
        if _wants_json(request):
            return JsonResponse({"ok": False, "error": _errors(exc)}, status=400)
        messages.error(request, _errors(exc))
        return redirect(visit.get_absolute_url())
    if _wants_json(request):
        return JsonResponse({"ok": True, "id": note.pk, "created": created}, status=201 if created else 200)
    messages.success(request, _("Note saved."))
    return redirect(visit.get_absolute_url())


@require_POST
def visit_photo(request, pk):
    """An optional photo of the visit (phone camera or file): type and size checked by the service."""
    visit = selectors.visit_get(user=request.user, pk=pk)
    upload = request.FILES.get("photo")
    try:
        if upload is None:
            raise ValidationError({"photo": _("Choose a photo.")})
        if upload.size > visits.photo_max_bytes():  # refused before reading it into memory
            visits.photo_check(name=upload.name, content=b"x" * (visits.photo_max_bytes() + 1))
        visits.visit_photo_add(visit=visit, name=upload.name, content=upload.read(), by=request.user)
    except (ValidationError, PermissionDenied) as exc:
        if _wants_json(request):
            return JsonResponse({"ok": False, "error": _errors(exc)}, status=400)
        messages.error(request, _errors(exc))
        return redirect(visit.get_absolute_url())
    if _wants_json(request):
        return JsonResponse({"ok": True}, status=201)
    messages.success(request, _("Photo saved."))
    return redirect(visit.get_absolute_url())


def visit_photo_file(request, pk):
    """A visit photo, for whoever may see the visit (inline; its type is the one checked at upload)."""
    from django.http import FileResponse, Http404

    photo = selectors.visit_photo_get(user=request.user, pk=pk)
    if not photo.file:
        raise Http404
    response = FileResponse(photo.file.open("rb"), content_type=photo.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def visits_service_worker(request):
    """The visits' service worker, served under the visits' path so its scope covers the visit pages."""
    from django.conf import settings
    from django.http import HttpResponse
    from django.template.loader import render_to_string
    from django.urls import reverse

    scope = reverse("salesmgmt:my_visits")
    body = render_to_string("salesmgmt/visits_sw.js", {"scope": scope, "static_url": settings.STATIC_URL})
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = scope
    return response


@require_POST
def visit_report(request, pk):
    visit = selectors.visit_get(user=request.user, pk=pk)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = None
    try:
        visits.visit_report_save(
            visit=visit, report=request.POST.get("report", ""), by=request.user, expected_version=version
        )
        messages.success(request, _("Saved."))
    except (ValidationError, StaleRecordError) as exc:
        messages.error(request, _errors(exc))
    return redirect(visit.get_absolute_url())


MAP_W, MAP_H, PAD = 1000, 600, 40


def map_points(items, locations) -> list[dict]:
    """Each visit's point (its check-in, else the customer's location) scaled onto a plain grid."""
    raw = []
    for v in items:
        loc = locations.get(v.customer_id)
        if v.checkin_latitude is not None:
            lat, lon = float(v.checkin_latitude), float(v.checkin_longitude)
        elif loc is not None:
            lat, lon = float(loc.latitude), float(loc.longitude)
        else:
            continue
        raw.append((v, lat, lon))
    if not raw:
        return []
    lats, lons = [r[1] for r in raw], [r[2] for r in raw]
    span_lat, span_lon = (max(lats) - min(lats)) or 0.01, (max(lons) - min(lons)) or 0.01
    points = []
    for v, lat, lon in raw:
        x = PAD + (lon - min(lons)) / span_lon * (MAP_W - 2 * PAD)
        y = PAD + (max(lats) - lat) / span_lat * (MAP_H - 2 * PAD)
        points.append({"visit": v, "x": round(x), "y": round(y), "lat": lat, "lon": lon})
    return points


def map_tiles() -> dict | None:
    """The configured tile server (settings.KEHU_MAP_TILES_URL) or None: the plain grid."""
    from django.conf import settings

    url = getattr(settings, "KEHU_MAP_TILES_URL", "") or ""
    if not url:
        return None
    return {
        "url": url,
        "attribution": getattr(settings, "KEHU_MAP_TILES_ATTRIBUTION", ""),
        "max_zoom": int(getattr(settings, "KEHU_MAP_MAX_ZOOM", 18)),
    }


def _csp_with_tiles(tiles: dict) -> str:
    """The site's policy with the tile server's origin added to img-src (this page only)."""
    from urllib.parse import urlsplit

    from django.conf import settings

    policy = dict(settings.KEHU_CSP)
    parts = urlsplit(tiles["url"])
    if parts.scheme in ("http", "https") and parts.netloc:
        origin = f"{parts.scheme}://{parts.netloc}".replace("{", "").replace("}", "")
        if "{s}" in tiles["url"]:  # Leaflet's subdomain placeholder: a, b, c
            origin = f"{parts.scheme}://*.{parts.netloc.split('.', 1)[-1]}"
        policy["img-src"] = f"{policy.get('img-src', '')} {origin}".strip()
    return "; ".join(f"{k} {v}" for k, v in policy.items())


#: what the team-visits page shows (the customer's and the user's wide rows are not read)
TEAM_COLUMNS = (
    "id", "planned_start", "status", "checkin_at", "checkin_distance", "checkin_latitude", "checkin_longitude",
    "customer_id", "owner_id", "customer__name", "owner__username", "owner__first_name", "owner__last_name",
    "owner__display_name",
)  # fmt: skip


def team_visits(request):
    """The visits of the day that the manager may see (the team's), as a list and as points: on a Leaflet
    map when a tile server is configured, else (and whenever the tiles fail to load) on a plain grid."""
    if not Access.of(request.user).can("view", Visit):
        raise PermissionDenied(_("You do not have access to this page."))
    day = _day(request)
    items = list(selectors.visits_of_day(user=request.user, day=day).only(*TEAM_COLUMNS))
    locations = selectors.customer_locations({v.customer_id for v in items})
    counts = dict.fromkeys(VisitStatus.values, 0)
    for v in items:
        counts[v.status] += 1
    points = map_points(items, locations)
    tiles = map_tiles()
    response = render(
        request,
        "salesmgmt/team_visits.html",
        {
            "title": _("Team visits"),
            "day": day,
            "visits": items,
            "points": points,
            "tiles": tiles,
            "leaflet_points": [
                {
                    "lat": p["lat"],
                    "lon": p["lon"],
                    "status": p["visit"].status,
                    "url": p["visit"].get_absolute_url(),
                    "label": f"{p['visit'].owner} · {p['visit'].customer}",
                }
                for p in points
            ]
            if tiles
            else None,  # fmt: skip
            "map_w": MAP_W,
            "map_h": MAP_H,
            "counts": counts,
            "prev": day - dt.timedelta(days=1),
            "next": day + dt.timedelta(days=1),
        },
    )
    if tiles:
        response["Content-Security-Policy"] = _csp_with_tiles(tiles)
    return response
