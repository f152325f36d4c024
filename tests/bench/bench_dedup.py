"""Duplicate scan at scale (`make bench`): the full scan over every customer on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5433/kehu_bench make bench BENCH_ARGS="-k dedup"

Prints the phases (load + block + score, then store) and the number of pairs; asserts nothing about time.
"""

from __future__ import annotations

import time

import pytest

from tests.bench.bench_search import customers_only  # noqa: F401 - the shared data set fixture

pytestmark = pytest.mark.django_db


def test_full_duplicate_scan(customers_only):  # noqa: F811
    from kehu.customers import dedup

    t0 = time.perf_counter()
    count, pairs = dedup.scan_pairs()
    found = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = dedup.scan()
    total = time.perf_counter() - t1
    print(
        f"BENCH dedup: {count:,} customers, {len(pairs):,} pairs; scan_pairs {found:.1f}s; "
        f"full scan with storing {total:.1f}s"
    )
    assert result["customers"] == count
