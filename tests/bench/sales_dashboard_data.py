"""Add what the sales dashboards and the forecast page read to an existing sales bench database (bench_sales.py's
1M customers / 200k open deals), so they can be timed at that scale with page_timer.py (issue #17's rep dashboard
and manager forecast): a forecast category on a third of the open deals of the manager's department, this year's
plan with a target per rep of the department, 300 open tasks and three visits today for rep1, one weekly
snapshot. Idempotent (does nothing when the plan exists). The clock is the suite's frozen clock.

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/test_kehu_salesperf_bench nice -n 10 \\
        .venv/bin/python tests/bench/sales_dashboard_data.py
"""
# ruff: noqa: E402, T201 - a script: Django is set up before the imports that need it; it prints

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from decimal import Decimal

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.test")
sys.path.insert(0, os.getcwd())  # run from the project root

import django

django.setup()

import time_machine
from django.db import connection, transaction
from django.utils import timezone

from kehu.core.access import Access
from kehu.core.models import User
from kehu.interactions.models import Task
from kehu.sales.models import Opportunity
from kehu.salesmgmt.models import ForecastCategory, ForecastEntry, PlanTarget, SalesPlan, Visit
from kehu.salesmgmt.services import forecast as fc
from tests import clock


def main() -> None:
    today = timezone.localdate()
    if SalesPlan.objects.filter(year=today.year, period_kind="year", name="Bench plan").exists():
        print("dashboard data already there")
        return
    t0 = time.perf_counter()
    manager, rep1 = User.objects.get(username="manager"), User.objects.get(username="rep1")
    access = Access.of(manager)
    reps = sorted(access.owner_ids(access.grant("sales.opportunity").read_scope) or ())
    categories = [ForecastCategory.PIPELINE, ForecastCategory.BEST_CASE, ForecastCategory.COMMIT,
                  ForecastCategory.OMITTED]  # fmt: skip
    with transaction.atomic():
        open_ids = list(
            Opportunity.objects.filter(owner_id__in=reps, status="open")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        ForecastEntry.objects.bulk_create(
            [
                ForecastEntry(opportunity_id=pk, category=categories[i % 4])
                for i, pk in enumerate(open_ids[::3])
            ],
            batch_size=5000,
            ignore_conflicts=True,
        )
        plan = SalesPlan(name="Bench plan", year=today.year)
        plan.clean()  # the period's dates
        plan.save()
        PlanTarget.objects.bulk_create(
            [
                PlanTarget(plan=plan, level="rep", rep_id=pk, amount=Decimal(4_000_000), key=f"rep:{pk}|*")
                for pk in reps
            ]
        )
        now = timezone.now()
        Task.objects.bulk_create(
            [
                Task(title=f"跟进 {i}", owner=rep1, due_at=now + dt.timedelta(hours=i - 150), status="open")
                for i in range(300)
            ]
        )
        customer_id = Opportunity.objects.filter(owner=rep1).values_list("customer_id", flat=True).first()
        start = dt.datetime.combine(today, dt.time(9), tzinfo=timezone.get_current_timezone())
        Visit.objects.bulk_create(
            [
                Visit(
                    customer_id=customer_id,
                    owner=rep1,
                    subject="拜访",
                    planned_start=start + dt.timedelta(hours=2 * i),
                )
                for i in range(3)
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    snapshots = fc.snapshot_take(today=today)
    print(
        f"{len(open_ids[::3])} forecast categories, {len(reps)} rep targets, 300 tasks, 3 visits, "
        f"{snapshots} snapshots in {time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    time_machine.travel(clock.frozen_now(), tick=True).start()
    main()
