"""Opportunities: create, kanban moves (positions, stage history, time in stage), close with a reason,
stalled flag, the board (constant queries, team filter) and the API; concurrent drags lose nothing."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kehu.core.exceptions import StaleRecordError
from kehu.customers import services as customer_services
from kehu.interactions.models import Interaction
from kehu.interactions.services import interaction_log
from kehu.products.models import Product
from kehu.sales import selectors
from kehu.sales.models import CloseReason, Competitor, Opportunity, StageChange
from kehu.sales.services import opportunities as svc


def _deal(by, customer, name="空压机项目", **extra):
    return svc.opportunity_create(
        data={"name": name, "customer": customer, "amount": Decimal("100000"), **extra}, by=by
    )


def _column(stage):
    return list(
        Opportunity.objects.filter(stage=stage).order_by("position", "id").values_list("name", flat=True)
    )


@pytest.mark.django_db
def test_create_puts_the_card_on_top_with_history_and_timeline(org, pipeline, stages, account):
    first = _deal(org.rep1, account, "A")
    second = _deal(org.rep1, account, "B")
    assert first.stage == stages[10] and first.probability == 10 and first.status == "open"
    assert _column(stages[10]) == ["B", "A"]
    assert StageChange.objects.filter(opportunity=second, from_stage=None).count() == 1
    assert (
        Interaction.objects.filter(customer=account, related_model="sales.opportunity.created").count() == 2
    )
    with pytest.raises(ValidationError):
        _deal(org.rep1, account, "C", stage=stages["won"])
    from django.http import Http404

    with pytest.raises(Http404):
        _deal(org.rep3, account, "D")  # rep3 may not see rep1's customer


@pytest.mark.django_db
def test_moves_keep_order_and_write_time_in_stage(org, pipeline, stages, account, frozen_clock):
    a, b, c = (_deal(org.rep1, account, n) for n in "ABC")  # column: C B A
    frozen_clock.shift(dt.timedelta(days=3))
    svc.opportunity_move(opportunity=a, stage=stages[25], by=org.rep1, expected_version=a.version)
    frozen_clock.shift(dt.timedelta(days=2))
    svc.opportunity_move(opportunity=c, stage=stages[25], by=org.rep1, after=a)  # below A
    svc.opportunity_move(opportunity=b, stage=stages[25], by=org.rep1, after=a, before=c)  # between
    assert _column(stages[25]) == ["A", "B", "C"]
    assert _column(stages[10]) == []
    svc.opportunity_move(opportunity=c, stage=stages[25], by=org.rep1, before=a)  # to the top, same column
    assert _column(stages[25]) == ["C", "A", "B"]
    change = StageChange.objects.get(opportunity=a, to_stage=stages[25])
    assert change.seconds_in_from >= 3 * 86400 and change.from_stage == stages[10]
    a.refresh_from_db()
    assert a.probability == 25 and a.version == 2
    spells = selectors.stage_history(opportunity=a)
    assert [s.stage for s in spells] == [stages[10], stages[25]] and spells[0].seconds >= 3 * 86400
    assert Interaction.objects.filter(related_model="sales.opportunity.stage").count() == 3


@pytest.mark.django_db
def test_a_full_column_is_renumbered_when_no_gap_is_left(org, pipeline, stages, account):
    a, b, c = (_deal(org.rep1, account, n) for n in "ABC")
    Opportunity.objects.filter(pk=c.pk).update(position=0)
    Opportunity.objects.filter(pk=b.pk).update(position=1)
    Opportunity.objects.filter(pk=a.pk).update(position=2)
    svc.opportunity_move(opportunity=a, stage=stages[10], by=org.rep1, after=c, before=b)
    assert _column(stages[10]) == ["C", "A", "B"]
    with pytest.raises(ValidationError):  # neighbours given the wrong way round
        svc.opportunity_move(opportunity=a, stage=stages[10], by=org.rep1, after=b, before=c)


@pytest.mark.django_db
def test_closing_requires_a_reason_and_reopening_restores(org, pipeline, stages, account):
    deal = _deal(org.rep1, account)
    with pytest.raises(ValidationError) as exc:
        svc.opportunity_close(opportunity=deal, won=False, reason=None, by=org.rep1)
    assert "close_reason" in exc.value.message_dict
    won_reason = CloseReason.objects.filter(kind="won").first()
    with pytest.raises(ValidationError):
        svc.opportunity_close(opportunity=deal, won=False, reason=won_reason, by=org.rep1)
    deal.refresh_from_db()
    assert (
        deal.status == "open"
        and deal.version == 1
        and StageChange.objects.filter(opportunity=deal).count() == 1
    )
    rival = Competitor.objects.create(name="某竞争对手")
    lost = CloseReason.objects.filter(kind="lost").first()
    deal = svc.opportunity_close(
        opportunity=deal, won=False, reason=lost, note="价格差 8%", lost_to=rival, by=org.rep1
    )
    assert (deal.status, deal.probability, deal.lost_to, deal.close_reason) == ("lost", 0, rival, lost)
    assert deal.closed_at is not None
    assert Interaction.objects.filter(
        customer=account, subject__contains=deal.name, related_model="sales.opportunity.stage"
    ).exists()
    deal = svc.opportunity_reopen(opportunity=deal, by=org.rep1)
    assert (
        deal.status == "open"
        and deal.close_reason is None
        and deal.closed_at is None
        and deal.stage == stages[10]
    )


@pytest.mark.django_db
def test_stage_is_changed_only_by_moves_and_stale_drags_are_refused(org, pipeline, stages, account):
    deal = _deal(org.rep1, account)
    with pytest.raises(ValidationError):
        svc.opportunity_update(opportunity=deal, data={"stage": stages[50]}, by=org.rep1, expected_version=1)
    svc.opportunity_update(opportunity=deal, data={"next_step": "安排演示"}, by=org.rep1, expected_version=1)
    with pytest.raises(StaleRecordError):
        svc.opportunity_move(opportunity=deal, stage=stages[50], by=org.rep1, expected_version=1)


@pytest.mark.django_db
def test_lines_set_the_amount(org, pipeline, account):
    deal = _deal(org.rep1, account)
    product = Product.objects.create(sku="AC-200", name="空压机", list_price=Decimal("58000"))
    svc.opportunity_line_add(
        opportunity=deal,
        data={"product": product, "quantity": Decimal("2"), "discount_percent": Decimal("5")},
        by=org.rep1,
    )
    deal.refresh_from_db()
    assert deal.amount == Decimal("110200.00") and deal.version == 2
    with pytest.raises(ValidationError) as exc:
        svc.opportunity_line_add(
            opportunity=deal, data={"product": product, "quantity": Decimal("0")}, by=org.rep1
        )
    assert "quantity" in exc.value.message_dict


@pytest.mark.django_db
def test_stalled_flag_follows_activity(org, pipeline, account, frozen_clock):
    deal = _deal(org.rep1, account)
    assert not deal.is_stalled()
    frozen_clock.shift(dt.timedelta(days=pipeline.stalled_days + 1))
    deal.refresh_from_db()
    assert deal.is_stalled() and list(selectors.stalled_opportunities(user=org.rep1)) == [deal]
    from tests.interactions.conftest import grant_interactions  # noqa: F401 - demo rep role holds the grants

    interaction_log(customer=account, data={"channel": "call", "subject": "跟进"}, by=org.rep1)
    deal.refresh_from_db()
    assert not deal.is_stalled() and list(selectors.stalled_opportunities(user=org.rep1)) == []


@pytest.mark.django_db
def test_board_counts_weighted_totals_team_filter_and_constant_queries(org, pipeline, stages, account):
    other = customer_services.customer_create(data={"name": "华东客户"}, by=org.rep3)
    for i in range(3):
        _deal(org.rep1, account, f"r1-{i}")
    moved = _deal(org.rep2, customer_services.customer_create(data={"name": "北方客户"}, by=org.rep2), "r2")
    svc.opportunity_move(opportunity=moved, stage=stages[50], by=org.rep2)
    _deal(org.rep3, other, "r3", currency="USD")
    board = selectors.board(user=org.manager, pipeline=pipeline)
    counts = {c.stage.probability: c.count for c in board.columns if c.stage.kind == "open"}
    assert counts == {10: 3, 25: 0, 50: 1, 75: 0}  # the manager's department scope: north only
    first = board.columns[0]
    assert first.amounts == {"CNY": Decimal("300000")} and first.weighted == {"CNY": Decimal("30000.00")}
    assert [c.name for c in first.cards] == ["r1-2", "r1-1", "r1-0"]
    team_board = selectors.board(
        user=org.exec, pipeline=pipeline, owner_ids=selectors.team_member_ids(org.team)
    )
    assert sum(c.count for c in team_board.columns) == 4
    everyone = selectors.board(user=org.exec, pipeline=pipeline)
    assert everyone.columns[0].amounts == {"CNY": Decimal("300000"), "USD": Decimal("100000")}
    small = selectors.board(user=org.exec, pipeline=pipeline, per_column=1)
    assert small.columns[0].more == 3
    from kehu.core.access import Access

    def queries(n_more):
        for i in range(n_more):
            _deal(org.rep1, account, f"more-{n_more}-{i}")
        Access.forget(org.manager)
        with CaptureQueriesContext(connection) as ctx:
            b = selectors.board(user=org.manager, pipeline=pipeline)
            [card.customer.name for col in b.columns for card in col.cards]
        return len(ctx.captured_queries)

    assert queries(1) == queries(10)


@pytest.mark.django_db
def test_api_move_close_board_and_history(org, pipeline, stages, account, api_for):
    api = api_for(org.rep1)
    created = api.post(
        "/api/opportunities/",
        {"name": "API 项目", "customer": account.pk, "amount": "5000.00"},
        format="json",
    )
    assert created.status_code == 201, created.content
    deal_id, etag = created.json()["id"], created["ETag"]
    other = api.post("/api/opportunities/", {"name": "另一个", "customer": account.pk}, format="json").json()
    moved = api.post(
        f"/api/opportunities/{deal_id}/move/", {"stage": stages[50].pk}, format="json", HTTP_IF_MATCH=etag
    )
    assert (
        moved.status_code == 200
        and moved.json()["stage"] == stages[50].pk
        and moved.json()["probability"] == 50
    )
    stale = api.post(
        f"/api/opportunities/{deal_id}/move/", {"stage": stages[75].pk}, format="json", HTTP_IF_MATCH=etag
    )
    assert stale.status_code == 409
    below = api.post(
        f"/api/opportunities/{other['id']}/move/", {"stage": stages[50].pk, "after": deal_id}, format="json"
    )
    assert below.status_code == 200
    no_reason = api.post(f"/api/opportunities/{deal_id}/close/", {"won": True, "reason": None}, format="json")
    assert no_reason.status_code == 400 and "close_reason" in no_reason.json()
    reason = CloseReason.objects.filter(kind="won").first()
    won = api.post(f"/api/opportunities/{deal_id}/close/", {"won": True, "reason": reason.pk}, format="json")
    assert won.status_code == 200 and won.json()["status"] == "won"
    history = api.get(f"/api/opportunities/{deal_id}/history/").json()
    assert [h["stage"] for h in history] == [stages[10].pk, stages[50].pk, stages["won"].pk]
    board = api.get(f"/api/pipelines/{pipeline.pk}/board/", {"team": org.team.pk}).json()
    by_stage = {c["stage"]["id"]: c for c in board["columns"]}
    assert [card["id"] for card in by_stage[stages[50].pk]["cards"]] == [other["id"]]
    assert by_stage[stages["won"].pk]["count"] == 1
    assert api.get(f"/api/pipelines/{pipeline.pk}/board/", {"team": "x"}).status_code == 400
    assert api_for(org.rep3).get(f"/api/opportunities/{deal_id}/").status_code == 404
    assert (
        api_for(org.rep3)
        .post(f"/api/opportunities/{deal_id}/move/", {"stage": stages[25].pk}, format="json")
        .status_code
        == 404
    )
    rival = Competitor.objects.create(name="某友商")
    added = api.post(
        f"/api/opportunities/{other['id']}/competitors/",
        {"competitor": rival.pk, "notes": "报价低 5%"},
        format="json",
    )
    assert added.status_code == 201
    assert api.get(f"/api/opportunities/{other['id']}/competitors/").json()[0]["competitor_name"] == "某友商"
    assert (
        api_for(org.rep3)
        .post(f"/api/opportunities/{other['id']}/competitors/", {"competitor": rival.pk}, format="json")
        .status_code
        == 404
    )
    listing = api_for(org.manager).get("/api/opportunities/", {"team": org.team.pk, "status": "open"}).json()
    assert [r["id"] for r in listing["results"]] == [other["id"]]


@pytest.mark.django_db
def test_opportunity_pages(org, pipeline, stages, account, client_for):
    from django.urls import reverse

    client = client_for(org.rep1)
    response = client.post(
        reverse("sales:opportunity_create"),
        {"name": "页面项目", "customer": account.pk, "amount": "10", "currency": "CNY"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    deal = Opportunity.objects.get()
    page = client.get(deal.get_absolute_url())
    assert page.status_code == 200 and "页面项目" in page.content.decode()
    assert (
        client.post(
            reverse("sales:opportunity_move", args=[deal.pk]),
            {"stage": stages[25].pk, "version": deal.version},
        ).status_code
        == 302
    )
    deal.refresh_from_db()
    assert deal.stage == stages[25]
    assert client.get(reverse("sales:opportunities")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_drags_into_one_column_lose_nothing(org, account):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race is exercised on PostgreSQL")
    pipeline = svc.pipeline_default()
    target = pipeline.stages.get(probability=50)
    anchor = _deal(org.rep1, account, "anchor")
    svc.opportunity_move(opportunity=anchor, stage=target, by=org.rep1)
    deals = [_deal(org.rep1, account, f"d{i}") for i in range(6)]
    barrier, errors = threading.Barrier(len(deals)), []

    def drag(deal):
        from django.db import connections

        try:
            barrier.wait()
            svc.opportunity_move(
                opportunity=Opportunity.objects.get(pk=deal.pk),
                stage=target,
                by=org.manager,
                after=Opportunity.objects.get(pk=anchor.pk),
                expected_version=deal.version,
            )
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=drag, args=(d,)) for d in deals]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    column = list(
        Opportunity.objects.filter(stage=target).order_by("position", "id").values_list("name", "position")
    )
    assert [n for n, _p in column][0] == "anchor" and len(column) == 7
    assert len({p for _n, p in column}) == 7  # every card has its own place
    assert StageChange.objects.filter(to_stage=target).count() == 7
