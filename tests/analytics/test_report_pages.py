"""Report builder pages (preview, save, share, drill-down list), role dashboards, and the scheduled e-mail
delivery over real SMTP (aiosmtpd): each recipient receives the figures of their own records."""

from __future__ import annotations

import datetime as dt
import io
import re
from html import unescape

import pytest

from kehu.analytics import services_reports
from kehu.analytics.demo_reports import seed_dashboards
from kehu.analytics.models import Report
from kehu.analytics.models_reports import Schedule
from tests.factories import UserFactory

from .conftest import D, buy
from .test_reports import spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales(report_sales):
    return report_sales


BUILDER = {
    "model": "sales.orderline",
    "g1": "order_date",
    "b1": "month",
    "ma1": "sum",
    "mf1": "amount",
    "ma2": "count",
    "chart": "bar",
}


def test_builder_previews_saves_and_drills_down_within_the_scope(sales, org, client_for):
    client = client_for(org.rep1)
    page = client.get("/analytics/reports/new/", {**BUILDER, "preview": "1"})
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="report-chart"' in html
    assert 'id="chart-data-main"' in html and "<script>" not in html  # data only, no inline script
    assert "2026-01" in html and "2026-03" in html
    saved = client.post("/analytics/reports/new/", {**BUILDER, "name": "我的月度销售"})
    report = Report.objects.get(name="我的月度销售")
    assert saved.status_code == 302 and report.owner == org.rep1
    detail = client.get(f"/analytics/reports/{report.pk}/").content.decode()
    link = unescape(
        re.search(r'href="(/analytics/reports/drill/[^"]+)" data-testid="drill-link">2026-03', detail).group(
            1
        )
    )
    drilled = client.get(link).content.decode()
    assert sales["b"].name in drilled and sales["c"].name not in drilled and sales["a"].name not in drilled
    xlsx = client.get(f"/analytics/reports/{report.pk}/export.xlsx")
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxml")


def test_builder_reports_invalid_definitions_and_damaged_links(org, client_for):
    client = client_for(org.rep1)
    page = client.get(
        "/analytics/reports/new/", {**BUILDER, "ma1": "sum", "mf1": "description", "preview": "1"}
    )
    assert "not numeric" in page.content.decode()
    assert (
        client.post("/analytics/reports/new/", {**BUILDER, "g1": "nonsense", "name": "x"}).status_code == 400
    )
    assert client.get("/analytics/reports/drill/?s=%%%").status_code == 400
    assert client.get("/analytics/reports/drill/?s=e30").status_code == 400  # {} has no model


def test_pivot_cells_link_to_their_records(sales, org, client_for):
    report = Report.objects.create(
        owner=org.exec,
        name="pivot",
        model="sales.orderline",
        spec=spec(group_by=[{"field": "order_date", "bucket": "month"}, {"field": "order__owner"}]),
    )
    html = client_for(org.exec).get(f"/analytics/reports/{report.pk}/").content.decode()
    assert 'data-testid="pivot-table"' in html
    cells = [unescape(u) for u in re.findall(r'<a href="([^"]+)" data-testid="pivot-cell">', html)]
    assert len(cells) == 3  # Jan: rep1; Mar: rep1, rep3
    total = 0
    for url in cells:
        total += client_for(org.exec).get(url).content.decode().count('name="ids"')
    assert total == 5


def test_role_dashboards_show_each_viewer_their_own_figures(sales, org, client_for):
    UserFactory(username="root", is_superuser=True)
    assert seed_dashboards() > 0
    rep = client_for(org.rep1).get("/analytics/dashboard/").content.decode()
    assert rep.count('data-testid="widget"') == 2 and 'class="msg msg-warning"' not in rep
    boss = client_for(org.exec).get("/analytics/dashboard/").content.decode()
    assert boss.count('data-testid="widget"') == 3 and 'class="msg msg-warning"' not in boss
    assert org.sales.name in boss or org.north.name in boss


def test_scheduled_delivery_sends_each_recipient_their_scope_once_a_day(
    sales, org, smtp_settings, frozen_clock
):
    from openpyxl import load_workbook

    sink = smtp_settings
    report = services_reports.report_save(
        by=org.exec,
        spec=services_reports.reports.parse_spec(
            spec(group_by=[{"field": "order_date", "bucket": "month"}]), user=org.exec
        ),
        name="每日销售 Daily sales",
        shared_roles=[org.rep1.roles.get()],
        schedule=Schedule.DAILY,
        recipients=[org.exec, org.rep1],
    )
    frozen_clock.move_to(dt.datetime(2026, 4, 1, 8, 0, tzinfo=dt.UTC))
    assert services_reports.reports_deliver_due() == {"reports": 1, "emails": 2}
    assert services_reports.reports_deliver_due() == {"reports": 0, "emails": 0}  # once per period
    by_rcpt = {tuple(rcpt): content for rcpt, content in sink.messages}
    assert set(by_rcpt) == {(org.exec.email,), (org.rep1.email,)}
    import email

    def attachment_rows(content):
        msg = email.message_from_string(content)
        part = next(p for p in msg.walk() if p.get_filename())
        sheet = load_workbook(io.BytesIO(part.get_payload(decode=True))).active
        return [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]

    assert attachment_rows(by_rcpt[(org.exec.email,)]) == [["2026-01", 300, 2], ["2026-03", 1450, 3]]
    assert attachment_rows(by_rcpt[(org.rep1.email,)]) == [["2026-01", 300, 2], ["2026-03", 50, 1]]
    frozen_clock.move_to(dt.datetime(2026, 4, 2, 8, 0, tzinfo=dt.UTC))
    assert services_reports.reports_deliver_due()["emails"] == 2
    report.schedule = Schedule.WEEKLY
    report.save()
    frozen_clock.move_to(dt.datetime(2026, 4, 3, 8, 0, tzinfo=dt.UTC))  # a Friday
    assert services_reports.reports_deliver_due()["reports"] == 0


def test_a_recipient_the_report_is_not_shared_with_gets_nothing(sales, org, smtp_settings, frozen_clock):
    buy(sales["a"], D(2026, 2, 1), 10)
    report = Report.objects.create(
        owner=org.exec, name="private", model="sales.orderline", spec=spec(), schedule=Schedule.DAILY
    )
    report.recipients.add(org.rep3)
    assert services_reports.reports_deliver_due()["emails"] == 0
    assert smtp_settings.messages == []


def test_an_administrator_pins_a_report_to_a_role_dashboard(sales, org, client_for):
    admin = UserFactory(username="root", is_superuser=True)
    report = Report.objects.create(owner=admin, name="全公司 Company", model="sales.orderline", spec=spec())
    role = org.rep1.roles.get()
    assert (
        client_for(org.rep1)
        .post(f"/analytics/reports/{report.pk}/dashboard/", {"role": role.pk, "pin": "1"})
        .status_code
        == 404
    )
    client_for(admin).post(f"/analytics/reports/{report.pk}/dashboard/", {"role": role.pk, "pin": "1"})
    html = client_for(org.rep1).get("/analytics/dashboard/").content.decode()
    assert "全公司 Company" in html and html.count('data-testid="widget"') == 1
    client_for(admin).post(f"/analytics/reports/{report.pk}/dashboard/", {"role": role.pk, "pin": "0"})
    assert 'data-testid="no-widgets"' in client_for(org.rep1).get("/analytics/dashboard/").content.decode()
