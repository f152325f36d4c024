"""Staff side of the portal (under /portal-admin/, unreachable for portal users): invite from the customer's
page, end access, decide change requests, link a partner's customers."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.selectors import get_visible
from kehu.customers.models import Customer

from . import services
from .forms import InviteForm
from .models import ChangeRequest, PortalUser

app_name = "portal_staff"


def _back(customer):
    return redirect("customers:detail", customer.pk)


@require_POST
def invite(request, customer_pk):
    customer = get_visible(Customer, user=request.user, pk=customer_pk)
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return _back(customer)
    try:
        services.portal_user_invite(customer=customer, by=request.user, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]})
    return _back(customer)


@require_POST
def resend(request, pk):
    profile = get_object_or_404(PortalUser.objects.select_related("user"), pk=pk)
    customer = get_visible(Customer, user=request.user, pk=profile.customer_id)
    if not profile.user.is_active and profile.activated_at is None:
        services.invitation_send(profile.pk)
        messages.success(request, _("Invitation sent again."))
    return _back(customer)


@require_POST
def deactivate(request, pk):
    profile = get_object_or_404(PortalUser.objects.select_related("user", "customer"), pk=pk)
    customer = get_visible(Customer, user=request.user, pk=profile.customer_id)
    services.portal_user_deactivate(profile=profile, by=request.user)
    messages.success(request, _("Portal access ended for %(email)s.") % {"email": profile.user.email})
    return _back(customer)


@require_POST
def decide(request, pk):
    change = get_object_or_404(ChangeRequest, pk=pk)
    customer = get_visible(Customer, user=request.user, pk=change.customer_id)
    try:
        services.change_request_decide(
            request=change, approve=request.POST.get("approve") == "1", by=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return _back(customer.account or customer)


@require_POST
def link_partner(request, customer_pk):
    partner = get_visible(Customer, user=request.user, pk=customer_pk)
    try:
        other = get_visible(Customer, user=request.user, pk=int(request.POST.get("customer", "0")))
    except ValueError:
        messages.error(request, _("Choose a customer."))
        return _back(partner)
    services.partner_customer_link(partner=partner, customer=other, by=request.user)
    messages.success(
        request, _("%(customer)s is now served through this partner.") % {"customer": other.name}
    )
    return _back(partner)


urlpatterns = [
    path("customers/<int:customer_pk>/invite/", invite, name="invite"),
    path("customers/<int:customer_pk>/partner-customers/", link_partner, name="link_partner"),
    path("users/<int:pk>/resend/", resend, name="resend"),
    path("users/<int:pk>/deactivate/", deactivate, name="deactivate"),
    path("change-requests/<int:pk>/", decide, name="decide"),
]
