"""The one personal-data export (PIPL art. 45 / GDPR art. 15 and 20): a ZIP of JSON, one CSV per section and
a readme.

Two audiences share it. The portal's own download (`audience="portal"`) holds what the portal shows the
customer (curated sections, public ticket messages only). A staff-run access request (`audience="staff"`)
adds every record of every app that points at the customer, discovered from the model graph
(kehu/privacy/graph.py) — so an app that lands later is exported without change — and the sensitive values
(decrypted: they are the subject's own data). Internal search keys and hashes are never exported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kehu.customers.models import ConsentEvent, Customer

from . import graph

#: columns that are derived keys or secrets, never exported
INTERNAL_FIELDS = {
    "search_text",
    "search_restricted",
    "search_vector",
    "search_restricted_vector",
    "name_key",
    "name_pinyin",
    "name_initials",
    "id_number_hash",
    "password",
    "version",
    "token",
    "token_hash",
    "totp_secret",
}


def customer_ids(customer: Customer) -> list[int]:
    """The customer and, for an organisation, its contacts (merged-away records excluded)."""
    return list(
        Customer.objects.filter(
            Q(pk=customer.pk) | Q(account_id=customer.pk), merged_into__isnull=True
        ).values_list("pk", flat=True)
    )


def _profile(customer: Customer) -> list[dict]:
    fields = ("id", "name", "kind", "phone", "email", "city", "job_title", "preferred_language", "created_at")
    return list(Customer.objects.filter(pk__in=customer_ids(customer)).values(*fields))


def _consent(customer: Customer) -> list[dict]:
    return list(
        ConsentEvent.objects.filter(customer_id__in=customer_ids(customer))
        .order_by("at", "id")
        .values("customer_id", "channel", "status", "method", "at")
    )


def _orders(customer: Customer) -> list[dict]:
    from kehu.sales.models import Order

    return list(
        Order.objects.filter(customer_id__in=customer_ids(customer))
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
        InstalledProduct.objects.filter(customer_id__in=customer_ids(customer))
        .order_by("id")
        .values("product__name", "serial_number", "purchase_date", "warranty_end", "location", "status")
    )


def _tickets(customer: Customer) -> list[dict]:
    from kehu.service.models import Ticket

    return list(
        Ticket.objects.filter(customer_id__in=customer_ids(customer))
        .order_by("id")
        .values("id", "subject", "status", "channel", "created_at", "closed_at")
    )


def _messages(customer: Customer) -> list[dict]:
    from kehu.portal.scope import PUBLIC_MESSAGE_KINDS
    from kehu.service.models import TicketMessage

    return list(
        TicketMessage.objects.filter(
            ticket__customer_id__in=customer_ids(customer), kind__in=PUBLIC_MESSAGE_KINDS
        )
        .order_by("id")
        .values("ticket_id", "kind", "from_name", "body", "created_at")
    )


def _invoices(customer: Customer) -> list[dict]:
    from kehu.sales.models import InvoiceRequest

    return list(
        InvoiceRequest.objects.filter(contract__customer_id__in=customer_ids(customer))
        .order_by("id")
        .values("invoice_number", "invoice_type", "title", "amount", "currency", "status", "issued_on")
    )


def _payments(customer: Customer) -> list[dict]:
    from kehu.sales.models import Payment

    return list(
        Payment.objects.filter(contract__customer_id__in=customer_ids(customer))
        .order_by("id")
        .values("amount", "currency", "received_on", "method")
    )


#: the portal's sections: name -> callable(customer) -> rows (what the portal shows the customer)
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


def _value(f: models.Field, obj) -> object:
    if isinstance(f, models.ForeignKey):
        return getattr(obj, f.attname)
    if isinstance(f, models.FileField):
        file = getattr(obj, f.attname)
        return getattr(file, "name", "") or ""
    if isinstance(f, models.BinaryField):
        return None
    value = getattr(obj, f.attname)
    if isinstance(value, dict | list):
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
    return value


def _record_sections(customer: Customer) -> dict[str, list[dict]]:
    """Every record of every app that points at the customer (the model graph), all fields but internal."""
    ids = customer_ids(customer)
    result: dict[str, list[dict]] = {"records.customers.customer": []}
    fields = [f for f in Customer._meta.concrete_fields if f.name not in INTERNAL_FIELDS]
    for obj in Customer._base_manager.filter(pk__in=ids).order_by("pk"):
        result["records.customers.customer"].append({f.name: _value(f, obj) for f in fields})
    from .models import SubjectKey  # noqa: F401  (the privacy app's own tables hold no readable personal data)

    for holder in graph.holders():
        if holder.model._meta.app_label == "privacy":
            continue
        fields = [f for f in holder.model._meta.concrete_fields if f.name not in INTERNAL_FIELDS]
        rows = [
            {f.name: _value(f, obj) for f in fields}
            for obj in graph.rows_of(holder, ids).order_by("pk")[:100_000]
        ]
        if rows:
            name = f"records.{holder.label}" + ("" if holder.path in {"customer"} else f".{holder.path}")
            result.setdefault(name, []).extend(rows)
    return result


def _sensitive_section(customer: Customer) -> list[dict]:
    from . import sensitive

    return sensitive.values_for_export(customer_ids(customer))


def collect(customer: Customer, *, audience: str = "portal") -> dict[str, list[dict]]:
    data = {name: section(customer) for name, section in SECTIONS.items()}
    if audience == "staff":
        data["sensitive_values"] = _sensitive_section(customer)
        data.update(_record_sections(customer))
    return data


README = """Personal data held by Kehu about customer #{id}
Exported {at} ({audience}).

personal_data.json  every section below in one JSON document
<section>.csv       one CSV per section (UTF-8 with BOM, opens in Excel)

Sections:
{sections}

profile, consent_history, orders, installed_products, tickets, ticket_messages, invoices and payments are
what the customer portal shows. {staff_note}
个人信息副本：personal_data.json 含全部内容；每个 CSV 文件对应一个部分。
"""

STAFF_NOTE = (
    "records.<app>.<model> sections hold every record of every application that refers to the customer, "
    "with all fields except internal search keys; sensitive_values holds the encrypted fields, decrypted."
)


def export_personal_data(customer: Customer, *, audience: str = "portal") -> bytes:
    """The customer's personal data as a ZIP: one JSON file with every section, one CSV per section, a readme."""
    data = collect(customer, audience=audience)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "personal_data.json", json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        )
        for name, rows in data.items():
            out = io.StringIO()
            if rows:
                fieldnames = list(dict.fromkeys(k for row in rows for k in row))
                writer = csv.DictWriter(out, fieldnames=fieldnames)
                writer.writeheader()
                for row in rows:
                    writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
            archive.writestr(f"{name}.csv", "\ufeff" + out.getvalue())
        archive.writestr(
            "README.txt",
            README.format(
                id=customer.pk,
                at=timezone.localtime(timezone.now()).isoformat(timespec="seconds")
                if isinstance(timezone.now(), dt.datetime)
                else "",
                audience=audience,
                sections="\n".join(f"- {name}: {len(rows)} rows" for name, rows in data.items()),
                staff_note=STAFF_NOTE if audience == "staff" else "",
            ),
        )
    return buffer.getvalue()
