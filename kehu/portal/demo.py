"""Demo portal users (called by seed_demo after sales and service): a customer user of the demo customer with
the most orders, and a partner user of a distributor serving three customers. Password: the demo password."""

from __future__ import annotations

from django.db.models import Count

from kehu.core.demo import DEMO_PASSWORD
from kehu.core.models import User
from kehu.customers.models import Customer, Kind
from kehu.customers.services import customer_create, customer_update

from .models import PartnerLink, PortalKind, PortalUser

CUSTOMER_LOGIN = "portal@kehu.localhost"
PARTNER_LOGIN = "partner@kehu.localhost"


def _portal_user(customer: Customer, email: str, name: str, kind: str, admin: User) -> PortalUser:
    user = User(username=email, email=email, display_name=name, is_active=True)
    user.set_password(DEMO_PASSWORD)
    user.save()
    contact = None
    if customer.kind == Kind.ORGANIZATION:
        contact = customer_create(
            data={
                "kind": Kind.PERSON,
                "name": name,
                "account": customer,
                "email": email,
                "owner": customer.owner,
            },
            by=admin,
        )
    from django.utils import timezone

    return PortalUser.objects.create(
        user=user,
        customer=customer,
        contact=contact,
        kind=kind,
        invited_by=admin,
        activated_at=timezone.now(),
    )


def seed(ctx) -> str:
    admin = ctx["org"].users["admin"]
    organisations = Customer.objects.filter(kind=Kind.ORGANIZATION, merged_into__isnull=True)
    buyer = (
        organisations.annotate(n=Count("orders")).filter(n__gt=0).order_by("-n", "pk").first()
        or organisations.order_by("pk").first()
    )
    if buyer is None:
        return "no customer for the portal"
    _portal_user(buyer, CUSTOMER_LOGIN, "李娜 Li Na", PortalKind.CUSTOMER, admin)
    partner = organisations.exclude(pk=buyer.pk).order_by("pk").first()
    if partner is None:
        return f"customer portal user for {buyer.name}"
    if partner.customer_type != "distributor":
        customer_update(
            customer=partner, data={"customer_type": "distributor"}, by=admin, expected_version=None
        )
    _portal_user(partner, PARTNER_LOGIN, "陈伟 Chen Wei", PortalKind.PARTNER, admin)
    served = (
        organisations.exclude(pk__in=[buyer.pk, partner.pk])
        .annotate(n=Count("orders"))
        .order_by("-n", "pk")[:3]
    )
    PartnerLink.objects.bulk_create([PartnerLink(partner=partner, customer=c) for c in served])
    return f"portal users {CUSTOMER_LOGIN} ({buyer.name}) and {PARTNER_LOGIN} ({partner.name})"
