"""Sales benchmarks at scale (issue #16): the kanban board of one pipeline filtered to a team, and the
opportunity list, with 1M customers and 200k open opportunities on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/kehubench make bench BENCH_ARGS="-k sales"
    BENCH_OPPORTUNITIES=200000 (default; open deals, plus a quarter as many closed ones)

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
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.bench.conftest import report, timed

pytestmark = pytest.mark.django_db

OPPORTUNITIES = int(os.environ.get("BENCH_OPPORTUNITIES", "200000"))


@pytest.fixture(scope="session")
def sales_dataset(big_dataset, django_db_blocker):
    """200k open deals (+ 50k closed) in the default pipeline over the demo owners' organisations."""
    from kehu.core import bulk
    from kehu.core.demo import SALES_GRANTS  # noqa: F401 - the demo roles carry the sales grants
    from kehu.customers.models import Customer
    from kehu.sales.models import CloseReason, Opportunity
    from kehu.sales.services.opportunities import pipeline_default

    with django_db_blocker.unblock():
        pipeline = pipeline_default()
        have = Opportunity.objects.count()
        total = OPPORTUNITIES + OPPORTUNITIES // 4
        if have < total:
            t0 = time.perf_counter()
            stages = list(pipeline.stages.order_by("position"))
            open_stages = [s for s in stages if s.kind == "open"]
            closed = {s.kind: s for s in stages if s.kind != "open"}
            reasons = {k: CloseReason.objects.filter(kind=k).first().pk for k in ("won", "lost")}
            rows = list(
                Customer.objects.filter(kind="organization").values_list("pk", "owner_id")[: total * 2]
            )
            rng = random.Random(23)
            now = timezone.now()
            start = bulk.next_ids(Opportunity, total - have).start
            fields = [
                "id", "name", "customer", "pipeline", "stage", "status", "amount", "currency", "probability",
                "expected_close_date", "closed_at", "close_reason", "close_note", "source", "next_step",
                "description", "position", "stage_entered_at", "last_activity_at", "owner", "custom",
                "created_at", "updated_at", "version",
            ]  # fmt: skip

            def gen():
                for i in range(total - have):
                    customer, owner = rng.choice(rows)
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
    return {"pipeline": pipeline, "opportunities": OPPORTUNITIES}


def test_kanban_board_filtered_to_a_team(sales_dataset):
    from kehu.core.models import Team, User
    from kehu.sales import selectors
    from kehu.sales.models import Opportunity

    pipeline = sales_dataset["pipeline"]
    team = Team.objects.get(name__contains="North key")
    members = selectors.team_member_ids(team)
    open_in_team = Opportunity.objects.filter(pipeline=pipeline, owner_id__in=members, status="open").count()
    client = Client()
    for username in ("admin", "manager"):
        user = User.objects.get(username=username)
        client.force_login(user)
        url = f"/api/pipelines/{pipeline.pk}/board/?team={team.pk}"
        assert client.get(url).status_code == 200
        counts = set()

        def call(url=url, counts=counts):
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url).status_code == 200
            counts.add(len(ctx.captured_queries))

        samples = timed(call, 30)
        report(
            f"kanban board API, team of {len(members)} ({open_in_team:,} open deals of "
            f"{sales_dataset['opportunities']:,}), {username}, queries {sorted(counts)}",
            samples,
        )
        selectors_samples = timed(
            lambda u=user: selectors.board(user=u, pipeline=pipeline, owner_ids=members), 30
        )
        report(f"kanban board selector, team, {username}", selectors_samples)


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
