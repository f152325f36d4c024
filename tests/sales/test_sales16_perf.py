"""The sales pages' cheaper paths (issue #16 benchmarks, branch sales16) give the same markup and the same rows
as the paths they replace, and the pages keep a fixed number of statements — a count that grows (or a new
statement per row) fails here before it shows in a benchmark."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.template import Context, Template
from django.template.base import render_value_in_context
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from kehu.core.access import Access, department_member_ids
from kehu.core.models import Department, Team
from kehu.customers import services as customer_services
from kehu.sales.models import Contract, Instalment
from kehu.sales.services import opportunities as svc
from kehu.sales.services import receivables
from kehu.sales.templatetags.sales_board import board_cards
from kehu.ui.templatetags.kehu_ui import value_renderer
from kehu.ui.widgets import options_html, rows_html
from tests.factories import UserFactory
from tests.sales.conftest import demo_role

pytestmark = pytest.mark.django_db

# the per-card template loop the board page rendered before `{% board_cards %}` (sales/board_cards.html)
OLD_CARDS = """{% load i18n kehu_ui %}{% for card in cards %}<li class="board-card{% if card.last_activity_at < stalled_before %} stalled{% endif %}" data-card data-id="{{ card.pk }}" data-version="{{ card.version }}" data-name="{{ card.name }}" data-testid="card-{{ card.pk }}">
  <a class="board-card-title" href="{{ card.get_absolute_url }}">{{ card.name }}</a>
  <div class="muted small">{{ card.customer }}</div>
  <div class="board-card-meta">{% if show_amounts %}<span>{{ card.currency }} {{ card.amount|display }}</span>{% endif %}<span class="muted small">{{ card.expected_close_date|display }}</span></div>
  <div class="board-card-meta"><span class="muted small">{{ card.owner|default:"—" }}</span>
    {% if card.last_activity_at < stalled_before %}<span class="badge warn" data-testid="stalled">{% translate "Stalled" %}</span>{% endif %}
    {% if can_move %}<button type="button" class="btn small ghost board-card-move" data-move-menu aria-haspopup="dialog" data-testid="move-menu-{{ card.pk }}">{% translate "Move to…" %}</button>{% endif %}
  </div>
