"""Public campaign pages (no sign-in, under /public/m/): the open pixel, tracked links and the unsubscribe
landing page with RFC 8058 one-click POST. Each checks the message token (an HMAC of the message id, see
emails.py); an unknown token is a 404.

CSRF is off for the unsubscribe view on purpose: mail providers POST ``List-Unsubscribe=One-Click`` without a
session (RFC 8058), and the only thing the token allows is withdrawing that customer's own email consent."""

from __future__ import annotations

import base64

from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from kehu.customers.models import ConsentMethod, ConsentStatus, Customer
from kehu.customers.services import consent_record

from . import emails
from .models import Message, MessageStatus

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _message(token: str) -> Message:
    pk = emails.message_id_from(token)
    message = (
        Message.objects.filter(pk=pk, status=MessageStatus.SENT).select_related("step", "campaign").first()
        if pk
        else None
    )
    if message is None:
        raise Http404
    return message


@require_http_methods(["GET", "HEAD"])
def open_pixel(request, token: str):
    message = _message(token)
    Message.objects.filter(pk=message.pk, opened_at__isnull=True).update(opened_at=timezone.now())
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "HEAD"])
def click(request, token: str, index: int):
    message = _message(token)
    links = emails.links_of(message.step.body)
    if index >= len(links):
        raise Http404
    now = timezone.now()
    Message.objects.filter(pk=message.pk).filter(
        Q(clicked_at__isnull=True) | Q(opened_at__isnull=True)
    ).update(clicked_at=message.clicked_at or now, opened_at=message.opened_at or now)
    return HttpResponseRedirect(links[index])  # a link of the campaign's own content, never from the request


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET: the landing page with a button (a link scanner's GET changes nothing). POST: the withdrawal —
    the page's button or the mail client's one-click ``List-Unsubscribe=One-Click`` (RFC 8058)."""
    message = _message(token)
    customer = Customer.objects.filter(pk=message.customer_id).first()
    if customer is None:
        raise Http404
    done = (customer.consent or {}).get("email", {}).get("status") == ConsentStatus.WITHDRAWN
    if request.method == "POST" and not done:
        with transaction.atomic():
            consent_record(
                customer=customer,
                channel="email",
                status=ConsentStatus.WITHDRAWN,
                method=ConsentMethod.UNSUBSCRIBE,
                by=None,
                evidence=f"campaign {message.campaign_id}, message {message.pk}"
                + (" (one-click)" if request.POST.get("List-Unsubscribe") == "One-Click" else ""),
            )
            Message.objects.filter(pk=message.pk).update(unsubscribed_at=timezone.now())
        done = True
    return render(request, "marketing/unsubscribe.html", {"done": done, "token": token})
