"""Forecast and dashboard pages: the grid (all or nothing, field-level refusal), the manager's adjustment form
(closed period and negative amounts refused), the deal page's category form, the rep's and the manager's
dashboards, hidden amounts off every page, the weekly snapshot command."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from kehu.core.access import Access
from kehu.core.models import FieldGrant
from kehu.interactions.models import Task
from kehu.salesmgmt.models import ForecastAdjustment, ForecastEntry, ForecastSnapshot
from kehu.salesmgmt.services import forecast as fc
from tests.salesmgmt.test_forecast import deal, period  # noqa: F401 - fixtures

MARK = "987654.32"


def test_rep_sets_categories_in_the_grid(org, deal, client_for, period):  # noqa: F811
    a, b = deal(org.rep1, "1000"), deal(org.rep1, "2000")
    other = deal(org.rep3, "3000")
    c = client_for(org.rep1)
    page = c.get(reverse("salesmgmt:forecast"))
    html = page.content.decode()
    assert page.status_code == 200 and f'name="category-{a.pk}"' in html and f"deal-{other.pk}" not in html
    bad = c.post(reverse("salesmgmt:forecast_categories"),
                 {"period": period.token, f"category-{a.pk}": "commit", f"category-{b.pk}": "sure"})  # fmt: skip
    assert bad.status_code == 400 and f'data-testid="category-error-{b.pk}"' in bad.content.decode()
    assert not ForecastEntry.objects.exists()
    sneaky = c.post(reverse("salesmgmt:forecast_categories"),
                    {"period": period.token, f"category-{a.pk}": "commit", f"category-{other.pk}": "commit"})  # fmt: skip
    assert sneaky.status_code == 400 and not ForecastEntry.objects.exists()
    ok = c.post(reverse("salesmgmt:forecast_categories"),
                {"period": period.token, f"category-{a.pk}": "commit", f"category-{b.pk}": "best_case"})  # fmt: skip
    assert ok.status_code == 302
    assert dict(ForecastEntry.objects.values_list("opportunity_id", "category")) == {
        a.pk: "commit",
        b.pk: "best_case",
    }
    page = c.get(reverse("salesmgmt:forecast"))
    assert page.context["f"].total.commit == Decimal("1000.00") and page.context[
        "f"
    ].total.best_case == Decimal("3000.00")


def test_category_on_the_deal_page(org, deal, client_for):  # noqa: F811
    opp = deal(org.rep1, "1000")
    c = client_for(org.rep1)
    assert 'data-testid="deal-category-form"' in c.get(opp.get_absolute_url()).content.decode()
    c.post(reverse("salesmgmt:forecast_deal_category", args=[opp.pk]), {"category": "commit"})
    assert ForecastEntry.objects.get(opportunity=opp).category == "commit"
    c.post(reverse("salesmgmt:forecast_deal_category", args=[opp.pk]), {"category": "nope"})
    assert ForecastEntry.objects.get(opportunity=opp).category == "commit"
    other = deal(org.rep3, "1")
    assert (
        c.post(
            reverse("salesmgmt:forecast_deal_category", args=[other.pk]), {"category": "commit"}
        ).status_code
        == 404
    )


def test_manager_adjusts_from_the_page(org, deal, client_for, period):  # noqa: F811
    deal(org.rep1, "1000", category="commit")
    c = client_for(org.manager)
    page = c.get(reverse("salesmgmt:forecast"))
    assert f'data-testid="adjust-form-{org.rep1.pk}"' in page.content.decode()
    url = reverse("salesmgmt:forecast_adjust")
    c.post(url, {"period": period.token, "rep": org.rep1.pk, "amount": "-5", "note": "x"})
    c.post(url, {"period": period.shifted(-1).token, "rep": org.rep1.pk, "amount": "5"})
    assert not ForecastAdjustment.objects.exists()
    r = c.post(url, {"period": period.token, "rep": org.rep1.pk, "amount": "750", "note": "降低"})
    assert r.status_code == 302
    adj = ForecastAdjustment.objects.get()
    assert adj.amount == Decimal("750") and adj.adjusted_by == org.manager and adj.note == "降低"
    html = c.get(reverse("salesmgmt:forecast")).content.decode()
    assert "降低" in html
    rep_page = client_for(org.rep1).get(reverse("salesmgmt:forecast")).content.decode()
    assert "adjust-form" not in rep_page and "降低" in rep_page


def test_rep_dashboard(org, deal, client_for, account):  # noqa: F811
    today = timezone.localdate()
    deal(org.rep1, "1000", category="commit", close=today)
    stalled = deal(org.rep1, "77")
    stalled.__class__.objects.filter(pk=stalled.pk).update(
        last_activity_at=timezone.now() - dt.timedelta(days=90)
    )
    deal(org.rep2, "500", close=today)  # a colleague's: not on my day
    Task.objects.create(title="回访客户", owner=org.rep1, customer=account, due_at=timezone.now())
    Task.objects.create(title="next month", owner=org.rep1, due_at=timezone.now() + dt.timedelta(days=40))
    page = client_for(org.rep1).get(reverse("salesmgmt:dashboard"))
    html = page.content.decode()
    day = page.context["day"]
    assert page.status_code == 200 and "回访客户" in html and "next month" not in html
    assert day.closing.total == 2 and {d.owner_id for d in day.closing.items} == {org.rep1.pk}
    assert [d.pk for d in day.stalled.items] == [stalled.pk]
    assert page.context["month"].forecast == Decimal("1000.00")
    assert 'data-testid="dash-chart"' in html


def test_manager_dashboard(org, deal, client_for):  # noqa: F811
    deal(org.rep1, "1000", category="commit")
    deal(org.rep2, "400", category="commit")
    deal(org.rep3, "9999", category="commit")
    page = client_for(org.manager).get(reverse("salesmgmt:team_dashboard"))
    assert page.status_code == 200
    f = page.context["day"].forecast
    assert {r.rep for r in f.rows} == {org.rep1, org.rep2} and f.final == Decimal("1400.00")
    assert client_for(org.rep1).get(reverse("salesmgmt:team_dashboard")).status_code == 403


def test_hidden_amount_stays_off_the_pages(org, deal, client_for):  # noqa: F811
    from tests.sales.conftest import demo_role

    deal(org.rep1, MARK, category="commit")
    FieldGrant.objects.create(
        role=demo_role("sales_rep"), model="sales.opportunity", field="amount", access="hidden"
    )
    Access.forget(org.rep1)
    fc.snapshot_take()
    c = client_for(org.rep1)
    for name in ("salesmgmt:forecast", "salesmgmt:dashboard"):
        html = c.get(reverse(name)).content.decode()
        assert "987,654" not in html and "987654" not in html, name


def test_snapshot_command_is_idempotent(org, deal):  # noqa: F811
    deal(org.rep1, "1000", category="commit")
    call_command("forecast_snapshot", "--now")
    call_command("forecast_snapshot", "--now")
    assert ForecastSnapshot.objects.filter(rep=org.rep1).count() == 2  # quarter and month, once


@pytest.mark.parametrize("token", ["2026-Q9", "abc"])
def test_bad_period_falls_back_to_the_current_quarter(org, client_for, token):
    page = client_for(org.rep1).get(reverse("salesmgmt:forecast") + f"?period={token}")
    assert page.status_code == 200 and page.context["period"] == fc.Period.current()


# the deal rows as the template loop rendered them before {% forecast_deal_rows %} (the tag must give the same)
_LOOP = (
    "{% load i18n %}"
    + '<tbody>{% for d in deals %}<tr data-testid="deal-{{ d.pk }}">\n<td><a href="{{ d.get_absolute_url }}">{{ d.name }}</a></td><td>{{ d.owner }}</td><td>{{ d.expected_close_date|default:"" }}</td>\n{% if not f.amount_hidden %}<td class="num">{{ d.amount|floatformat:"2g" }}</td>{% endif %}<td class="num">{% if d.status == "won" %}{% translate "Won" %}{% else %}{{ d.probability }}{% endif %}</td>\n<td>{% if d.fc_editable %}<select name="category-{{ d.pk }}" data-testid="category-{{ d.pk }}" aria-label="{% translate \'Forecast category\' %}">{% for value, label in categories %}<option value="{{ value }}"{% if value == d.fc_category %} selected{% endif %}>{{ label }}</option>{% endfor %}</select>\n{% if d.fc_error %}<div class="msg msg-error small" data-testid="category-error-{{ d.pk }}">{{ d.fc_error }}</div>{% endif %}\n{% elif d.status == "open" %}{% for value, label in categories %}{% if value == d.fc_category %}{{ label }}{% endif %}{% endfor %}{% else %}—{% endif %}</td></tr>\n{% empty %}<tr><td colspan="6" class="muted">{% translate "No deals in this period." %}</td></tr>{% endfor %}</tbody></table></div>\n'
)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_deal_rows_tag_renders_what_the_template_loop_did(org, deal, stages, language):  # noqa: F811
    """Every kind of row: editable with and without an error (escaped), read-only open, won, a deal without
    owner or close date, names needing escaping; amounts shown and hidden; both languages."""
    from django.template import Context, Template
    from django.utils import translation

    from kehu.salesmgmt.models import ForecastCategory

    probabilities = sorted(k for k in stages if isinstance(k, int))
    rows = [
        deal(org.rep1, "1234567.5", probabilities[0]),
        deal(org.rep1, "10", probabilities[-1], category="commit"),
        deal(org.rep2, "99.99", probabilities[1], category="omitted"),
        deal(org.rep2, "500", status="won", closed_at=timezone.now()),
        deal(None, "1", probabilities[0]),
    ]
    rows[0].name = '<b>"A&B"</b> 恒达'
    rows[4].expected_close_date = None
    flags = [(True, "", "pipeline"), (True, '<i>bad</i> "value"', "sure"), (False, "", "omitted"),
             (False, "", "commit"), (False, "", "best_case")]  # fmt: skip
    for d, (editable, error, category) in zip(rows, flags, strict=True):
        d.fc_editable, d.fc_error, d.fc_category = editable, error, category
    with translation.override(language):
        for hidden in (False, True):
            context = {"deals": rows, "categories": ForecastCategory.choices, "f": {"amount_hidden": hidden}}
            before = Template(_LOOP).render(Context(context))
            after = Template(
                "{% load i18n forecast %}<tbody>{% if deals %}{% forecast_deal_rows deals categories "
                'f.amount_hidden %}{% else %}<tr><td colspan="6" class="muted">{% translate "No deals in this '
                'period." %}</td></tr>{% endif %}</tbody></table></div>\n'
            ).render(Context(context))
            assert after == before
            assert "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;" in after and "<i>" not in after
            assert ("1,234,567.50" in after or "1234567.50" in after) != hidden
            empty = {**context, "deals": []}
            assert Template(_LOOP).render(Context(empty)) == Template(
                "{% load i18n forecast %}<tbody>{% if deals %}{% forecast_deal_rows deals categories "
                'f.amount_hidden %}{% else %}<tr><td colspan="6" class="muted">{% translate "No deals in this '
                'period." %}</td></tr>{% endif %}</tbody></table></div>\n'
            ).render(Context(empty))
