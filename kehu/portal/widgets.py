from __future__ import annotations

from django.db.models import Q

from kehu.core.access import Access

from .forms import InviteForm
from .models import ChangeRequest, PortalUser


def portal_panel(request, customer) -> dict | None:
    """The portal panel of the 360° page: the customer's portal users, pending change requests of the account
    and its contacts, and the invitation form for staff who may change the customer (two queries)."""
    access = Access.of(request.user)
    if access.external is not None or not access.can("view", "customers.customer"):
        return None
    account = customer.account if customer.account_id else customer
    users = list(PortalUser.objects.filter(customer=account).select_related("user").order_by("user__email"))
    pending = list(
        ChangeRequest.objects.filter(
            Q(customer=account) | Q(customer__account=account), status=ChangeRequest.Status.PENDING
        ).select_related("customer")
    )
    return {
        "customer": account,
        "users": users,
        "pending": pending,
        "can_invite": access.can("change", "customers.customer"),
        "form": InviteForm(),
    }
