"""Sales-management benchmarks (make bench BENCH_ARGS="-k salesmgmt"): attainment of a year's plan (company →
department → team → rep, live actuals from won deals and from paid order lines) and its bottom-up roll-up;
the manager's team-visits page; the rep's dashboard and the forecast pages (below, with open deals and tasks).

Scale (env): BENCH_SM_REPS reps (default 400, in teams of 10, 5 teams per department), BENCH_SM_CUSTOMERS
(200,000 bare customers), BENCH_SM_WON won deals (500,000 over this year and last), BENCH_SM_LINES paid order
lines (2,000,000, four per order), BENCH_SM_VISITS visits (300,000 over the last 100 days, three per rep
today). Generated once by INSERT … SELECT and kept with --reuse-db; figures are printed, never asserted."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.bench.bench_pools import _fill
from tests.bench.conftest import bulk_load, report, timed

pytestmark = pytest.mark.django_db

REPS = int(os.environ.get("BENCH_SM_REPS", "400"))
CUSTOMERS = int(os.environ.get("BENCH_SM_CUSTOMERS", "200000"))
WON = int(os.environ.get("BENCH_SM_WON", "500000"))
LINES = int(os.environ.get("BENCH_SM_LINES", "2000000"))
VISITS = int(os.environ.get("BENCH_SM_VISITS", "300000"))


@pytest.fixture(scope="session")
def sm_dataset(django_db_setup, django_db_blocker):
    if connection.vendor != "postgresql":
        pytest.fail("benchmarks run on PostgreSQL: set DATABASE_URL=postgres://...")
    from kehu.core import bulk
    from kehu.core.models import Department, Team, User
    from kehu.customers.models import Customer
    from kehu.sales.models import Opportunity, Order, OrderLine
    from kehu.sales.services.opportunities import pipeline_default
    from kehu.salesmgmt.models import PlanLevel, SalesPlan, Visit
    from kehu.salesmgmt.services import plans
    from tests.sales.conftest import demo_role

    with django_db_blocker.unblock():
        today = timezone.localdate()
        root = Department.objects.get_or_create(name="SM bench sales")[0]
        if not User.objects.filter(username="smrep0").exists():
            t0 = time.perf_counter()
            rep_role, mgr_role = demo_role("sales_rep"), demo_role("sales_manager")
            depts = [
                Department.objects.create(name=f"SM region {d}", parent=root)
                for d in range(max(1, REPS // 50))
            ]
            teams = [Team.objects.create(name=f"SM team {t}", department=depts[t // 5 % len(depts)]) for t in range(max(1, REPS // 10))]  # fmt: skip
            for i in range(REPS):
                team = teams[i // 10 % len(teams)]
                user = User.objects.create(username=f"smrep{i}", department=team.department)
                user.roles.add(rep_role)
                team.members.add(user)
            manager = User.objects.create(username="smmanager", department=depts[0])
            manager.roles.add(mgr_role)
            reps = list(
                User.objects.filter(username__startswith="smrep").order_by("id").values_list("id", flat=True)
            )
            arr = "ARRAY[" + ",".join(map(str, reps)) + "]"
            tables = [m._meta.db_table for m in (Customer, Opportunity, Order, OrderLine, Visit)]
            # 1M customers and 10M lines: FK triggers off and secondary indexes rebuilt once (bulk_load)
            with connection.cursor() as load_cursor, bulk_load(load_cursor, tables):
                first_c = bulk.next_ids(Customer, 1).start
                _fill(Customer, CUSTOMERS, first_c, {"id": "g", "name": "'SM客户 ' || g", "owner": f"({arr})[1 + mod(g, {len(reps)})]",
                                                    "created_at": "now()", "updated_at": "now()"})  # fmt: skip
                pipeline = pipeline_default()
                won = pipeline.stages.get(kind="won")
                year_start = dt.datetime(today.year - 1, 1, 1, tzinfo=timezone.get_current_timezone())
                days = (today - dt.date(today.year - 1, 1, 1)).days + 1
                first_o = bulk.next_ids(Opportunity, 1).start
                _fill(Opportunity, WON, first_o, {
                    "id": "g", "name": "'SM deal ' || g", "customer": f"{first_c} + mod(g, {CUSTOMERS})",
                    "owner": f"({arr})[1 + mod(g * 7, {len(reps)})]", "pipeline": str(pipeline.pk), "stage": str(won.pk),
                    "status": "'won'", "amount": "1000 + mod(g, 97) * 100", "probability": "100",
                    "closed_at": f"'{year_start.isoformat()}'::timestamptz + mod(g, {days}) * interval '1 day'",
                    "created_at": "now()", "updated_at": "now()", "stage_entered_at": "now()", "last_activity_at": "now()",
                })  # fmt: skip
                orders = LINES // 4
                first_ord = bulk.next_ids(Order, 1).start
                _fill(Order, orders, first_ord, {
                    "id": "g", "number": "'SM-' || g", "customer": f"{first_c} + mod(g, {CUSTOMERS})",
                    "owner": f"({arr})[1 + mod(g * 3, {len(reps)})]", "status": "'paid'",
                    "order_date": f"DATE '{today.year - 1}-01-01' + mod(g, {days})", "created_at": "now()", "updated_at": "now()",
                })  # fmt: skip
                first_l = bulk.next_ids(OrderLine, 1).start
                _fill(OrderLine, LINES, first_l, {
                    "id": "g", "order": f"{first_ord} + (g - {first_l}) / 4", "line_no": "1 + mod(g, 4)",
                    "quantity": "1 + mod(g, 5)", "unit_price": "250", "amount": "(1 + mod(g, 5)) * 250",
                    "customer": f"{first_c} + mod((g - {first_l}) / 4, {CUSTOMERS})",
                    "order_date": f"DATE '{today.year - 1}-01-01' + mod((g - {first_l}) / 4, {days})", "currency": "'CNY'",
                })  # fmt: skip
                tz_today = dt.datetime.combine(today, dt.time(8), tzinfo=timezone.get_current_timezone())
                first_v = bulk.next_ids(Visit, 1).start
                _fill(Visit, VISITS, first_v, {
                    "id": "g", "customer": f"{first_c} + mod(g, {CUSTOMERS})", "owner": f"({arr})[1 + mod(g, {len(reps)})]",
                    "subject": "'SM visit'",
                    "planned_start": f"'{tz_today.isoformat()}'::timestamptz - (g - {first_v}) / {3 * len(reps)} * interval '1 day' + mod(g, 3) * interval '2 hours'",
                    "created_at": "now()", "updated_at": "now()",
                })  # fmt: skip
            bulk.reset_sequences(Customer, Opportunity, Order, OrderLine, Visit)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            # this year's plan allocated evenly down to every rep
            plan = plans.plan_create(data={"name": "SM bench plan", "year": today.year}, by=manager)
            User.objects.filter(pk=manager.pk).update(is_superuser=True)
            manager.refresh_from_db()
            company = plans.plan_company_set(plan=plan, product_line=None, amount="100000000", units="0", by=manager, expected_version=plan.version)  # fmt: skip
            plan.refresh_from_db()
            top = plans.allocate(parent=company, method="even", children=[plans.Node(PlanLevel.DEPARTMENT, d) for d in depts], by=manager, expected_version=plan.version)  # fmt: skip
            for d_target in top:
                plan.refresh_from_db()
                kids = [n for n in plans.child_candidates(d_target) if n.level == PlanLevel.TEAM]
                for t_target in plans.allocate(
                    parent=d_target, method="even", children=kids, by=manager, expected_version=plan.version
                ):
                    plan.refresh_from_db()
                    plans.allocate(parent=t_target, method="even", children=plans.child_candidates(t_target), by=manager, expected_version=plan.version)  # fmt: skip
                    plan.refresh_from_db()
            User.objects.filter(pk=manager.pk).update(is_superuser=False)
            print(f"BENCH salesmgmt: generated {REPS} reps, {CUSTOMERS} customers, {WON} won deals, {LINES} paid lines, {VISITS} visits, {plan.targets.count()} targets in {time.perf_counter() - t0:.0f}s")  # fmt: skip
        return SalesPlan.objects.get(name="SM bench plan")


def test_salesmgmt_attainment_and_rollup(sm_dataset):
    from kehu.core.models import User
    from kehu.salesmgmt.models import PlanTarget
    from kehu.salesmgmt.services import plans
    from kehu.salesmgmt.services.actuals import attainment

    plan = sm_dataset
    company = PlanTarget.objects.get(plan=plan, key="company|*")
    team = PlanTarget.objects.filter(plan=plan, level="team").first()
    for source in ("won", "paid"):
        type(plan).objects.filter(pk=plan.pk).update(actuals_source=source)
        plan.refresh_from_db()
        report(
            f"salesmgmt attainment company level ({source})",
            timed(lambda: attainment(plan=plan, target=company), 5),
        )
        report(
            f"salesmgmt attainment team → reps ({source})",
            timed(lambda: attainment(plan=plan, target=team), 5),
        )

    def full_tree():  # company → every department → every team → reps: what a full drill-down reads
        from kehu.salesmgmt.services.actuals import plan_actuals

        actuals = plan_actuals(
            period_kind="year", year=plan.year, number=0, source=plan.actuals_source, currency="CNY"
        )
        for t in PlanTarget.objects.filter(plan=plan):
            actuals.node(t.level, t.department_id or t.team_id or t.rep_id, None)

    report("salesmgmt roll-up of actuals over the whole tree (paid)", timed(full_tree, 3))
    manager = User.objects.get(username="smmanager")
    User.objects.filter(pk=manager.pk).update(is_superuser=True)
    manager.refresh_from_db()

    def rollup():
        plan.refresh_from_db()
        plans.plan_rollup(plan=plan, by=manager, expected_version=plan.version)

    report("salesmgmt plan_rollup (bottom-up figures)", timed(rollup, 3))
    User.objects.filter(pk=manager.pk).update(is_superuser=False)


def test_salesmgmt_team_visits_page(sm_dataset):
    from kehu.core.models import User

    client = Client()
    client.force_login(User.objects.get(username="smmanager"))
    assert client.get("/sales-management/visits/team/").status_code == 200
    report(
        "salesmgmt team visits page (manager, department scope)",
        timed(lambda: client.get("/sales-management/visits/team/"), 40),
    )


# --- expenses and performance (ADR 0016) -----------------------------------------------------------------------
EXPENSES = int(os.environ.get("BENCH_SM_EXPENSES", "100000"))


def test_salesmgmt_performance_page_of_a_team(sm_dataset):
    """The performance page of one team (10 reps) and of the manager's department (50 reps) for this year:
    quota, results (won deals and paid orders), won/lost aggregates, conversion per stage over the deals
    created this year, activities, visits and `BENCH_SM_EXPENSES` expenses (generated here once)."""
    from kehu.core import bulk
    from kehu.core.models import Team, User
    from kehu.salesmgmt.models import Expense, ExpenseCategory

    if not Expense.objects.exists():
        category = ExpenseCategory.objects.get_or_create(name="SM bench travel")[0]
        reps = list(
            User.objects.filter(username__startswith="smrep").order_by("id").values_list("id", flat=True)
        )
        arr = "ARRAY[" + ",".join(map(str, reps)) + "]"
        today = timezone.localdate()
        first = bulk.next_ids(Expense, 1).start
        _fill(Expense, EXPENSES, first, {
            "id": "g", "owner": f"({arr})[1 + mod(g, {len(reps)})]", "category": str(category.pk),
            "amount": "10 + mod(g, 500)", "currency": "'CNY'", "status": "'approved'",
            "spent_on": f"DATE '{today.year}-01-01' + mod(g, {max(1, (today - dt.date(today.year, 1, 1)).days + 1)})",
            "created_at": "now()", "updated_at": "now()",
        })  # fmt: skip
        bulk.reset_sequences(Expense)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE salesmgmt_expense")
    manager = User.objects.get(username="smmanager")
    team = Team.objects.filter(name="SM team 0").get()
    client = Client()
    client.force_login(manager)
    plan = sm_dataset
    for source in ("won", "paid"):
        type(plan).objects.filter(pk=plan.pk).update(actuals_source=source)
        url = f"/sales-management/performance/?period={plan.year}&team={team.pk}"
        page = client.get(url)
        assert page.status_code == 200 and b'data-testid="rep-' in page.content
        report(f"salesmgmt performance page, team of 10 ({source})", timed(lambda u=url: client.get(u), 20))
        url = f"/sales-management/performance/?period={plan.year}"
        report(
            f"salesmgmt performance page, department of 50 ({source})", timed(lambda u=url: client.get(u), 10)
        )
    type(plan).objects.filter(pk=plan.pk).update(actuals_source="won")


# ------------------------------------------------------------------------------------- forecast and dashboards
# BENCH_SM_OPEN open deals (default 300,000: expected to close within ±120 days, a third categorised, an eighth
# stalled) and BENCH_SM_TASKS tasks (default 300,000) on top of the data set above. BENCH_SM_LOAD background
# clients (default 2) load other reps' dashboards and the manager's forecast while the rep's page is timed.
OPEN = int(os.environ.get("BENCH_SM_OPEN", "300000"))
TASKS = int(os.environ.get("BENCH_SM_TASKS", "300000"))
LOAD = int(os.environ.get("BENCH_SM_LOAD", "2"))


@pytest.fixture(scope="session")
def fc_dataset(sm_dataset, django_db_blocker):
    from kehu.core import bulk
    from kehu.core.models import User
    from kehu.customers.models import Customer
    from kehu.interactions.models import Task
    from kehu.sales.models import Opportunity
    from kehu.sales.services.opportunities import pipeline_default
    from kehu.salesmgmt.models import ForecastEntry, Visit
    from kehu.salesmgmt.services import forecast as fc
    from tests.bench.conftest import bench_now

    with django_db_blocker.unblock():
        if not Opportunity.objects.filter(name="SM open 0").exists() and not ForecastEntry.objects.exists():
            t0 = time.perf_counter()
            now_dt = bench_now()  # the frozen clock the tests run on (the data set above uses the wall clock)
            today = timezone.localtime(now_dt).date()
            reps = list(
                User.objects.filter(username__startswith="smrep").order_by("id").values_list("id", flat=True)
            )
            arr = "ARRAY[" + ",".join(map(str, reps)) + "]"
            first_c = Customer.objects.order_by("id").values_list("id", flat=True).first()
            n_c = Customer.objects.count()
            pipeline = pipeline_default()
            stages = list(pipeline.stages.filter(kind="open").order_by("id").values_list("id", "probability"))
            s_arr = "ARRAY[" + ",".join(str(s) for s, _p in stages) + "]"
            p_arr = "ARRAY[" + ",".join(str(p) for _s, p in stages) + "]"
            now = now_dt.isoformat()
            first_o = bulk.next_ids(Opportunity, 1).start
            _fill(Opportunity, OPEN, first_o, {
                "id": "g", "name": f"'SM open ' || (g - {first_o})", "customer": f"{first_c} + mod(g, {n_c})",
                "owner": f"({arr})[1 + mod(g * 11, {len(reps)})]", "pipeline": str(pipeline.pk),
                "stage": f"({s_arr})[1 + mod(g, {len(stages)})]", "probability": f"({p_arr})[1 + mod(g, {len(stages)})]",
                "status": "'open'", "amount": "500 + mod(g, 89) * 100",
                "expected_close_date": f"DATE '{today.isoformat()}' - 120 + mod(g / 7, 240)",
                "created_at": "now()", "updated_at": "now()", "stage_entered_at": "now()",
                "last_activity_at": f"'{now}'::timestamptz - (CASE WHEN mod(g / 3, 8) = 0 THEN 90 ELSE mod(g, 10) END) * interval '1 day'",
            })  # fmt: skip
            first_e = bulk.next_ids(ForecastEntry, 1).start
            cats = "ARRAY['pipeline','best_case','commit','omitted']"
            _fill(ForecastEntry, OPEN // 3, first_e, {
                "id": "g", "opportunity": f"{first_o} + (g - {first_e}) * 3", "category": f"({cats})[1 + mod(g, 4)]",
                "created_at": "now()", "updated_at": "now()",
            })  # fmt: skip
            first_t = bulk.next_ids(Task, 1).start
            _fill(Task, TASKS, first_t, {
                "id": "g", "title": "'SM task ' || g", "owner": f"({arr})[1 + mod(g, {len(reps)})]",
                "due_at": f"'{now}'::timestamptz + (mod(g, 60) - 30) * interval '1 day'", "status": "'open'",
                "created_at": "now()", "updated_at": "now()",
            })  # fmt: skip
            first_v = bulk.next_ids(Visit, 1).start  # three visits per rep on the frozen today
            tz_today = dt.datetime.combine(today, dt.time(9), tzinfo=timezone.get_current_timezone())
            _fill(Visit, 3 * len(reps), first_v, {
                "id": "g", "customer": f"{first_c} + mod(g, {n_c})", "owner": f"({arr})[1 + mod(g, {len(reps)})]",
                "subject": "'SM visit today'", "created_at": "now()", "updated_at": "now()",
                "planned_start": f"'{tz_today.isoformat()}'::timestamptz + mod(g, 3) * interval '2 hours'",
            })  # fmt: skip
            bulk.reset_sequences(Opportunity, ForecastEntry, Task, Visit)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            n = fc.snapshot_take(today=today)
            print(f"BENCH salesmgmt forecast: generated {OPEN} open deals, {OPEN // 3} categories, {TASKS} tasks, {n} snapshots in {time.perf_counter() - t0:.0f}s")  # fmt: skip
    return sm_dataset


def _load(stop, paths_users):
    """A background client: loops over (path, username) until `stop` is set (its own DB connection)."""
    from django.db import connections

    from kehu.core.models import User

    try:
        clients = []
        for path, username in paths_users:
            c = Client()
            c.force_login(User.objects.get(username=username))
            clients.append((c, path))
        i = 0
        while not stop.is_set():
            c, path = clients[i % len(clients)]
            c.get(path)
            i += 1
    finally:
        connections.close_all()


def test_salesmgmt_dataset(fc_dataset):
    """Generates (or reuses) the whole data set and prints its scale: run it alone first (`-k dataset`) so the
    timed runs later measure only."""
    from kehu.customers.models import Customer
    from kehu.sales.models import OrderLine

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"BENCH salesmgmt scale: {Customer.objects.count()} customers, {OrderLine.objects.count()} order lines"
    )


def test_salesmgmt_rep_dashboard_and_forecast(fc_dataset, django_db_blocker):
    import threading

    from kehu.core.models import User
    from kehu.customers.models import Customer

    rep = User.objects.get(username="smrep5")
    client = Client()
    client.force_login(rep)
    page = client.get("/sales-management/dashboard/")
    assert page.status_code == 200 and page.context["day"].closing.total > 0
    n_customers = Customer.objects.count()
    print(
        f"BENCH salesmgmt scale: {n_customers} customers, {REPS} reps, {OPEN} open deals, load={LOAD} clients"
    )
    report("salesmgmt rep dashboard (no load)", timed(lambda: client.get("/sales-management/dashboard/"), 40))
    report(
        "salesmgmt rep forecast page (no load)", timed(lambda: client.get("/sales-management/forecast/"), 20)
    )
    manager = Client()
    manager.force_login(User.objects.get(username="smmanager"))
    report("salesmgmt manager team dashboard (no load)", timed(lambda: manager.get("/sales-management/dashboard/team/"), 10))  # fmt: skip
    report("salesmgmt manager forecast page (no load)", timed(lambda: manager.get("/sales-management/forecast/"), 10))  # fmt: skip
    if LOAD:
        stop = threading.Event()
        work = [("/sales-management/dashboard/", f"smrep{10 + k}") for k in range(5)] + [
            ("/sales-management/forecast/", "smmanager")
        ]
        threads = [threading.Thread(target=_load, args=(stop, work[k::LOAD])) for k in range(LOAD)]
        for t in threads:
            t.start()
        try:
            time.sleep(1)
            report(f"salesmgmt rep dashboard (under load: {LOAD} clients)", timed(lambda: client.get("/sales-management/dashboard/"), 40))  # fmt: skip
        finally:
            stop.set()
            for t in threads:
                t.join()
