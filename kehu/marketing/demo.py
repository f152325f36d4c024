"""Demo segments for the demo marketer (called by seed_demo after analytics, so purchases and scores exist):
dynamic segments over purchases, consent, region, contacts and RFM, and one static snapshot."""

from __future__ import annotations

from .services.segments import segment_create, segment_snapshot

SEGMENTS = [
    (
        "高价值活跃客户 High-value active customers",
        "近一年消费超过 1 万元且同意接收邮件 · spent over 10,000 in the last year, email consent granted",
        {
            "match": "all",
            "conditions": [
                {"field": "purchase.spent", "op": "gt", "value": 10000, "period": {"last_days": 365}},
                {"field": "consent.email", "op": "granted"},
            ],
        },
    ),
    (
        "沉睡客户唤醒 Win-back: no purchase for 180 days",
        "买过但半年未再购买，排除已流失 · bought before, nothing for 180 days, churned left out",
        {
            "match": "all",
            "conditions": [{"field": "purchase.last", "op": "more_than_days_ago", "value": 180}],
            "exclude": [{"field": "lifecycle_stage", "op": "eq", "value": "churned"}],
        },
    ),
    (
        "京沪潜在客户 Beijing & Shanghai prospects",
        "北京或上海的潜在客户 · prospects in Beijing or Shanghai",
        {
            "match": "all",
            "conditions": [
                {"field": "lifecycle_stage", "op": "eq", "value": "prospect"},
                {"field": "region.city", "op": "in", "value": ["北京", "上海"]},
            ],
        },
    ),
    (
        "90 天未联系的客户 Customers not contacted for 90 days",
        "成交或忠诚客户，90 天内没有电话、拜访或邮件 · customers and loyal customers without contact for 90 days",
        {
            "match": "all",
            "conditions": [
                {"field": "lifecycle_stage", "op": "in", "value": ["customer", "loyal"]},
                {"field": "interaction.contact", "op": "none_within_days", "value": 90},
            ],
        },
    ),
    (
        "需挽留的重要客户 At-risk valuable customers (RFM)",
        "RFM 细分为流失风险或不能失去 · RFM segment at risk or can't lose",
        {
            "match": "any",
            "conditions": [{"field": "analytics.rfm_segment", "op": "in", "value": ["at_risk", "cant_lose"]}],
        },
    ),
]


def seed(ctx) -> str:
    marketer = ctx["org"].users.get("marketer")
    if marketer is None:
        return "no marketer"
    created = [
        segment_create(data={"name": name, "description": text, "definition": rules}, by=marketer)
        for name, text, rules in SEGMENTS
    ]
    snapshot = segment_snapshot(segment=created[0], by=marketer, name="高价值客户快照 High-value snapshot")
    promotion, issued, used = _promotion(marketer, snapshot)
    return (
        f"{len(created)} segments, snapshot of {snapshot.members.count()} customers; promotion "
        f"“{promotion.name}”: {issued} codes issued, {used} used"
    )


def _promotion(marketer, snapshot):
    """A draft campaign to the high-value snapshot with a 满减 promotion: codes issued to its members, a few used
    on their open orders by the orders' reps (so the promotion and campaign pages show figures)."""
    import datetime as dt
    from decimal import Decimal

    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from kehu.sales.models import Order

    from .models import CouponCode
    from .services import promotions
    from .services.campaigns import campaign_create

    today = timezone.localdate()
    campaign = campaign_create(
        data={"name": "高价值客户回馈 Thank-you to high-value customers", "objective": "满 5000 减 300"},
        by=marketer,
    )
    campaign.segments.add(snapshot)
    promotion = promotions.promotion_create(
        data={
            "name": "满 5000 减 300 · 300 off 5,000",
            "campaign": campaign,
            "kind": "threshold",
            "threshold": Decimal("5000"),
            "discount": Decimal("300"),
            "valid_from": today - dt.timedelta(days=14),
            "valid_until": today + dt.timedelta(days=60),
            "terms": "每位客户限用一次 · once per customer",
        },
        by=marketer,
    )
    members = list(snapshot.members.values_list("customer_id", flat=True))
    issued = promotions.codes_issue(promotion=promotion, by=marketer, customer_ids=members)
    used = 0
    for coupon in CouponCode.objects.filter(promotion=promotion).order_by("customer_id")[:40]:
        order = (
            Order.objects.filter(customer_id=coupon.customer_id, kind="sale", currency="CNY", total__gte=5000)
            .exclude(status__in=promotions.CLOSED_ORDER_STATUSES)
            .exclude(owner=None)
            .select_related("owner")
            .order_by("-order_date")
            .first()
        )
        if order is None or used >= 6:
            continue
        try:
            promotions.coupon_redeem(code=coupon.code, order=order, by=order.owner)
            used += 1
        except ValidationError:
            continue  # the order's owner may no longer place orders (a demo role without the right)
    return promotion, issued, used
