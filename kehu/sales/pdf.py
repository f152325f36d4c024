"""The printable quote (WeasyPrint). Chinese text needs a CJK font on the machine (fonts-noto-cjk, installed
by scripts/system-deps.sh); WeasyPrint embeds the subset it uses. Field rights hold here too: a field hidden
from the user's roles (on the quote, its lines or the customer) is never printed."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import translation

from kehu.core.access import Access

from .models import Quote, QuoteLine

HEADER_FIELDS = ["number", "revision", "title", "issue_date", "valid_until", "currency", "terms", "owner"]
TOTAL_FIELDS = ["gross_amount", "discount_amount", "net_amount", "tax_amount", "total"]
LINE_FIELDS = [
    "description",
    "quantity",
    "unit",
    "unit_price",
    "discount_percent",
    "tax_rate",
    "net_amount",
    "total",
]
CUSTOMER_FIELDS = ["name", "tax_id"]
# relative widths of the printed line columns ("#" first): the lines table has a fixed layout, so WeasyPrint
# does not measure every cell's preferred width before laying it out (~20 % of a quote's CPU time); the widths
# are shared among the columns the user may see
LINE_WEIGHTS = {
    "#": 4,
    "description": 30,
    "quantity": 9,
    "unit": 7,
    "unit_price": 12,
    "discount_percent": 8,
    "tax_rate": 7,
    "net_amount": 12,
    "total": 12,
}


def column_widths(names: list[str]) -> list[str]:
    """CSS percentages (two decimals) of the printed columns `names`, proportional to LINE_WEIGHTS."""
    total = sum(LINE_WEIGHTS[n] for n in names)
    return [f"{LINE_WEIGHTS[n] * 100 / total:.2f}%" for n in names]


def quote_context(*, quote: Quote, user) -> dict:
    access = Access.of(user)
    hidden = access.hidden_fields(Quote)
    hidden_lines = access.hidden_fields(QuoteLine)
    from kehu.customers.models import Customer

    hidden_customer = access.hidden_fields(Customer)
    fields = {name: getattr(quote, name) for name in HEADER_FIELDS + TOTAL_FIELDS if name not in hidden}
    line_fields = [name for name in LINE_FIELDS if name not in hidden_lines]
    lines = [
        [(name, getattr(line, name)) for name in line_fields]
        for line in QuoteLine.objects.filter(quote=quote).select_related("product").order_by("position", "id")
    ]
    customer = (
        {name: getattr(quote.customer, name) for name in CUSTOMER_FIELDS if name not in hidden_customer}
        if "customer" not in hidden
        else {}
    )
    labels = {name: QuoteLine._meta.get_field(name).verbose_name for name in line_fields}
    return {
        "quote": quote,
        "fields": fields,
        "customer": customer,
        "contact": quote.contact if "contact" not in hidden else None,
        "line_fields": line_fields,
        "line_labels": labels,
        "line_widths": column_widths(["#", *line_fields]),
        "lines": lines,
    }


def quote_pdf(*, quote: Quote, user, language: str | None = None) -> bytes:
    """The quote as PDF in `language` (default: the quote's), with only the fields `user` may see."""
    from weasyprint import HTML

    with translation.override(language or quote.language or "zh-hans"):
        html = render_to_string("sales/quote_pdf.html", quote_context(quote=quote, user=user))
    return HTML(string=html).write_pdf()
