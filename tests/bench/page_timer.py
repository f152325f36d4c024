"""Time one page for a few users against an existing bench database (no pytest, no data generation): wall
p50/p95, the process's Python CPU time, the statements and their time. The clock is the suite's frozen clock
(tests/clock.py), as in the benches, so "overdue" means the same as when the data set was generated.

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/test_kehu_salesperf nice -n 10 \\
        .venv/bin/python tests/bench/page_timer.py "/sales/receivables/?team=1" admin,manager,rep1 20

PROF=1 adds a cProfile of one request and the five slowest statements; SQL=1 lists every statement of one
request. The process is tuned like a web worker
(kehu.wsgi calls kehu.core.runtime.tune_gc after start-up); KEHU_GC_TUNING=0 measures without it."""
# ruff: noqa: E402, T201 - a script: Django is set up before the imports that need it; it prints

from __future__ import annotations

import cProfile
import os
import pstats
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.test")
sys.path.insert(0, os.getcwd())  # run from the project root

import django

django.setup()

import time_machine
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import setup_test_environment

from kehu.core.models import User
from kehu.core.runtime import tune_gc
from tests import clock


def p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]


def main(url: str, usernames: list[str], runs: int) -> None:
    for username in usernames:
        client = Client()
        client.force_login(User.objects.get(username=username))
        assert client.get(url).status_code == 200
        statements: list[tuple[float, str]] = []

        def timed_statement(execute, sql, params, many, context, statements=statements):
            t0 = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                statements.append((time.perf_counter() - t0, sql))

        # counted by an execute wrapper: connection.queries keeps 9,000 entries, after which a
        # CaptureQueriesContext slice of it is empty (it printed "0 statements")
        with connection.execute_wrapper(timed_statement):
            client.get(url)
        sql = sum(t for t, _sql in statements) * 1000
        if os.environ.get("SQL"):  # every statement of one request, in order
            for t, sql_text in statements:
                print(f"  {t * 1000:6.1f} {sql_text[:160]}")
        wall, cpu = [], []
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            client.get(url)
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        print(
            f"{url} {username}: wall p50 {statistics.median(wall):.0f} p95 {p95(wall):.0f} ms; Python CPU p50 "
            f"{statistics.median(cpu):.0f} p95 {p95(cpu):.0f} ms; {len(statements)} statements, "
            f"{sql:.0f} ms; load {os.getloadavg()[0]:.1f}"
        )
        if os.environ.get("PROF"):
            profile = cProfile.Profile()
            profile.enable()
            client.get(url)
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
            for t, sql_text in sorted(statements, reverse=True)[:5]:
                print(f"{t * 1000:.1f}", sql_text[:400])


if __name__ == "__main__":
    settings.ALLOWED_HOSTS = ["*"]
    setup_test_environment()
    time_machine.travel(clock.frozen_now(), tick=True).start()
    print(f"gc tuning (kehu.core.runtime): {'on' if tune_gc() else 'off'}")
    main(sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]) if len(sys.argv) > 3 else 20)
