"""Segment benchmarks (issue #9 item 1): the live count and the snapshot (materialisation, one INSERT … SELECT)
of rule trees over customer fields, consent, purchases and contacts, on PostgreSQL.

    BENCH_BARE_CUSTOMERS=1 BENCH_CUSTOMERS=1000000 BENCH_ORDER_LINES=3000000 BENCH_INTERACTIONS=1000000 \\
    DATABASE_URL=postgres://postgres@127.0.0.1:55432/kehubench make bench BENCH_ARGS="-k segments"

Target: count and materialisation over 1M customers < 2 s. Figures are printed (and appended to
var/bench.log); nothing asserts wall-clock times. docs/benchmarks.md records the runs.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection, transaction

from tests.bench.bench_analytics import order_dataset  # noqa: F401 - the order-line fixture
from tests.bench.conftest import report, timed

pytestmark = pytest.mark.django_db

CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都"]


@pytest.fixture(scope="session")
def segment_dataset(order_dataset, django_db_blocker):  # noqa: F811
    """The bench customers get a lifecycle stage, a city, email/SMS consent and a tag (once; bare customers
    have none), so rules select realistic fractions."""
    from kehu.core.models import Tag
    from kehu.customers.models import Customer

    with django_db_blocker.unblock():
        if not Customer.objects.exclude(city="").exists():
            t0 = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("SELECT setseed(0.42)")
                cursor.execute(
                    """
                    UPDATE customers_customer SET
                        lifecycle_stage = (ARRAY['prospect','customer','loyal','at_risk','churned'])[1 + floor(random() * 5)::int],
                        city = (%s::text[])[1 + floor(random() * 6)::int],
                        consent = CASE WHEN random() < 0.6
                            THEN '{"email": {"status": "granted"}, "sms": {"status": "withdrawn"}}'::jsonb
                            WHEN random() < 0.5 THEN '{"email": {"status": "withdrawn"}}'::jsonb
                            ELSE '{}'::jsonb END
                    """,
                    [CITIES],
                )
                tag, _ = Tag.objects.get_or_create(name="bench-vip")
                cursor.execute(
                    "INSERT INTO customers_customer_tags (customer_id, tag_id) "
                    "SELECT id, %s FROM customers_customer WHERE id %% 10 = 0 ON CONFLICT DO NOTHING",
                    [tag.pk],
                )
                cursor.execute("ANALYZE")
            print(f"BENCH segment attributes set in {time.perf_counter() - t0:.0f}s")
        return {"tag": Tag.objects.get(name="bench-vip").pk, "customers": Customer.objects.count()}


def _rules(tag: int) -> dict[str, dict]:
    return {
        "fields": {
            "match": "all",
            "conditions": [
                {"field": "lifecycle_stage", "op": "in", "value": ["customer", "loyal"]},
                {"field": "consent.email", "op": "granted"},
                {"field": "city", "op": "eq", "value": "北京"},
            ],
        },
        "purchases": {
            "match": "all",
            "conditions": [
                {"field": "purchase.spent", "op": "gt", "value": 2000, "period": {"last_days": 365}},
                {"field": "purchase.last", "op": "within_last_days", "value": 180},
            ],
        },
        "winback": {
            "match": "all",
            "conditions": [
                {"field": "purchase.last", "op": "more_than_days_ago", "value": 365},
                {"field": "interaction.contact", "op": "none_within_days", "value": 90},
                {"field": "consent.email", "op": "not_granted"},
            ],
            "exclude": [{"field": "tags", "op": "has_any", "value": [tag]}],
        },
        "mixed_any": {
            "match": "any",
            "conditions": [
                {
                    "match": "all",
                    "conditions": [
                        {"field": "region.city", "op": "in", "value": ["上海", "深圳"]},
                        {"field": "purchase.spent", "op": "lt", "value": 500},
                    ],
                },
                {"field": "tags", "op": "has_all", "value": [tag]},
            ],
        },  # fmt: skip
    }


def test_segment_count_and_materialise(segment_dataset):
    from kehu.core.models import User
    from kehu.marketing.selectors.segments import rules_members
    from kehu.marketing.services.segments import _insert_members

    n = segment_dataset["customers"]
    admin = User.objects.filter(is_superuser=True).first() or User.objects.create(
        username="bench-admin", is_superuser=True
    )
    rep = User.objects.get(username="rep1")
    for name, definition in _rules(segment_dataset["tag"]).items():
        _clean, qs = rules_members(definition=definition, user=admin)
        count = qs.count()
        report(f"segment count '{name}' over {n} customers ({count} members)", timed(qs.count, 3))
        _clean, own = rules_members(definition=definition, user=rep)
        report(f"segment count '{name}' in one rep's scope ({own.count()} members)", timed(own.count, 3))

        def materialise(queryset=qs, expected=count):
            with transaction.atomic():
                from kehu.marketing.models import Segment

                segment = Segment.objects.create(name="bench snapshot", kind="static", owner=admin)
                added = _insert_members(segment.pk, queryset)
                assert added == expected
                transaction.set_rollback(True)

        report(
            f"segment materialise '{name}' ({count} rows, INSERT … SELECT, rolled back)",
            timed(materialise, 3),
        )
