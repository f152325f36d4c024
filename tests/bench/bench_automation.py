"""Workflow rules (ADR 0019): what active rules cost a record save, and what evaluating the rules triggered by
an import adds to it. On PostgreSQL, in the benchmark's own database:

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/kehu_automation_bench \\
      flock /work/bench.lock nice -n 10 make bench BENCH_ARGS="-k automation"
    BENCH_RULES=1000 BENCH_SAVES=300 BENCH_AUTOMATION_ROWS=100000 (defaults)

1. Save p95: `customer_update` (the record service, one changed field) timed with the on-commit work included
   (the hook's index lookup and, when a rule may care, the task row the web process inserts), with no rules,
   then with 1,000 active rules on customers (created / field changed / stage entered, on 20 fields). The
   task backend is the production one (django_tasks_db): the evaluation itself is the worker's.
2. Import: a CSV of BENCH_AUTOMATION_ROWS new customers imported without rules, then again (new rows) with 20
   active "record created" rules whose conditions compile to one query per rule and 500-row batch; ~1 % of
   the rows match one rule that tags them (an audited update each). The evaluation runs in-process
   (ImmediateBackend) when the batches' on-commit callbacks fire, and is timed apart from the import.
Figures are printed (and appended to var/bench.log), never asserted.
"""

from __future__ import annotations

import os
import random
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext  # noqa: F401 - handy when profiling by hand

from .conftest import report

pytestmark = pytest.mark.django_db

RULES = int(os.environ.get("BENCH_RULES", "1000"))
SAVES = int(os.environ.get("BENCH_SAVES", "300"))
ROWS = int(os.environ.get("BENCH_AUTOMATION_ROWS", "100000"))
FIELDS = ["city", "industry", "lifecycle_stage", "source", "name", "job_title", "occupation", "email", "phone",
          "external_id", "gender", "age_band", "income_band", "customer_type", "kind", "decision_driver",
          "preferred_language", "feedback_strictness", "birthday", "notes"]  # fmt: skip


def _postgres():
    if connection.vendor != "postgresql":
        pytest.fail("benchmarks run on PostgreSQL: set DATABASE_URL=postgres://...")


def _bulk_rules(owner, n: int, *, created_only: bool = False) -> None:
    from kehu.automation import triggers
    from kehu.automation.models import Rule, Trigger

    rules = []
    for i in range(n):
        if created_only:
            trigger, config = Trigger.CREATED, {}
        else:
            trigger = (Trigger.FIELD_CHANGED, Trigger.CREATED, Trigger.FIELD_CHANGED, Trigger.FIELD_CHANGED)[
                i % 4
            ]
            config = (
                {"field": FIELDS[i % len(FIELDS)], "to": f"v{i}"} if trigger == Trigger.FIELD_CHANGED else {}
            )
        rules.append(
            Rule(
                name=f"bench rule {i}",
                model="customers.customer",
                trigger=trigger,
                trigger_config=config,
                conditions={"match": "all", "conditions": [{"field": "city", "op": "eq", "value": f"城{i}"}]},
                actions=[{"type": "add_tag", "tags": ["bench"]}],
                active=True,
                owner=owner,
            )  # fmt: skip
        )
    Rule.objects.bulk_create(rules)
    triggers.invalidate()


