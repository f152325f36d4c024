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
    return f"{len(created)} segments, snapshot of {snapshot.members.count()} customers"
