"""Demo purchase history for analytics (called by seed_demo after the sales demo), then a first scoring run.

The sales demo has leads and deals but no orders, so without this the customer value page would be empty.
Accounts and consumers (not contacts) buy the way the BG/NBD story says: each has a purchase rate (gamma
distributed) and, after every purchase, a chance to drop out (beta distributed); a few orders are cancelled
(`counted = false`) and a few are partly returned (a return order with negative lines). Bulk inserts,
deterministic for a given seed, a few seconds for the default 2,000 customers."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from kehu.core import bulk
from kehu.customers.models import Customer, Kind
from kehu.products.models import Product
from kehu.sales.models import Order, OrderLine

ORDER_FIELDS = [
    "id", "number", "kind", "original", "customer", "order_date", "status", "status_changed_at", "currency",
    "net_amount", "tax_amount", "total", "external_ref", "shipping_address", "notes", "owner", "created_at",
    "updated_at", "version",
]  # fmt: skip
LINE_FIELDS = [
    "id", "order", "line_no", "product", "description", "quantity", "unit_price", "discount_percent",
    "tax_rate", "amount", "tax_amount", "delivered_quantity", "serial_numbers", "returned_line", "customer",
    "order_date", "currency", "counted",
]  # fmt: skip
CENT = Decimal("0.01")
YEARS = 3


def _cents(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def seed_orders(ctx) -> str:
    rng = ctx["rng"]
    today = timezone.localdate()
    buyers = list(
        Customer.objects.filter(pk__in=ctx["customer_ids"])
        .exclude(kind=Kind.PERSON, account__isnull=False)
        .values_list("pk", "kind", "owner_id")
    )
    products = list(Product.objects.filter(active=True).values_list("pk", "name", "list_price")[:200]) or [
        (None, "服务包 Service package", Decimal("880.00"))
    ]
    orders: list[tuple] = []
    lines: list[tuple] = []
    order_ids = iter(bulk.next_ids(Order, len(buyers) * 40))
    line_ids = iter(bulk.next_ids(OrderLine, len(buyers) * 60))
    start = today - dt.timedelta(days=365 * YEARS)
    for customer_id, kind, owner_id in buyers:
        if rng.random() < 0.25:  # a quarter never bought
            continue
        organisation = kind == Kind.ORGANIZATION
        rate = rng.gammavariate(0.8, 1 / (12 if organisation else 20))  # purchases per day
        dropout = rng.betavariate(1.0, 3.0)
        # Gamma-Gamma's story: each customer's mean spend is gamma distributed across customers, and each
        # order's value gamma distributed around it
        mean_spend = rng.gammavariate(4.0, (3000 if organisation else 1000) / 4.0)
        day = start + dt.timedelta(days=rng.randrange(365 * YEARS - 7))
        while day <= today:
            order_id = next(order_ids)
            cancelled = rng.random() < 0.04
            product_id, name, price = products[rng.randrange(len(products))]
            spend = rng.gammavariate(6.0, mean_spend / 6.0)
            quantity = max(1, round(spend / float(price or 1)))
            unit = max(_cents(spend / quantity), CENT)
            amount = (unit * quantity).quantize(CENT)
            tax = (amount * Decimal("0.13")).quantize(CENT, rounding=ROUND_HALF_UP)
            status = (
                "cancelled" if cancelled else ("paid" if day < today - dt.timedelta(days=30) else "confirmed")
            )
            created = timezone.make_aware(dt.datetime.combine(day, dt.time(10)))
            orders.append(
                (order_id, f"DM{order_id:08d}", "sale", None, customer_id, day, status, created, "CNY", amount,
                 tax, amount + tax, None, "", "", owner_id, created, created, 1)
            )  # fmt: skip
            line_id = next(line_ids)
            lines.append(
                (line_id, order_id, 1, product_id, name[:300], Decimal(quantity), unit, Decimal("0"),
                 Decimal("13.00"), amount, tax, Decimal(quantity), "", None, customer_id, day, "CNY", not cancelled)
            )  # fmt: skip
            if not cancelled and quantity > 1 and rng.random() < 0.04:  # a partial return two weeks later
                back = min(today, day + dt.timedelta(days=14))
                return_id, back_qty = next(order_ids), -max(1, quantity // 3)
                back_amount = (unit * back_qty).quantize(CENT)
                back_tax = (back_amount * Decimal("0.13")).quantize(CENT, rounding=ROUND_HALF_UP)
                back_at = timezone.make_aware(dt.datetime.combine(back, dt.time(15)))
                orders.append(
                    (return_id, f"DM{return_id:08d}", "return", order_id, customer_id, back, "confirmed", back_at,
                     "CNY", back_amount, back_tax, back_amount + back_tax, None, "", "", owner_id, back_at,
                     back_at, 1)
                )  # fmt: skip
                lines.append(
                    (next(line_ids), return_id, 1, product_id, name[:300], Decimal(back_qty), unit, Decimal("0"),
                     Decimal("13.00"), back_amount, back_tax, Decimal(back_qty), "", line_id, customer_id, back,
                     "CNY", True)
                )  # fmt: skip
            if rng.random() < dropout * 0.35:  # the customer drops out after this purchase
                break
            day += dt.timedelta(days=max(1, int(rng.expovariate(rate))))
    bulk.insert_rows(Order, ORDER_FIELDS, orders)
    bulk.insert_rows(OrderLine, LINE_FIELDS, lines)
    bulk.reset_sequences(Order, OrderLine)

    _seed_strategies()
    from .services import scoring_run

    run = scoring_run(as_of=today)
    return f"{len(orders)} orders, {len(lines)} order lines; {run.customers} customers scored"


def _seed_strategies() -> None:
    """A relationship strategy per value segment (the practice loop's starting point); the most valuable get
    the VIP SLA policy of the service demo where it exists."""
    from kehu.service.models import SlaPolicy

    from .models_value import RelationshipStrategy

    vip = SlaPolicy.objects.filter(name__startswith="VIP").first()
    plans = {
        "top": (
            "专属客户经理，每两周联系，每月拜访 Named account manager, contact every 2 weeks, visit monthly",
            vip,
            14,
            30,
            True,
        ),
        "core": (
            "每月联系，每季度拜访，交叉销售 Monthly contact, quarterly visit, cross-sell",
            None,
            30,
            90,
            True,
        ),
        "standard": ("营销活动与自助服务 Campaigns and self-service", None, 90, None, True),
        "below_zero": ("不做营销，标准服务 No campaigns, standard service", None, None, None, False),
    }
    for segment, (text, policy, contact, visit, campaigns) in plans.items():
        RelationshipStrategy.objects.get_or_create(
            segment=segment,
            defaults={
                "description": text,
                "sla_policy": policy,
                "contact_every_days": contact,
                "visit_every_days": visit,
                "campaign_eligible": campaigns,
            },
        )


def seed(ctx) -> str:
    """Orders and scores, then the demo of every analytics feature that reads them."""
    from . import demo_nba, demo_reports, demo_scorecard

    summary = seed_orders(ctx)
    return (
        f"{summary}; {demo_nba.seed(ctx)}; dashboard widgets: {demo_reports.seed_dashboards()}; "
        f"scorecard: {demo_scorecard.seed(ctx)}"
    )
