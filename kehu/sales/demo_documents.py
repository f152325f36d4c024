"""Demo quote-to-cash data (called from kehu.sales.demo.seed after the opportunities): a standard price list,
for every won deal an accepted quote, an order and often a contract with its receivable plan and payments;
draft and sent quotes for deals in the quotation stage; repeat orders over the past two years so that
analytics has a purchase history. Bulk inserts (a few thousand rows for the default demo), figures from
kehu.sales.money so every amount adds up to the cent."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from decimal import Decimal

from django.utils import timezone

from kehu.core import bulk
from kehu.products.models import PriceList, PriceListItem, Product

from .models import (
    Contract,
    Instalment,
    Opportunity,
    Order,
    OrderLine,
    OrderStatusChange,
    Payment,
    PaymentAllocation,
    Quote,
    QuoteLine,
)
from .money import ZERO, cents, line_figures, totals

TERMS = (
    "付款方式：签约后预付30%，验收后付清余款。交货期：30天。Payment: 30% on signing, the rest on acceptance."
)


class _Numbers:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.seen: dict[str, int] = defaultdict(int)

    def __call__(self, day: dt.date) -> str:
        key = f"{self.prefix}{day:%Y%m}"
        self.seen[key] += 1
        return f"{key}-{self.seen[key]:04d}"


def seed(ctx, *, now: dt.datetime | None = None) -> str:
    rng = ctx["rng"]
    now = now or timezone.now()
    today = timezone.localdate(now)
    products = list(Product.objects.filter(currency="CNY", active=True).order_by("pk"))
    if not products:
        return "no products: no quotes"
    start = today - dt.timedelta(days=365 * 3)
    price_list = PriceList.objects.create(name="标准价 Standard prices", currency="CNY", valid_from=start)
    PriceListItem.objects.bulk_create(
        [PriceListItem(price_list=price_list, product=p, unit_price=p.list_price) for p in products]
        + [
            PriceListItem(
                price_list=price_list,
                product=p,
                min_quantity=Decimal(10),
                unit_price=cents(p.list_price * Decimal("0.95")),
            )
            for p in products
        ]
    )
    quote_no, order_no, contract_no = _Numbers("Q"), _Numbers("SO"), _Numbers("HT")
    quote_rows, quote_lines, order_rows, order_lines, changes = [], [], [], [], []
    contract_rows, instalment_rows, payment_rows, allocation_rows = [], [], [], []
    quote_ids = itertools.count(bulk.next_ids(Quote, 1).start)
    order_ids = itertools.count(bulk.next_ids(Order, 1).start)
    contract_ids = itertools.count(bulk.next_ids(Contract, 1).start)
    instalment_ids = itertools.count(bulk.next_ids(Instalment, 1).start)
    payment_ids = itertools.count(bulk.next_ids(Payment, 1).start)

    def lines_for(day):
        chosen = rng.sample(products, k=min(len(products), rng.choice((1, 1, 2, 3))))
        out = []
        for product in chosen:
            qty = Decimal(rng.choice((1, 1, 2, 3, 5, 12)))
            price = product.list_price if qty < 10 else cents(product.list_price * Decimal("0.95"))
            discount = Decimal(rng.choice((0, 0, 0, 5, 8, 12)))
            tax = Decimal("6.00") if product.warranty_months == 0 else Decimal("13.00")
            out.append((product, qty, price, discount, tax))
        return out

    def add_quote(opp, status, day, lines, *, sent=None, accepted=None):
        qid = next(quote_ids)
        figures = []
        for pos, (product, qty, price, discount, tax) in enumerate(lines, 1):
            f = line_figures(quantity=qty, unit_price=price, discount_percent=discount, tax_rate=tax)
            figures.append(f)
            quote_lines.append(
                (qid, pos, product.pk, product.name, qty, product.unit, price, price, discount, tax, f.gross, f.net, f.tax, f.total, now, now, 1)
            )  # fmt: skip
        t = totals(figures)
        approval = status == "draft" and max(d for _p, _q, _pr, d, _t in lines) > 10
        when = dt.datetime.combine(day, dt.time(10), tzinfo=now.tzinfo)
        quote_rows.append(
            (
                qid, quote_no(day), 1, None, opp["name"][:200], opp["customer_id"], None, opp["pk"], price_list.pk, "CNY",
                status, day, day + dt.timedelta(days=30), TERMS, "zh-hans", t.gross, t.discount, t.net, t.tax, t.total,
                approval, None, None, sent, accepted, opp["owner_id"], when, when, 1,
            )
        )  # fmt: skip
        return qid, t

    def add_order(customer_id, owner_id, day, lines, *, quote_id=None, opp_id=None, contract_id=None):
        oid = next(order_ids)
        age = (today - day).days
        if rng.random() < 0.05:
            status = "cancelled"
        elif age > 90:
            status = "paid"
        elif age > 45:
            status = rng.choice(("delivered", "invoiced"))
        elif age > 10:
            status = rng.choice(("production", "shipped"))
        else:
            status = "confirmed"
        figures = []
        for no, (product, qty, price, discount, tax) in enumerate(lines, 1):
            f = line_figures(quantity=qty, unit_price=price, discount_percent=discount, tax_rate=tax)
            figures.append(f)
            delivered = qty if status in ("delivered", "invoiced", "paid") else Decimal(0)
            order_lines.append(
                (oid, no, product.pk, product.name, qty, price, discount, tax, f.net, f.tax, delivered, "", None,
                 customer_id, day, "CNY", status != "cancelled")
            )  # fmt: skip
        t = totals(figures)
        when = dt.datetime.combine(day, dt.time(11), tzinfo=now.tzinfo)
        order_rows.append(
            (oid, order_no(day), "sale", None, customer_id, day, status, when, "CNY", t.net, t.tax, t.total, quote_id,
             opp_id, contract_id, None, "", "", owner_id, when, when, 1)
        )  # fmt: skip
        changes.append((oid, "", "confirmed", when, owner_id, None, ""))
        if status != "confirmed":
            changes.append(
                (oid, "confirmed", status, when + dt.timedelta(days=min(age, 20)), owner_id, None, "")
            )
        return oid, t

    won = list(
        Opportunity.objects.filter(status="won")
        .order_by("pk")
        .values("pk", "customer_id", "owner_id", "name", "closed_at")
    )
    for opp in won:
        closed = timezone.localdate(opp["closed_at"]) if opp["closed_at"] else today
        issued = closed - dt.timedelta(days=rng.randrange(3, 20))
        lines = lines_for(issued)
        sent = dt.datetime.combine(issued, dt.time(15), tzinfo=now.tzinfo)
        accepted = dt.datetime.combine(closed, dt.time(16), tzinfo=now.tzinfo)
        qid, t = add_quote(opp, "accepted", issued, lines, sent=sent, accepted=accepted)
        contract_id = None
        if rng.random() < 0.6:
            contract_id = next(contract_ids)
            end = closed + dt.timedelta(days=365)
            paid_total = Decimal(0)
            first = cents(t.total * Decimal("0.3"))
            plan = [(closed + dt.timedelta(days=7), first), (closed + dt.timedelta(days=90), t.total - first)]
            for seq, (due, amount) in enumerate(plan, 1):
                iid = next(instalment_ids)
                paid = Decimal(0)
                if due < today and rng.random() < 0.85:
                    paid = amount
                elif due < today and rng.random() < 0.5:
                    paid = cents(amount / 2)
                if paid:
                    pid = next(payment_ids)
                    received = min(today, due + dt.timedelta(days=rng.randrange(-3, 20)))
                    payment_rows.append(
                        (pid, contract_id, paid, "CNY", received, rng.choice(("transfer", "transfer", "bill")), "", None, True,
                         opp["owner_id"], "", now, now, 1)
                    )  # fmt: skip
                    allocation_rows.append((pid, iid, paid))
                    paid_total += paid
                status = "paid" if paid == amount else ("partly" if paid else "open")
                instalment_rows.append(
                    (iid, contract_id, seq, due, amount, "CNY", paid, status, "", None, now, now, 1)
                )
            contract_rows.append(
                (contract_id, contract_no(closed), opp["name"][:200], opp["customer_id"], None, opp["owner_id"], opp["pk"], qid,
                 t.total, "CNY", closed, end, closed, "expired" if end < today else "active", TERMS, 30, None, None, None,
                 paid_total, Decimal(0), opp["owner_id"], "{}", accepted, accepted, 1)
            )  # fmt: skip
        add_order(
            opp["customer_id"],
            opp["owner_id"],
            closed,
            lines,
            quote_id=qid,
            opp_id=opp["pk"],
            contract_id=contract_id,
        )
    # quotes of the deals in the quotation stage: drafts and sent ones
    quoting = (
        Opportunity.objects.filter(status="open", probability__gte=70)
        .order_by("pk")
        .values("pk", "customer_id", "owner_id", "name", "closed_at")
    )
    for opp in quoting:
        issued = today - dt.timedelta(days=rng.randrange(0, 25))
        status = rng.choice(("draft", "sent", "sent"))
        sent = dt.datetime.combine(issued, dt.time(15), tzinfo=now.tzinfo) if status == "sent" else None
        add_quote(opp, status, issued, lines_for(issued), sent=sent)
    # repeat orders over the past two years (purchase history for RFM / CLV)
    buyers = sorted({(o["customer_id"], o["owner_id"]) for o in won})
    for customer_id, owner_id in buyers:
        for _ in range(rng.choice((0, 1, 2, 3, 5))):
            day = today - dt.timedelta(days=rng.randrange(1, 730))
            add_order(customer_id, owner_id, day, lines_for(day))

    bulk.insert_rows(
        Quote,
        ["id", "number", "revision", "previous", "title", "customer", "contact", "opportunity", "price_list", "currency",
         "status", "issue_date", "valid_until", "terms", "language", "gross_amount", "discount_amount", "net_amount",
         "tax_amount", "total", "approval_required", "approved_by", "approved_at", "sent_at", "accepted_at", "owner",
         "created_at", "updated_at", "version"],
        quote_rows,
    )  # fmt: skip
    bulk.insert_rows(
        QuoteLine,
        ["quote", "position", "product", "description", "quantity", "unit", "unit_price", "list_price",
         "discount_percent", "tax_rate", "gross_amount", "net_amount", "tax_amount", "total", "created_at",
         "updated_at", "version"],
        quote_lines,
    )  # fmt: skip
    bulk.insert_rows(
        Contract,
        ["id", "number", "title", "customer", "customer_signatory", "our_signatory", "opportunity", "quote", "amount",
         "currency", "start_date", "end_date", "signed_date", "status", "terms", "renewal_notice_days",
         "renewal_reminded_at", "approved_by", "approved_at", "paid_amount", "invoiced_amount", "owner", "custom",
         "created_at", "updated_at", "version", "receivable_outstanding"],
        [(*row, ZERO) for row in contract_rows],  # the receivable figures are derived below
    )  # fmt: skip
    bulk.insert_rows(
        Instalment,
        ["id", "contract", "sequence", "due_date", "amount", "currency", "paid_amount", "status", "notes",
         "overdue_reminded_at", "created_at", "updated_at", "version"],
        instalment_rows,
    )  # fmt: skip
    bulk.insert_rows(
        Payment,
        ["id", "contract", "amount", "currency", "received_on", "method", "reference", "external_ref",
         "counts_as_actual", "recorded_by", "notes", "created_at", "updated_at", "version"],
        payment_rows,
    )  # fmt: skip
    bulk.insert_rows(PaymentAllocation, ["payment", "instalment", "amount"], allocation_rows)
    bulk.insert_rows(
        Order,
        ["id", "number", "kind", "original", "customer", "order_date", "status", "status_changed_at", "currency",
         "net_amount", "tax_amount", "total", "quote", "opportunity", "contract", "external_ref", "shipping_address",
         "notes", "owner", "created_at", "updated_at", "version"],
        order_rows,
    )  # fmt: skip
    bulk.insert_rows(
        OrderLine,
        ["order", "line_no", "product", "description", "quantity", "unit_price", "discount_percent", "tax_rate",
         "amount", "tax_amount", "delivered_quantity", "serial_numbers", "returned_line", "customer", "order_date",
         "currency", "counted"],
        order_lines,
    )  # fmt: skip
    bulk.insert_rows(
        OrderStatusChange,
        ["order", "from_status", "to_status", "at", "by", "idempotency_key", "note"],
        changes,
    )
    bulk.reset_sequences(Quote, QuoteLine, Order, OrderLine, OrderStatusChange, Contract, Instalment, Payment)
    from .services.receivables import contract_receivables_refresh

    # the contracts' derived receivable figures, from the instalments just inserted
    contract_receivables_refresh(contract_ids=[row[0] for row in contract_rows])
    return (
        f"{len(quote_rows)} quotes, {len(order_rows)} orders ({len(order_lines)} lines), "
        f"{len(contract_rows)} contracts, {len(payment_rows)} payments"
    )
