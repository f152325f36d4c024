"""Portal reads. Every one starts from the platform's scoped selector (`kehu.core.selectors.scoped`), which for a
portal user applies the portal scope (scope.py): no read here filters by customer itself, so isolation cannot
be forgotten by a view. An id outside the scope is a 404, the same as a missing one."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from kehu.core.selectors import get_visible, scoped
from kehu.customers.models import ConsentEvent, Customer
from kehu.products.models import InstalledProduct
from kehu.sales.models import Contract, InvoiceRequest, Lead, Order, OrderLine, Payment
from kehu.service.models import Article, Ticket, TicketAttachment, TicketMessage, WorkOrder


def customers(*, user) -> QuerySet[Customer]:
    return scoped(Customer, user=user).filter(merged_into__isnull=True)


def contacts_of(*, user, account: Customer) -> QuerySet[Customer]:
    return customers(user=user).filter(account=account).order_by("name")


def orders(*, user) -> QuerySet[Order]:
    return scoped(Order, user=user).select_related("customer").order_by("-order_date", "-id")


def order(*, user, pk) -> Order:
    return get_visible(Order.objects.select_related("customer"), user=user, pk=pk)


def order_lines(*, user, order: Order) -> list[OrderLine]:
    return list(
        scoped(OrderLine, user=user).filter(order=order).select_related("product").order_by("line_no", "id")
    )


def units(*, user) -> QuerySet[InstalledProduct]:
    return scoped(InstalledProduct, user=user).select_related("product").order_by("-purchase_date", "-id")


def unit(*, user, pk) -> InstalledProduct:
    return get_visible(InstalledProduct.objects.select_related("product"), user=user, pk=pk)


def unit_history(*, user, unit: InstalledProduct) -> tuple[list[Ticket], list[WorkOrder]]:
    """The unit's service history: its tickets and work orders."""
    return (
        list(tickets(user=user).filter(installed_product=unit)[:50]),
        list(scoped(WorkOrder, user=user).filter(installed_product=unit).order_by("-id")[:50]),
    )


def contracts(*, user) -> QuerySet[Contract]:
    return scoped(Contract, user=user).order_by("-id")


def invoices(*, user) -> QuerySet[InvoiceRequest]:
    return scoped(InvoiceRequest, user=user).select_related("contract").order_by("-id")


def payments(*, user) -> QuerySet[Payment]:
    return scoped(Payment, user=user).select_related("contract").order_by("-received_on", "-id")


def tickets(*, user) -> QuerySet[Ticket]:
    return scoped(Ticket, user=user).order_by("-created_at", "-id")


def ticket(*, user, pk) -> Ticket:
    return get_visible(Ticket.objects.select_related("installed_product"), user=user, pk=pk)


def ticket_thread(*, user, ticket: Ticket) -> list[TicketMessage]:
    """The messages and attachments of a ticket that the customer may read (no internal or system notes)."""
    attachments = scoped(TicketAttachment, user=user).order_by("id")
    return list(
        scoped(TicketMessage, user=user)
        .filter(ticket=ticket)
        .order_by("created_at", "id")
        .prefetch_related(Prefetch("attachments", queryset=attachments))
    )


def attachment(*, user, pk) -> TicketAttachment:
    return get_visible(TicketAttachment, user=user, pk=pk)


def articles(*, user, q: str = "") -> QuerySet[Article]:
    qs = scoped(Article, user=user).order_by("-published_at", "-id")
    if q:
        qs = qs.filter(title__icontains=q) | qs.filter(body__icontains=q)
    return qs


def article(*, user, pk) -> Article:
    return get_visible(Article, user=user, pk=pk)


def consent_history(*, user, person: Customer) -> QuerySet[ConsentEvent]:
    return scoped(ConsentEvent, user=user).filter(customer=person).order_by("-at", "-id")


def leads(*, user) -> QuerySet[Lead]:
    return scoped(Lead, user=user).select_related("partner_registration").order_by("-created_at", "-id")
