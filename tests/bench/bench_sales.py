"""Sales benchmarks at scale (issue #16): the kanban board of one pipeline filtered to a team, and the
opportunity list, with 1M customers and 200k open opportunities on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/kehubench make bench BENCH_ARGS="-k sales"
    BENCH_OPPORTUNITIES=200000 (default; open deals, plus a quarter as many closed ones)
    BENCH_CONTRACTS=60000 (default; with 1-6 instalments each)
    BENCH_BARE_CUSTOMERS=1 BENCH_INTERACTIONS=0: a 1M data set in minutes (see conftest.py)

Figures are printed (and appended to var/bench.log); nothing asserts wall-clock times.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.bench.conftest import bench_now, report, timed

pytestmark = pytest.mark.django_db

OPPORTUNITIES = int(os.environ.get("BENCH_OPPORTUNITIES", "200000"))
CONTRACTS = int(os.environ.get("BENCH_CONTRACTS", "60000"))
# a realistic sales force: 24 teams of 10 reps (half in the north region, half in the east) and one big key
# account team (the demo's North key accounts: 3 demo members + 30 bench reps); a rep's share of the deals is
# skewed (gamma weights), so a team holds ~4 % of the deals and the big team ~12 %
TEAMS, TEAM_SIZE, BIG_TEAM_EXTRA = 24, 10, 30
BIG_TEAM, TEAM = "North key", "Bench team 01"


def _sales_force():
    """The bench reps and teams (created once), and every rep who owns deals: [(user id, weight)]."""
    from django.contrib.auth.hashers import make_password

    from kehu.core.models import Department, Role, Team, User

    if not User.objects.filter(username="benchrep001").exists():
        north = Department.objects.get(name__contains="North region")
        east = Department.objects.get(name__contains="East region")
        rep_role = Role.objects.get(code="sales_rep")
        password = make_password(None)
        big = Team.objects.get(name__contains=BIG_TEAM)
        n = 0
        for t in range(TEAMS + 1):
            dept = north if t % 2 == 0 or t == TEAMS else east
            team = big if t == TEAMS else Team.objects.create(name=f"Bench team {t + 1:02d}", department=dept)
            for _ in range(BIG_TEAM_EXTRA if t == TEAMS else TEAM_SIZE):
                n += 1
                user = User.objects.create(
                    username=f"benchrep{n:03d}", display_name=f"销售 {n:03d}", password=password,
                    email=f"benchrep{n:03d}@kehu.example", department=dept,
                )  # fmt: skip
                user.roles.set([rep_role])
                team.members.add(user)
    reps = list(
        User.objects.filter(
            Q(username__startswith="benchrep") | Q(username__in=["manager", "rep1", "rep2", "rep3", "rep4"])
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    rng = random.Random(5)
    return [(pk, rng.gammavariate(4.0, 1.0)) for pk in reps]


@pytest.fixture(scope="session")
def sales_dataset(big_dataset, django_db_blocker):
    """200k open deals (+ 50k closed) in the default pipeline, owned by ~275 reps in 25 teams; 60k contracts
    with their receivable plans (a tenth of the due instalments unpaid: the overdue receivables)."""
    from kehu.core import bulk
    from kehu.core.demo import SALES_GRANTS  # noqa: F401 - the demo roles carry the sales grants
    from kehu.customers.models import Customer
    from kehu.sales.models import CloseReason, Contract, Instalment, Opportunity
    from kehu.sales.services.opportunities import pipeline_default

    with django_db_blocker.unblock():
        pipeline = pipeline_default()
        force = _sales_force()
        owner_ids = [pk for pk, _w in force]
        weights = [w for _pk, w in force]
        have = Opportunity.objects.count()
        total = OPPORTUNITIES + OPPORTUNITIES // 4
        customers = None
        if have < total:
            t0 = time.perf_counter()
            stages = list(pipeline.stages.order_by("position"))
            open_stages = [s for s in stages if s.kind == "open"]
            closed = {s.kind: s for s in stages if s.kind != "open"}
            reasons = {k: CloseReason.objects.filter(kind=k).first().pk for k in ("won", "lost")}
            customers = list(
                Customer.objects.filter(kind="organization").values_list("pk", flat=True)[: total * 2]
            )
            rng = random.Random(23)
            now = bench_now()
            start = bulk.next_ids(Opportunity, total - have).start
            owners = rng.choices(owner_ids, weights, k=total - have)
            fields = [
                "id", "name", "customer", "pipeline", "stage", "status", "amount", "currency", "probability",
                "expected_close_date", "closed_at", "close_reason", "close_note", "source", "next_step",
                "description", "position", "stage_entered_at", "last_activity_at", "owner", "custom",
                "created_at", "updated_at", "version",
            ]  # fmt: skip

            def gen():
                for i in range(total - have):
                    customer, owner = rng.choice(customers), owners[i]
                    created = now - dt.timedelta(minutes=rng.randrange(60 * 24 * 700))
                    if i % 5 == 4:
                        stage = closed["won" if rng.random() < 0.5 else "lost"]
                        reason, closed_at = reasons[stage.kind], created + dt.timedelta(days=30)
                    else:
                        stage, reason, closed_at = rng.choice(open_stages), None, None
                    yield (
                        start + i, f"商机 {start + i}", customer, pipeline.pk, stage.pk, stage.kind,
                        Decimal(rng.randrange(1, 500) * 1000), "CNY", stage.probability,
                        (created + dt.timedelta(days=rng.randrange(10, 200))).date(), closed_at, reason, "",
                        "web", "", "", (start + i) * 1024, created, created, owner, "{}", created, created, 1,
                    )  # fmt: skip

            bulk.insert_rows(Opportunity, fields, gen())
            bulk.reset_sequences(Opportunity)
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE sales_opportunity")
            print(f"BENCH generated {total - have} opportunities in {time.perf_counter() - t0:.0f}s")
        have = Contract.objects.count()
        if have < CONTRACTS:
            t0 = time.perf_counter()
            if customers is None:
                customers = list(
                    Customer.objects.filter(kind="organization").values_list("pk", flat=True)[: total * 2]
                )
            rng = random.Random(31)
            now = bench_now()
            today = timezone.localdate(now)
            missing = CONTRACTS - have
            start = bulk.next_ids(Contract, missing).start
            owners = rng.choices(owner_ids, weights, k=missing)
            contracts, instalments = [], []
            for i in range(missing):
                pk = start + i
                # signed in the last two years, paid in 1-6 instalments, monthly or quarterly
                begin = today - dt.timedelta(days=rng.randrange(730))
                n = rng.choice((1, 2, 3, 3, 4, 6))
                every = rng.choice((30, 91))
                amount = Decimal(rng.randrange(10, 2000) * 1000)
                part = (amount / n).quantize(Decimal("0.01"))
                paid_total = Decimal(0)
                for k in range(n):
                    due = begin + dt.timedelta(days=30 + every * k)
                    value = part if k < n - 1 else amount - part * (n - 1)
                    if due < today and rng.random() < 0.88:
                        paid, status = value, "paid"  # most customers pay, some late
                    elif due < today and rng.random() < 0.3:
                        paid, status = (value / 2).quantize(Decimal("0.01")), "partly"
                    else:
                        paid, status = Decimal(0), "open"
                    paid_total += paid
                    instalments.append((pk, k + 1, due, value, "CNY", paid, status, "", now, now, 1))
                end = begin + dt.timedelta(days=365)
                contracts.append((
                    pk, f"BC{pk:08d}", f"合同 {pk}", rng.choice(customers), amount, "CNY", begin, end, begin,
                    "active" if end >= today else "expired", "", 30, paid_total, Decimal(0), owners[i], "{}",
                    now, now, 1,
                ))  # fmt: skip
            bulk.insert_rows(
                Contract,
                ["id", "number", "title", "customer", "amount", "currency", "start_date", "end_date",
                 "signed_date", "status", "terms", "renewal_notice_days", "paid_amount", "invoiced_amount",
                 "owner", "custom", "created_at", "updated_at", "version", "receivable_outstanding"],
                [(*row, Decimal(0)) for row in contracts],  # derived below
            )  # fmt: skip
            first = bulk.next_ids(Instalment, len(instalments)).start
            bulk.insert_rows(
                Instalment,
                ["id", "contract", "sequence", "due_date", "amount", "currency", "paid_amount", "status",
                 "notes", "created_at", "updated_at", "version"],
                ((first + j, *row) for j, row in enumerate(instalments)),
            )  # fmt: skip
            bulk.reset_sequences(Contract, Instalment)
            from kehu.sales.services.receivables import contract_receivables_refresh

            contract_receivables_refresh(contract_ids=Contract.objects.filter(pk__gte=start).values("pk"))
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE sales_contract")
                cursor.execute("VACUUM ANALYZE sales_instalment")
            print(
                f"BENCH generated {missing} contracts and {len(instalments)} instalments in "
                f"{time.perf_counter() - t0:.0f}s"
            )
    return {"pipeline": pipeline, "opportunities": OPPORTUNITIES}


def test_kanban_board_filtered_to_a_team(sales_dataset):
    from kehu.core.models import Team, User
    from kehu.sales import selectors
    from kehu.sales.models import Opportunity

    pipeline = sales_dataset["pipeline"]
    client = Client()
    for team_name in (BIG_TEAM, TEAM):
        team = Team.objects.get(name__contains=team_name)
        members = selectors.team_member_ids(team)
        open_in_team = Opportunity.objects.filter(
            pipeline=pipeline, owner_id__in=members, status="open"
        ).count()
        for username in ("admin", "manager"):
            user = User.objects.get(username=username)
            client.force_login(user)
            for url, label in (
                (f"/api/pipelines/{pipeline.pk}/board/?team={team.pk}", "API"),
                (f"/sales/board/{pipeline.pk}/?team={team.pk}", "page"),
            ):
                assert client.get(url).status_code == 200
                counts = set()

                def call(url=url, counts=counts):
                    with CaptureQueriesContext(connection) as ctx:
                        assert client.get(url).status_code == 200
                    counts.add(len(ctx.captured_queries))

                samples = timed(call, 30)
                report(
                    f"kanban board {label}, {team_name} ({len(members)} members, {open_in_team:,} open deals of "
                    f"{sales_dataset['opportunities']:,}), {username}, queries {sorted(counts)}",
                    samples,
                )
            selectors_samples = timed(
                lambda u=user, m=members: selectors.board(user=u, pipeline=pipeline, owner_ids=m), 30
            )
            report(f"kanban board selector, {team_name}, {username}", selectors_samples)


def test_opportunity_list(sales_dataset):
    from kehu.core.models import User

    client = Client()
    for username in ("admin", "manager", "rep1"):
        client.force_login(User.objects.get(username=username))
        for url, label in (
            ("/sales/opportunities/", "page"),
            ("/sales/opportunities/?status=open&sort=expected_close_date", "page, open by close date"),
            ("/api/opportunities/?status=open", "API, open"),
        ):
            assert client.get(url).status_code == 200
            samples = timed(lambda url=url: client.get(url), 20)
            report(f"opportunity list {label}, {username}", samples)


def test_overdue_receivables_of_a_team(sales_dataset):
    """The receivables page filtered to a team: outstanding and overdue per customer and per rep."""
    from kehu.core.models import Team, User
    from kehu.sales import selectors
    from kehu.sales.models import Instalment

    client = Client()
    today = timezone.localdate()
    for team_name in (BIG_TEAM, TEAM):
        team = Team.objects.get(name__contains=team_name)
        members = selectors.team_member_ids(team)
        overdue = Instalment.objects.filter(
            contract__owner_id__in=members, status__in=["open", "partly"], due_date__lt=today
        ).count()
        for username in ("admin", "manager"):
            client.force_login(User.objects.get(username=username))
            url = f"/sales/receivables/?team={team.pk}"
            assert client.get(url).status_code == 200
            counts = set()

            def call(url=url, counts=counts):
                with CaptureQueriesContext(connection) as ctx:
                    assert client.get(url).status_code == 200
                counts.add(len(ctx.captured_queries))

            samples = timed(call, 30)
            report(
                f"overdue receivables page, {team_name} ({len(members)} members, {overdue:,} overdue "
                f"instalments), {username}, queries {sorted(counts)}",
                samples,
            )
