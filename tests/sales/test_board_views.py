"""The kanban board page (sales:board): scope (a rep sees only their deals), filters (owner, team, expected-close
period), the stalled badge, the fragments the board script reloads (column heads, "load more", a column), and a
query count that does not grow with the number of deals."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.customers import services as customer_services
from kehu.sales import selectors
from kehu.sales.services import opportunities as svc
from kehu.sales.views_board import period_dates
from tests.factories import UserFactory


def _deal(by, customer, name, **extra):
    return svc.opportunity_create(
        data={"name": name, "customer": customer, "amount": Decimal("100000"), **extra}, by=by
    )


def _cards(html: str) -> set[str]:
    return set(re.findall(r'data-name="([^"]+)"', html))


@pytest.fixture
def deals(org, pipeline, stages, account):
    north = customer_services.customer_create(data={"name": "北方客户"}, by=org.rep2)
    east = customer_services.customer_create(data={"name": "华东客户"}, by=org.rep3)
    today = timezone.localdate()
    month_end = period_dates("this_month", today)[1]
    next_quarter = period_dates("next_quarter", today)[0] + dt.timedelta(days=9)
    made = {
        "r1-dec": _deal(org.rep1, account, "r1-dec", expected_close_date=today),
        "r1-mar": _deal(org.rep1, account, "r1-mar", expected_close_date=next_quarter),
        "r2": _deal(org.rep2, north, "r2", expected_close_date=month_end),
        "r3": _deal(org.rep3, east, "r3", currency="USD"),
    }
    svc.opportunity_move(opportunity=made["r2"], stage=stages[50], by=org.rep2)
    return made


def test_period_dates():
    today = dt.date(2026, 12, 2)
    assert period_dates("this_month", today) == (dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    assert period_dates("next_month", today) == (dt.date(2027, 1, 1), dt.date(2027, 1, 31))
    assert period_dates("this_quarter", today) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert period_dates("next_quarter", today) == (dt.date(2027, 1, 1), dt.date(2027, 3, 31))
    assert period_dates("this_year", today) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert period_dates("overdue", today) == (None, dt.date(2026, 12, 1))
    assert period_dates("", today) == (None, None)


@pytest.mark.django_db
def test_a_rep_sees_only_their_deals_a_manager_their_department(client, org, pipeline, stages, deals):
    client.force_login(org.rep1)
    page = client.get(reverse("sales:board"))
    assert page.status_code == 200
    html = page.content.decode()
    assert _cards(html) == {"r1-dec", "r1-mar"}
    # the totals are the rep's too: two deals of 100 000 at 10 %
    assert f'data-testid="count-{stages[10].pk}">2<' in html
    assert "CNY 20,000.00" in html
    client.force_login(org.manager)
    html = client.get(reverse("sales:board_pipeline", args=[pipeline.pk])).content.decode()
    assert _cards(html) == {"r1-dec", "r1-mar", "r2"}  # north department; rep3 (east) is not in scope
    assert "USD" not in html
    client.force_login(org.exec)
    assert "r3" in _cards(client.get(reverse("sales:board")).content.decode())
    nobody = UserFactory(username="nobody")  # no role: no right to see deals
    client.force_login(nobody)
    assert client.get(reverse("sales:board")).status_code == 403
    assert client.get(reverse("sales:board_totals", args=[pipeline.pk])).status_code == 403


@pytest.mark.django_db
def test_the_board_is_in_the_navigation_of_whoever_sees_deals(org):
    from kehu.ui.navigation import build

    def urls(user):
        return [item["url"] for section in build(user) for item in section["items"]]

    assert reverse("sales:board") in urls(org.rep1)
    assert reverse("sales:board") not in urls(UserFactory(username="nobody"))


@pytest.mark.django_db
def test_filters_owner_team_and_period(client, org, pipeline, stages, deals):
    client.force_login(org.exec)
    url = reverse("sales:board")

    def names(**params):
        return _cards(client.get(url, params).content.decode())

    assert names(owner=org.rep2.pk) == {"r2"}
    assert names(team=org.team.pk) == {"r1-dec", "r1-mar", "r2"}
    assert names(team=org.team.pk, owner=org.rep3.pk) == set()  # rep3 is not in the team
    assert names(period="this_month") == {"r1-dec", "r2"}
    assert names(period="next_quarter") == {"r1-mar"}
    quarter = period_dates("next_quarter", timezone.localdate())
    assert names(close_from=quarter[0].isoformat(), close_to=quarter[1].isoformat()) == {"r1-mar"}
    assert names(close_to=deals["r2"].expected_close_date.isoformat()) == {"r1-dec", "r2"}
    assert names(owner="x", close_from="not a date") == {"r1-dec", "r1-mar", "r2", "r3"}  # ignored
    # the fragments apply the same filters: heads and a column's cards
    heads = client.get(reverse("sales:board_totals", args=[pipeline.pk]), {"owner": org.rep1.pk})
    assert f'data-head="{stages[10].pk}" data-count="2"' in heads.content.decode()
    assert f'data-head="{stages[50].pk}" data-count="0"' in heads.content.decode()
    column = client.get(
        reverse("sales:board_cards", args=[pipeline.pk, stages[10].pk]), {"period": "this_month"}
    )
    assert _cards(column.content.decode()) == {"r1-dec"}


@pytest.mark.django_db
def test_load_more_continues_after_the_last_card_and_respects_scope(client, org, pipeline, stages, account):
    for i in range(5):
        _deal(org.rep1, account, f"d{i}")  # column order (newest on top): d4 d3 d2 d1 d0
    url = reverse("sales:board_cards", args=[pipeline.pk, stages[10].pk])
    client.force_login(org.rep1)
    top = selectors.board_column_cards(user=org.rep1, pipeline=pipeline, stage=stages[10], limit=2)
    assert [c.name for c in top] == ["d4", "d3"]
    html = client.get(url, {"after": top[-1].pk}).content.decode()
    assert re.findall(r'data-name="([^"]+)"', html) == ["d2", "d1", "d0"]
    client.force_login(org.rep3)  # another department: neither the cards nor the "after" card are visible
    assert client.get(url).content.decode().strip() == ""
    assert client.get(url, {"after": top[-1].pk}).status_code == 404


@pytest.mark.django_db
def test_stalled_deals_are_flagged(client, org, pipeline, stages, account, frozen_clock):
    old = _deal(org.rep1, account, "old")
    frozen_clock.shift(dt.timedelta(days=pipeline.stalled_days + 1))
    _deal(org.rep1, account, "fresh")
    client.force_login(org.rep1)
    html = client.get(reverse("sales:board")).content.decode()
    stalled = re.findall(r'<li class="board-card stalled"[^>]*data-name="([^"]+)"', html)
    assert stalled == ["old"] and html.count('data-testid="stalled"') == 1
    assert old.pk


@pytest.mark.django_db
def test_closing_reasons_and_move_menu_are_on_the_page(client, org, pipeline, stages, deals):
    client.force_login(org.rep1)
    html = client.get(reverse("sales:board")).content.decode()
    assert 'data-testid="won-reason"' in html and 'data-testid="lost-reason"' in html
    assert f'data-testid="move-to-{stages["lost"].pk}"' in html
    assert f'data-testid="move-menu-{deals["r1-dec"].pk}"' in html
    # no inline script or style: the page runs under the strict Content-Security-Policy
    assert "<script>" not in html and " style=" not in html and "hx-on" not in html


@pytest.mark.django_db
def test_page_query_count_does_not_grow_with_the_deals(
    client, org, pipeline, stages, account, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(org.manager)
    url = reverse("sales:board")

    def count(n):
        for i in range(n):
            deal = _deal(org.rep1, account, f"n{n}-{i}")
            if i % 3 == 1:
                svc.opportunity_move(opportunity=deal, stage=stages[50], by=org.rep1)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    few = count(2)
    many = count(40)
    assert few == many
    with django_assert_max_num_queries(few + 1):  # + the team's members
        client.get(url, {"team": org.team.pk, "period": "this_year"})
