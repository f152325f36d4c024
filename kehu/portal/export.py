"""Personal data download (PIPL art. 45 / GDPR art. 15 and 20): a ZIP of JSON and CSV files.

`export_personal_data(customer)` is the one place that gathers a customer's personal data. Today it holds what
the portal itself shows (profile, contacts, consent history, orders, installed products, tickets and their
public messages, invoices and payments); a later privacy app extends it by registering a section in
`SECTIONS` (callable(customer) -> list of flat dicts), and every caller (the portal page, a staff access
request) gets the extended export without change.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q

from kehu.customers.models import ConsentEvent, Customer


def _ids(customer: Customer) -> list[int]:
    return list(
        Customer.objects.filter(
            Q(pk=customer.pk) | Q(account_id=customer.pk), merged_into__isnull=True
        ).values_list("pk", flat=True)
    )


def _profile(customer: Customer) -> list[dict]:
    fields = ("id", "name", "kind", "phone", "email", "city", "job_title", "preferred_language", "created_at")
    return list(Customer.objects.filter(pk__in=_ids(customer)).values(*fields))


def _consent(customer: Customer) -> list[dict]:
    return list(
        ConsentEvent.objects.filter(customer_id__in=_ids(customer))
        .order_by("at", "id")
        .values("customer_id", "channel", "status", "method", "at")
    )


def _orders(customer: Customer) -> list[dict]:
    from kehu.sales.models import Order

    return list(
        Order.objects.filter(customer_id__in=_ids(customer))
        .order_by("order_date", "id")
        .values(
            "number",
            "order_date",
            "status",
            "currency",
            "net_amount",
            "tax_amount",
            "total",
            "shipping_address",
        )
    )


def _units(customer: Customer) -> list[dict]:
    from kehu.products.models import InstalledProduct

    return list(
        InstalledProduct.objects.filter(customer_id__in=_ids(customer))
        .order_by("id")
        .values("product__name", "serial_number", "purchase_date", "warranty_end", "location", "status")
    )


def _tickets(customer: Customer) -> list[dict]:
    from kehu.service.models import Ticket

    return list(
        Ticket.objects.filter(customer_id__in=_ids(customer))
        .order_by("id")
        .values("id", "subject", "status", "channel", "created_at", "closed_at")
    )


def _messages(customer: Customer) -> list[dict]:
    from kehu.service.models import TicketMessage

    from .scope import PUBLIC_MESSAGE_KINDS

    return list(
        TicketMessage.objects.filter(ticket__customer_id__in=_ids(customer), kind__in=PUBLIC_MESSAGE_KINDS)
        .order_by("id")
        .values("ticket_id", "kind", "from_name", "body", "created_at")
    )


def _invoices(customer: Customer) -> list[dict]:
    from kehu.sales.models import InvoiceRequest

    return list(
        InvoiceRequest.objects.filter(contract__customer_id__in=_ids(customer))
        .order_by("id")
        .values("invoice_number", "invoice_type", "title", "amount", "currency", "status", "issued_on")
    )


def _payments(customer: Customer) -> list[dict]:
    from kehu.sales.models import Payment

    return list(
        Payment.objects.filter(contract__customer_id__in=_ids(customer))
        .order_by("id")
        .values("amount", "currency", "received_on", "method")
    )


#: name -> callable(customer) -> rows; a later privacy app appends its sections here
SECTIONS: dict[str, Callable[[Customer], list[dict]]] = {
    "profile": _profile,
    "consent_history": _consent,
    "orders": _orders,
    "installed_products": _units,
    "tickets": _tickets,
    "ticket_messages": _messages,
    "invoices": _invoices,
    "payments": _payments,
}


def export_personal_data(customer: Customer) -> bytes:
    """The customer's personal data as a ZIP: one JSON file with every section and one CSV per section."""
    data = {name: section(customer) for name, section in SECTIONS.items()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "personal_data.json", json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        )
        for name, rows in data.items():
            out = io.StringIO()
            if rows:
                writer = csv.DictWriter(out, fieldnames=list(rows[0]))
                writer.writeheader()
                for row in rows:
                    writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
            archive.writestr(f"{name}.csv", "\ufeff" + out.getvalue())
    return buffer.getvalue()
