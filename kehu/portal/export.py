"""Personal data download of the portal: the one export implementation lives in the privacy app
(kehu/privacy/export.py); the portal uses it with the portal audience (what the portal shows)."""

from __future__ import annotations

from kehu.customers.models import Customer
from kehu.privacy.export import SECTIONS
from kehu.privacy.export import export_personal_data as _export

__all__ = ["SECTIONS", "export_personal_data"]


def export_personal_data(customer: Customer) -> bytes:
    return _export(customer, audience="portal")
