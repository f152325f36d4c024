"""Demo quote approvals (runs after sales): for two reps, a quote over their discount limit awaiting approval
and one approved by their manager. (Expenses awaiting and decided come from the expenses' demo.)"""

from __future__ import annotations

from decimal import Decimal

from kehu.products.models import Product
from kehu.sales.models import Opportunity
from kehu.sales.services import quotes

from .models import ApprovalRequest


def seed(ctx) -> str:
    users = ctx["org"].users
    product = Product.objects.filter(list_price__gt=0).order_by("id").first()
    manager = users.get("manager")
    if product is None or manager is None:
        return "no quote approvals (no product)"
    for username in ("rep1", "rep2"):
        rep = users.get(username)
        # deals of the rep's own customers (a quote is made for a customer the rep may see)
        deals = list(
            Opportunity.objects.filter(owner=rep, customer__owner=rep, status="open")
            .select_related("customer")
            .order_by("id")[:2]
        )
        for i, deal in enumerate(deals):
            quote = quotes.quote_create(customer=deal.customer, opportunity=deal, by=rep)
            quotes.quote_line_add(
                quote=quote,
                data={"product": product, "quantity": Decimal("3"), "discount_percent": Decimal("12")},
                by=rep,
            )
            quote.refresh_from_db()
            if not quote.approval_required:
                continue
            approval = quotes.quote_submit(quote=quote, by=rep, reason="重点客户 Key account")
            if i == 1:
                quotes.quote_decide(approval=approval, approve=True, comment="同意 Agreed", by=manager)
    return f"{ApprovalRequest.objects.count()} approval requests"