</li>{% endfor %}"""  # noqa: E501 - the template as it was


def _count(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_board_cards_are_the_template_loops_markup(org, account, pipeline, language):
    hostile = customer_services.customer_create(data={"name": "<i>\"客户\" & 'Co'</i>"}, by=org.rep1)
    cards = [
        svc.opportunity_create(
            data={"name": "<b>\"大单\" & 'x'</b>", "customer": hostile, "amount": Decimal("1234567.5")},
            by=org.rep1,
        ),
        svc.opportunity_create(
            data={"name": "小单", "customer": account, "expected_close_date": dt.date(2027, 1, 31)},
            by=org.rep1,
        ),
    ]
    cards[0].last_activity_at = timezone.now() - dt.timedelta(days=90)  # stalled
    stalled_before = timezone.now() - dt.timedelta(days=30)
    with translation.override(language):
        for show_amounts in (True, False):
            for can_move in (True, False):
                context = Context({"show_amounts": show_amounts, "can_move": can_move})
                old = Template(OLD_CARDS).render(
                    Context({"cards": cards, "stalled_before": stalled_before, **context.flatten()})
                )
                assert board_cards(context, cards, stalled_before) == old
        # no stalled_before (the template's comparison was False): no card is stalled
        assert "stalled" not in board_cards(Context({}), cards, None).replace('data-testid="stalled"', "")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_value_renderer_renders_what_the_template_renders(language):
    values = [
        "", "<a href='x'>&\"</a>", "华信", 0, -7, 12345678901234567890, Decimal("0.00"), Decimal("-0.00"),
        Decimal("1234567.89"), Decimal("-12.5"), Decimal("1E+3"), Decimal("1E-250"), None, True,
        dt.date(2026, 12, 3), 1.5, gettext_lazy("Stalled"), mark_safe("<b>safe</b>"),
    ]  # fmt: skip
    with translation.override(language):
        context = Context({})
        render = value_renderer(context)
        for value in values:
            assert render(value) == render_value_in_context(value, context), value


def test_shared_option_rows_render_once_with_the_same_markup():
    rows = [(1, "张三 <a>"), (2, "李四 & 王五"), (10, '"quoted"')]
    memo: dict = {}
    for selected in (set(), {"2"}, {"1", "10"}, {""}, {"99"}):
        assert rows_html(rows, selected, memo) == options_html(rows, selected)
    assert len([k for k in memo if k[0] == "html"]) == 1  # rendered once, selections marked in the text


def test_department_members_in_one_statement_over_the_tree(org):
    deep = Department.objects.create(name="华北一区", parent=org.north)
    deeper = Department.objects.create(name="华北一区一组", parent=deep)
    far = UserFactory(username="far", department=deeper)
    UserFactory(username="elsewhere", department=org.east)
    with CaptureQueriesContext(connection) as ctx:
        north = department_member_ids(org.north.pk)
    assert len(ctx.captured_queries) == 1
    assert north == {org.manager.pk, org.rep1.pk, org.rep2.pk, far.pk}
    assert department_member_ids(deeper.pk) == {far.pk}
    assert department_member_ids(999999) == set()
    access = Access(org.manager)
    assert _count(lambda: access._department_member_ids) == 1
    assert access._department_member_ids == north


def test_teams_and_their_members_in_one_statement(org):
    other = Team.objects.create(name="第二组", department=org.north)
    other.members.add(org.rep1, org.rep3)
    access = Access(org.rep1)
    assert _count(lambda: (access.team_ids, access._team_member_ids)) == 1
    assert access.team_ids == sorted([org.team.pk, other.pk])
    assert access._team_member_ids == {org.rep1.pk, org.rep2.pk, org.rep3.pk}
    loner = Access(org.manager)
    assert loner.team_ids == [] and loner._team_member_ids == {org.manager.pk}


def test_grants_and_field_grants_in_one_statement_as_the_tables_say(org):
    from kehu.core.models import FieldGrant, ModelGrant

    FieldGrant.objects.create(
        role=demo_role("sales_rep"), model="sales.lead", field="budget", access="hidden"
    )
    org.rep1.roles.add(demo_role("sales_manager"))  # two roles: grants add up, a field is restricted by both
    access = Access(org.rep1)
    with CaptureQueriesContext(connection) as ctx:
        grants, fields = access._grant_and_field_rows
    assert len(ctx.captured_queries) == 1
    expected = {
        (g.role_id, g.model, g.can_view, g.can_add, g.can_transfer, g.read_scope, g.write_scope)
        for g in ModelGrant.objects.filter(role__users=org.rep1)
    }
    assert {
        (
            g.role_id,
            g.model,
            bool(g.can_view),
            bool(g.can_add),
            bool(g.can_transfer),
            g.read_scope,
            g.write_scope,
        )
        for g in grants
    } == expected
    assert {(f.role_id, f.model, f.field, f.access) for f in fields} == set(
        FieldGrant.objects.filter(role__users=org.rep1).values_list("role_id", "model", "field", "access")
    )
    assert "budget" not in access.field_access("sales.lead")  # the manager's role leaves it editable
    assert Access(org.rep2).hidden_fields("sales.lead") >= {"budget"}
    assert _count(lambda: Access(org.rep2).hidden_fields("sales.lead")) == 1


def test_a_grant_is_computed_once_per_label_and_callers_cannot_change_it(org):
    access = Access(org.rep1)
    first = access.grant("sales.opportunity")
    first.actions.clear()
    assert access.can("view", "sales.opportunity")
    assert access.grant("sales.opportunity").actions  # a copy each time
    assert _count(lambda: [access.can("view", "sales.opportunity") for _ in range(50)]) == 0


def _contract(owner, customer, number, today, overdue_rows):
    contract = Contract.objects.create(
        number=number, title=number, customer=customer, amount=Decimal("1000"), start_date=today, owner=owner
    )
    for seq in range(1, overdue_rows + 1):
        Instalment.objects.create(
            contract=contract, sequence=seq, due_date=today - dt.timedelta(days=seq), amount=Decimal("100"),
            paid_amount=Decimal("0"), status="open",
        )  # fmt: skip
    receivables.contract_receivables_refresh(contract_ids=[contract.pk])


# statements of a page for the sales manager (session, user, access reads, the page's own) — fixed numbers:
# a new statement on these pages (or one per row) must be a decision, not an accident
LIST_PAGE_STATEMENTS = 17  # 15 before main's form layouts (their roles and layout reads: 2)
RECEIVABLES_PAGE_STATEMENTS = 15  # with ?team= (no field grants read: the merge saves none here)


def test_opportunity_list_page_statements_are_fixed(org, pipeline, account, client_for):
    client = client_for(org.manager)
    url = reverse("sales:opportunities")

    def measure(n):
        for i in range(n):
            svc.opportunity_create(data={"name": f"商机{i}", "customer": account}, by=org.rep1)
        Access.forget(org.manager)
        return _count(lambda: client.get(url))

    assert measure(2) == LIST_PAGE_STATEMENTS
    assert measure(30) == LIST_PAGE_STATEMENTS
    page = client.get(url).content.decode()
    assert page.count('<option value="') >= 5 and "商机29" in page


def test_receivables_page_statements_are_fixed(org, now, client_for):
    client = client_for(org.manager)
    url = reverse("sales:receivables")
    today = now.date()

    def measure(n):
        for i in range(n):
            customer = customer_services.customer_create(data={"name": f"客户{n}-{i}"}, by=org.rep1)
            _contract(org.rep1 if i % 2 else org.rep2, customer, f"C{n}-{i}", today, 1 + i % 3)
        Access.forget(org.manager)
        return _count(lambda: client.get(url, {"team": org.team.pk}))

    assert measure(2) == RECEIVABLES_PAGE_STATEMENTS
    assert measure(12) == RECEIVABLES_PAGE_STATEMENTS
    # an unknown team: nobody's receivables, no error
    assert "C12-0" not in client.get(url, {"team": 999999}).content.decode()
    assert "C12-0" in client.get(url, {"team": org.team.pk}).content.decode()
