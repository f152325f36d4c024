"""The public, embeddable lead form: spam protection (honeypot + per-IP rate limit) and capture.

The rate limit counts hits per form and hashed IP over the last hour in the database (WebFormHit), so it
holds across several web processes; the count and the new hit are written under the form's row lock."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Lead, LeadSource, LeadWebForm, WebFormHit
from .leads import lead_capture_system

HONEYPOT_FIELD = "website"  # hidden from people by CSS; bots fill it in
FIELDS = ("company", "name", "job_title", "phone", "email", "city", "message")
WINDOW = dt.timedelta(hours=1)


@dataclass
class Submission:
    lead: Lead | None
    accepted: bool
    limited: bool = False
    spam: bool = False


def _ip_hash(ip: str) -> str:
    return hashlib.sha256(f"{settings.SECRET_KEY}:{ip}".encode()).hexdigest()


def web_form_submit(*, form: LeadWebForm, data: dict, ip: str) -> Submission:
    """Turn a public submission into a lead. A filled honeypot is answered like a success but stores nothing
    (so bots learn nothing); more than `form.rate_limit` submissions from one IP in an hour are refused
    (`limited`). Invalid fields raise ValidationError (field-level messages for the form). The lead is
    assigned by the rules, else to the form's default owner, with the form's region, product line and
    campaign."""
    if (data.get(HONEYPOT_FIELD) or "").strip():
        return Submission(lead=None, accepted=True, spam=True)
    now = timezone.now()
    key = _ip_hash(ip or "")
    with transaction.atomic():
        LeadWebForm.objects.select_for_update().filter(pk=form.pk).first()
        WebFormHit.objects.filter(form=form, at__lt=now - WINDOW).delete()
        if WebFormHit.objects.filter(form=form, ip_hash=key, at__gte=now - WINDOW).count() >= form.rate_limit:
            return Submission(lead=None, accepted=False, limited=True)
        WebFormHit.objects.create(form=form, ip_hash=key, at=now)
    values = {name: (data.get(name) or "").strip() for name in FIELDS}
    kind = "organization" if values["company"] else "person"
    with transaction.atomic():
        lead = lead_capture_system(
            data={
                "kind": kind,
                "company": values["company"],
                "name": values["name"],
                "job_title": values["job_title"],
                "phone": values["phone"],
                "email": values["email"],
                "city": values["city"],
                "message": values["message"][:4000],
                "region": form.region,
                "product_line": form.product_line,
                "campaign_ref": form.campaign_ref,
                "web_form": form,
            },
            source=LeadSource.WEB_FORM,
            note=_("web form %(name)s") % {"name": form.name},
            fallback_owner=form.default_owner,
        )
        LeadWebForm.objects.filter(pk=form.pk).update(submissions=F("submissions") + 1)
    return Submission(lead=lead, accepted=True)