def test_automation_save_p95_with_1000_rules(settings, django_capture_on_commit_callbacks):
    """Saves alternate between the hook switched off and on (the same 1,000 active rules), so that the
    machine's load hits both series alike; the hook's own time (index lookup + task row) is also summed."""
    _postgres()
    from kehu.automation import triggers
    from kehu.automation.models import Rule
    from kehu.core import events
    from kehu.core.models import User
    from kehu.customers.models import Customer
    from kehu.customers.services import customer_update

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    user = User.objects.create_superuser(f"bench-rules-{time.time_ns() % 10**7}")
    customers = [Customer.objects.create(name=f"规则基准{i}", owner=user) for i in range(SAVES)]
    rng = random.Random(5)
    hook_ms: list[float] = []
    original_on_written, original_enqueue = triggers.on_written, triggers._enqueue

    def timed_on_written(*args):
        t0 = time.perf_counter()
        original_on_written(*args)
        hook_ms.append((time.perf_counter() - t0) * 1000)

    def timed_enqueue(payload):
        t0 = time.perf_counter()
        original_enqueue(payload)
        hook_ms[-1] += (time.perf_counter() - t0) * 1000

    def save(c, tag: str) -> float:
        c.refresh_from_db()
        t0 = time.perf_counter()
        with django_capture_on_commit_callbacks(execute=True):
            customer_update(
                customer=c, data={"city": f"{tag}{rng.randint(0, 10**6)}"}, by=user, expected_version=None
            )
        return (time.perf_counter() - t0) * 1000

    _bulk_rules(user, RULES)
    events.LISTENERS[:] = [h for h in events.LISTENERS if h is not original_on_written]
    for c in customers[:20]:
        save(c, "warm")
    off, on = [], []
    try:
        triggers._enqueue = timed_enqueue
        for i, c in enumerate(customers):
            events.LISTENERS.append(timed_on_written)
            on.append(save(c, "on"))
            events.LISTENERS.remove(timed_on_written)
            off.append(save(customers[-1 - i], "off"))
    finally:
        triggers._enqueue = original_enqueue
        events.LISTENERS.append(original_on_written)
    base = report("customer save, rules hook off", off)
    with_rules = report(f"customer save, {RULES} active rules (hook on, a task enqueued per save)", on)
    hook = report("the hook itself per save (index lookup + task row on commit)", hook_ms)
    print(
        f"BENCH save p95 added by {RULES} rules: {with_rules['p95'] - base['p95']:.1f} ms "
        f"(p50 {with_rules['p50'] - base['p50']:.1f} ms; hook p95 {hook['p95']:.1f} ms)"
    )
    Rule.objects.filter(owner=user).update(active=False)


def _import(user, stamp: str) -> tuple[float, float]:

    from kehu.customers.imports import services, worker
    from tests.customers.importing import csv_bytes

    cities = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京"]
    rows = [["客户名称", "手机", "邮箱", "城市", "备注"]]
    for i in range(ROWS):
        city = "拉萨" if i % 100 == 0 else cities[i % 8]  # ~1 % match the tagging rule
        rows.append(
            [
                f"自动化{stamp}{i}号",
                f"{'139' if stamp == '11' else '186'}{i:08d}",
                f"a{stamp}.{i}@bench.example.com",
                city,
                "",
            ]
        )
    job = services.import_upload(by=user, file_name="bench.csv", data=csv_bytes(rows))
    services.import_configure(
        job=job, by=user, mapping_=job.mapping, options={"mode": "create", "duplicates": "skip"}
    )
    services.import_start(job=job, by=user)
    from django.db import DEFAULT_DB_ALIAS, connections

    conn = connections[DEFAULT_DB_ALIAS]
    start = len(conn.run_on_commit)
    t0 = time.perf_counter()
    assert worker.import_job_work(job.pk) == "done"
    imported = time.perf_counter() - t0
    job.refresh_from_db()
    print(f"BENCH import job: created={job.created} skipped={job.skipped} failed={job.failed}")
    callbacks = conn.run_on_commit[start:]
    del conn.run_on_commit[start:]
    t0 = time.perf_counter()
    profile = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    for _sids, func, _robust in callbacks:
        func()
    evaluated = time.perf_counter() - t0
    if profile is not None:
        import pstats

        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(35)
    return imported, evaluated


def test_automation_import_with_rules(settings):
    _postgres()
    from kehu.automation import triggers
    from kehu.automation.models import Rule, RuleRun, Trigger
    from kehu.core.models import User

    settings.KEHU_IMPORT_MAX_ROWS = max(ROWS, 200_000)
    user = User.objects.create_superuser(f"bench-import-{time.time_ns() % 10**7}")
    plain, plain_eval = _import(user, "11")
    _bulk_rules(user, 19, created_only=True)  # conditions that match nothing (cities 城0…城18)
    Rule.objects.create(name="tag Lhasa", model="customers.customer", trigger=Trigger.CREATED, owner=user, active=True,
                        conditions={"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "拉萨"}]},
                        actions=[{"type": "add_tag", "tags": ["拉萨"]}])  # fmt: skip
    triggers.invalidate()
    ruled, evaluation = _import(user, "12")
    runs = RuleRun.objects.filter(rule__owner=user).count()
    line = (
        f"BENCH import of {ROWS:,} rows: {plain:.1f} s without rules; with 20 rules {ruled:.1f} s import "
        f"+ {evaluation:.1f} s evaluation ({runs:,} runs) = +{(ruled + evaluation - plain) / plain * 100:.1f} %"
    )
    print(line)
    with open(os.environ.get("BENCH_LOG", "var/bench.log"), "a", encoding="utf-8") as log:
        log.write(line + "\n")
    assert plain_eval < 5  # without rules nothing is enqueued
