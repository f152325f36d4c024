"""Import throughput on PostgreSQL: a 100,000-row file checked (dry run), imported (create, with duplicate
lookups), then 10% of it imported again as updates (upsert matched by phone).

    DATABASE_URL=postgres://postgres@127.0.0.1:5433/<db> make bench BENCH_ARGS="-k import"
    BENCH_IMPORT_ROWS=100000 (default)

The test runs in a transaction that is rolled back, so the imported rows never join the benchmark data set
(batches commit as savepoints here; in production each batch commits). Figures are printed, never asserted.
"""

from __future__ import annotations

import os
import random
import resource
import time

import pytest
from django.db import connection
from django.utils import timezone

pytestmark = pytest.mark.django_db

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京"]
TYPES = ["终端消费者", "零售商", "Wholesaler", "distributor", "企业客户"]
STAGES = ["潜在客户", "成交客户", "Loyal customer", "prospect"]
PREFIXES = ["139", "150", "158", "186"]


def throughput(title: str, rows: int, seconds: float) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    line = f"BENCH {title}: {rows:,} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s (peak RSS {peak:,} MB)"
    print(line)
    os.makedirs("var", exist_ok=True)
    with open(os.environ.get("BENCH_LOG", "var/bench.log"), "a", encoding="utf-8") as log:
        log.write(f"{timezone.now():%Y-%m-%d %H:%M} {connection.vendor} {line}\n")


def test_import_throughput(settings):
    if connection.vendor != "postgresql":
        pytest.fail("benchmarks run on PostgreSQL: set DATABASE_URL=postgres://...")
    from kehu.core.models import User
    from kehu.customers.imports import services, worker
    from kehu.customers.imports.models import ImportJob
    from tests.customers.importing import csv_bytes

    settings.KEHU_IMPORT_MAX_ROWS = max(ROWS, 200_000)
    user = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser("bench-importer")
    rng = random.Random(3)
    stamp = f"{time.time_ns() % 10**7:07d}"
    header = ["客户名称", "手机", "邮箱", "城市", "客户类型", "阶段", "备注"]
    rows = [header]
    for i in range(ROWS):
        person = i % 3 == 0
        name = f"测试{stamp}{i}号{'' if person else '科技有限公司'}"
        rows.append(
            [
                name,
                # unique, valid mobiles, half typed with country code and spaces
                f"+86 {PREFIXES[i % 4]} {i // 10_000:04d} {i % 10_000:04d}"
                if i % 2
                else f"{PREFIXES[i % 4]}{i:08d}",
                f"c{stamp}.{i}@bench.example.com",
                rng.choice(CITIES),
                rng.choice(TYPES),
                rng.choice(STAGES),
                "批量导入的基准测试数据" if i % 5 == 0 else "",
            ]
        )
    data = csv_bytes(rows)
    t0 = time.perf_counter()
    job = services.import_upload(by=user, file_name="bench.csv", data=data)
    throughput(f"import upload check ({len(data) / 1048576:.1f} MB CSV)", ROWS, time.perf_counter() - t0)
    assert job.mapping[:4] == ["name", "phone", "email", "city"], job.mapping
    services.import_configure(
        job=job, by=user, mapping_=job.mapping, options={"mode": "create", "duplicates": "skip"}
    )

    services.import_preview(job=job, by=user)
    t0 = time.perf_counter()
    assert worker.import_job_work(job.pk) == "done"
    throughput("import preview (dry run)", ROWS, time.perf_counter() - t0)
    job.refresh_from_db()
    print(f"BENCH import preview counts: {job.preview['counts']}")

    services.import_start(job=job, by=user)
    t0 = time.perf_counter()
    assert worker.import_job_work(job.pk) == "done"
    throughput("import run (create, duplicate lookups, audited)", ROWS, time.perf_counter() - t0)
    job.refresh_from_db()
    print(f"BENCH import run: created={job.created} skipped={job.skipped} failed={job.failed}")

    updates = [header] + [
        [r[0], r[1], r[2], "拉萨", r[4], r[5], "第二次导入"] for r in rows[1 : ROWS // 10 + 1]
    ]
    again = services.import_upload(by=user, file_name="bench-update.csv", data=csv_bytes(updates))
    services.import_configure(
        job=again, by=user, mapping_=again.mapping, options={"mode": "upsert", "match_on": "phone"}
    )
    services.import_start(job=again, by=user)
    t0 = time.perf_counter()
    assert worker.import_job_work(again.pk) == "done"
    throughput(
        "import run (upsert by phone, updates through customer_update)",
        len(updates) - 1,
        time.perf_counter() - t0,
    )
    again.refresh_from_db()
    print(f"BENCH import upsert: updated={again.updated} failed={again.failed}")
    assert ImportJob.objects.filter(pk__in=[job.pk, again.pk], status="done").count() == 2
