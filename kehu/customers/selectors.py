"""Customer reads, scoped to what the user may see."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from kehu.core.selectors import get_visible, scoped

from .models import ConsentEvent, Customer, LifecycleChange


def customer_list(*, user) -> QuerySet:
    """Live (not merged-away) customers the user may see."""
    return scoped(Customer, user=user).filter(merged_into__isnull=True)


def customer_list_with_merged(*, user) -> QuerySet:
    """Customers the user may see, including those merged into another record (their page and the undo of
    their merge stay reachable)."""
    return scoped(Customer, user=user)


def customer_360(*, user, pk) -> Customer:
    qs = scoped(Customer, user=user).select_related("owner", "account", "parent", "merged_into")
    return get_visible(qs, user=user, pk=pk)


def customer_profile(*, customer: Customer, user) -> dict:
    """Child records of the 360° page in a constant number of queries."""
    contacts = (
        list(
            customer_list(user=user)
            .filter(account=customer)
            .only("id", "name", "job_title", "phone", "email")[:50]
        )
        if customer.is_organization
        else []
    )
    branches = (
        list(customer_list(user=user).filter(parent=customer).only("id", "name", "city")[:50])
        if customer.is_organization
        else []
    )
    return {
        "phones": list(customer.phones.all()),
        "emails": list(customer.emails.all()),
        "addresses": list(customer.addresses.all()),
        "social_ids": list(customer.social_ids.all()),
        "consent_events": list(
            ConsentEvent.objects.filter(customer=customer).select_related("recorded_by")[:20]
        ),
        "lifecycle": list(LifecycleChange.objects.filter(customer=customer).select_related("by")[:20]),
        "contacts": contacts,
        "branches": branches,
        "tags": list(customer.tags.all()),
    }


__all__ = ["Prefetch", "customer_list", "customer_360", "customer_profile"]
