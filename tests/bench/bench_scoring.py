"""The scoring run as it runs in production: committed (deferred constraint checks and all), twice on the
same data — the first run after the data set is loaded, then a rerun over its own rows (the nightly case) —
with the split per phase, the commit and the load average before and after each run (issue #11; docs/benchmarks.md,
"Analytics scoring, second pass").

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/kehubench BENCH_BARE_CUSTOMERS=1 BENCH_INTERACTIONS=0 \\
      BENCH_ORDER_LINES=10000000 make bench BENCH_ARGS="-k scoring"

Scores are committed into the benchmark database (the report benchmark reuses them). Nothing asserts times.
"""

from __future__ import annotations

import os
import time

import pytest
from django.db import connection
from django.utils import timezone

from tests.bench.bench_analytics import order_dataset  # noqa: F401 - the shared order-line data set
from tests.bench.conftest import PeakMemory

ISSUE_PART = ("aggregate", "fit", "score", "write")


def _load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


@pytest.fixture(scope="session")
def committed_runs(order_dataset, django_db_blocker):  # noqa: F811
    """The runs, committed: a session fixture runs before the test's own transaction starts."""
    from kehu.analytics.services import scoring_run

    done = []
    runs = int(os.environ.get("BENCH_SCORING_RUNS", "2"))
    with django_db_blocker.unblock():
        for i in range(runs):
            before = _load()
            with PeakMemory() as memory:
                t0 = time.perf_counter()
                run = scoring_run()
                total = time.perf_counter() - t0
            part = sum(run.timings.get(k, 0.0) for k in ISSUE_PART)
            split = ", ".join(f"{k} {v:.2f}s" for k, v in run.timings.items())
            line = (
                f"BENCH analytics scoring committed, run {i + 1}: {run.customers} scored, "
                f"{order_dataset['order_lines']} order lines: total {total:.2f}s; RFM + BG/NBD + Gamma-Gamma + "
                f"scoring + write-back {part:.2f}s ({split}); summary moves "
                f"{getattr(run, 'summary_moves', None)}; {memory}; loadavg before {before}, after {_load()}"
            )
            print(line)
            with open(os.environ.get("BENCH_LOG", "var/bench.log"), "a", encoding="utf-8") as log:
                log.write(f"{timezone.now():%Y-%m-%d %H:%M} {connection.vendor} {line}\n")
            done.append(run)
    return done


@pytest.mark.django_db
def test_scoring_committed_first_run_and_rerun(committed_runs):
    assert committed_runs and all(r.status == "done" and r.customers > 0 for r in committed_runs)
