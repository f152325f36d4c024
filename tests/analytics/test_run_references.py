"""The scores', values' and snapshots' references to their scoring run and value cycle carry no database
foreign key (migration 0008: the per-row checks were most of the write-back's time). Migration 0009 keeps the
referential actions in the database (triggers on the run and cycle tables) and the scoring run holds its run
row while it writes (services._hold): these tests delete runs in every way a run can be deleted — the ORM,
plain SQL, TRUNCATE, before the write phase, and from another connection while a run writes — and require
that no row is left pointing at a run or cycle that does not exist, and that the pages still open."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from kehu.analytics import services
from kehu.analytics.models import CustomerScore, ScoringRun
from kehu.analytics.models_value import CustomerValue, ValueCycle, ValueSnapshot
from kehu.analytics.services import scoring_run

from .test_value import history  # noqa: F401 - the 60-customer fixture

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL locks and TRUNCATE")

ORPHANS = """
SELECT (SELECT count(*) FROM analytics_customerscore AS s
        WHERE s.run_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM analytics_scoringrun AS r WHERE r.id = s.run_id)),
       (SELECT count(*) FROM analytics_customervalue AS v
        WHERE v.run_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM analytics_scoringrun AS r WHERE r.id = v.run_id)),
       (SELECT count(*) FROM analytics_valuesnapshot AS n
        WHERE NOT EXISTS (SELECT 1 FROM analytics_valuecycle AS c WHERE c.id = n.cycle_id))
"""


def orphans(using: str = "default") -> tuple:
    with connections[using].cursor() as cursor:
        cursor.execute(ORPHANS)
        return tuple(cursor.fetchone())


def _pages_open(org, client_for, api_for, customer) -> None:
    from tests.factories import UserFactory

    admin = UserFactory(username=f"admin{ScoringRun.objects.count()}{customer.pk}", is_superuser=True)
    client = client_for(admin)
    for url in ("/analytics/", "/analytics/value/", "/analytics/value/loop/", "/analytics/churn/",
                "/analytics/diagnostics/", "/analytics/nba/", f"/customers/{customer.pk}/"):  # fmt: skip
        assert client.get(url).status_code == 200, url
    assert client_for(org.rep1).get(f"/customers/{customer.pk}/").status_code in (200, 404)
    api = api_for(org.exec)
    for url in ("/api/analytics/scores/", "/api/analytics/segments/", f"/api/customers/{customer.pk}/"):
        assert api.get(url).status_code == 200, url


def _two_runs(history):  # noqa: F811
    first = scoring_run()
    second = scoring_run()
    assert CustomerScore.objects.filter(run=second).count() == 60
    assert ValueSnapshot.objects.filter(cycle__run=first).exists()  # the cycle start keeps its snapshot
    assert orphans() == (0, 0, 0)
    return first, second


def test_deleting_runs_through_the_orm_leaves_no_orphans_and_pages_open(history, org, client_for, api_for):  # noqa: F811
    first, second = _two_runs(history)
    second.delete()
    assert orphans() == (0, 0, 0)
    assert not CustomerScore.objects.filter(run__isnull=False).exists()
    assert CustomerScore.objects.count() == 60  # the scores stay (SET NULL), the cycle and snapshot go
    assert not ValueCycle.objects.filter(run_id=second.pk).exists()
    _pages_open(org, client_for, api_for, history["stayed"][0])
    ScoringRun.objects.all().delete()
    assert orphans() == (0, 0, 0) and not ValueSnapshot.objects.exists()
    _pages_open(org, client_for, api_for, history["stayed"][0])
    # the next run writes its references again
    run = scoring_run()
    assert CustomerValue.objects.filter(run=run).count() == 60 and orphans() == (0, 0, 0)


def test_deleting_runs_and_cycles_in_sql_leaves_no_orphans(history, org, client_for, api_for):  # noqa: F811
    first, second = _two_runs(history)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_valuecycle WHERE run_id = %s", [first.pk])
    assert orphans() == (0, 0, 0)
    assert not ValueSnapshot.objects.filter(cycle__run_id=first.pk).exists()
    assert ValueSnapshot.objects.filter(cycle__run=second).exists()  # another cycle's snapshot stays
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_valuecycle")  # the run's own cycle first (its FK is real)
        cursor.execute("DELETE FROM analytics_scoringrun WHERE id = %s", [second.pk])
    assert orphans() == (0, 0, 0)
    assert CustomerScore.objects.filter(run__isnull=True).count() == 60
    assert CustomerValue.objects.filter(run__isnull=True).count() == 60
    _pages_open(org, client_for, api_for, history["churned"][0])


@postgres_only
def test_truncating_the_runs_leaves_no_orphans(history, org, client_for, api_for):  # noqa: F811
    _two_runs(history)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own transaction has deferred checks
        cursor.execute("TRUNCATE analytics_scoringrun CASCADE")
    assert orphans() == (0, 0, 0) and not ValueSnapshot.objects.exists()
    _pages_open(org, client_for, api_for, history["stayed"][1])


def test_a_run_deleted_before_its_write_phase_writes_nothing(history, monkeypatch):  # noqa: F811
    previous = scoring_run()
    real = services.score_history

    def deleted_meanwhile(*args, run, **kwargs):
        ScoringRun.objects.filter(pk=run.pk).delete()  # e.g. an administrator, between creation and writes
        return real(*args, run=run, **kwargs)

    monkeypatch.setattr(services, "score_history", deleted_meanwhile)
    with pytest.raises(RuntimeError, match="deleted before its results were written"):
        scoring_run()
    assert orphans() == (0, 0, 0)
    # the previous run's rows are untouched; the deleted run is not brought back as "failed"
    assert CustomerScore.objects.filter(run=previous).count() == 60
    assert list(ScoringRun.objects.values_list("pk", flat=True)) == [previous.pk]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_deletion_from_another_connection_waits_for_the_writing_run(org, make_customer):
    """A run's write transaction holds its run row: a deletion from another session waits for the commit
    (here: gives up after its lock timeout), and once the run has committed, deleting it clears the
    references of every row it wrote."""
    import datetime as dt

    from django.db import transaction
    from django.utils import timezone

    from .conftest import buy

    for i in range(40):
        c = make_customer(f"并发客户{i:02d}", owner=org.rep1)
        for k in range(1 + i % 4):
            buy(c, timezone.localdate() - dt.timedelta(days=10 + 30 * k + i), 100 + i)
    entered = threading.Event()
    release = threading.Event()
    real = services.write_scores

    def slow_write(**kwargs):
        out = real(**kwargs)
        entered.set()  # rows written, the transaction still open
        assert release.wait(30)
        return out

    services.write_scores = slow_write
    result = {}

    def runner():
        try:
            result["run"] = scoring_run()
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            result["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=runner)
    try:
        thread.start()
        assert entered.wait(60)
        run_id = ScoringRun.objects.order_by("-pk").values_list("pk", flat=True).first()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '300ms'")
            with pytest.raises(Exception, match="lock"), transaction.atomic():
                cursor.execute("DELETE FROM analytics_scoringrun WHERE id = %s", [run_id])
    finally:
        release.set()
        thread.join(60)
        services.write_scores = real
    assert "error" not in result, result.get("error")
    assert CustomerScore.objects.filter(run_id=run_id).count() == 40
    ScoringRun.objects.filter(pk=run_id).delete()
    assert orphans() == (0, 0, 0)
    assert CustomerScore.objects.filter(run__isnull=True).count() == 40
