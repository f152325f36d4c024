from kehu.core.access import Access

from . import sensitive
from .forms import SensitiveForm
from .models import PrivacyRequest


def privacy_panel(request, customer) -> dict | None:
    """The privacy panel of the 360° page: sensitive fields as the reader may see them, the customer's privacy
    requests and the button for a new one (privacy officers)."""
    access = Access.of(request.user)
    if access.external is not None:
        return None
    rows = sensitive.shown(instance=customer, user=request.user)
    can_requests = access.can("view", "privacy.privacyrequest")
    if not rows and not can_requests:
        return None
    return {
        "customer": customer,
        "sensitive": rows,
        "can_edit": access.can("change", "customers.customer"),
        "form": SensitiveForm(),
        "requests": list(PrivacyRequest.objects.filter(customer_id=customer.pk).order_by("-id")[:5])
        if can_requests
        else [],
        "can_request": access.can("add", "privacy.privacyrequest"),
    }
