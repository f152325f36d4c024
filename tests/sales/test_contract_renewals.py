# ruff: noqa: F811 - the contract fixtures are imported from the other sales tests
"""Contract renewal reminders and expiry, overdue instalments (flag, reminder, receivables page): the sales
scheduler on the frozen clock, mail through the real SMTP server, one reminder with several workers."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from kehu.core.models import AuditEntry, Notification
from kehu.interactions.models import Interaction
from kehu.sales.models import Contract, ContractStatus
from kehu.sales.services import contracts, receivables
from kehu.sales.services.renewals import contracts_expire, contracts_renewal_remind
from kehu.sales.tasks import run_sales_schedule
from tests.sales.test_orders_contracts import accepted, contract  # noqa: F401 - fixtures
from tests.sales.test_quotes import catalogue, deal  # noqa: F401 - fixtures


def _in_force(contract, org, *, ends: dt.date, notice: int = 30) -> Contract:
    Contract.objects.filter(pk=contract.pk).update(end_date=ends, renewal_notice_days=notice)
    contract.refresh_from_db()
    contracts.contract_set_status(contract=contract, status="pending", by=org.rep1)
    contracts.contract_set_status(contract=contract, status="approved", by=org.manager)
    contracts.contract_set_status(
        contract=contract, status="active", by=org.rep1, signed_date=contract.start_date
    )
    contract.refresh_from_db()
    return contract


def test_owner_reminded_once_before_the_end_then_the_contract_expires(
    org,
    contract,
    now,
    frozen_clock,
    smtp_settings,
    django_capture_on_commit_callbacks,
):
    today = timezone.localdate(now)
    signed = _in_force(contract, org, ends=today + dt.timedelta(days=40))
    smtp_settings.messages.clear()
    assert contracts_renewal_remind() == 0  # 40 days left, the notice is 30
    frozen_clock.shift(dt.timedelta(days=11))
    with django_capture_on_commit_callbacks(execute=True):
        assert contracts_renewal_remind() == 1
        assert contracts_renewal_remind() == 0
    note = Notification.objects.get(user=org.rep1, url=signed.get_absolute_url(), title__contains="renew")
    assert signed.number in note.title
    assert [m[0] for m in smtp_settings.messages] == [[org.rep1.email]]
    assert AuditEntry.objects.filter(
        model="sales.contract", object_id=str(signed.pk), note="renewal reminder"
    ).exists()

    frozen_clock.shift(dt.timedelta(days=29))  # the last day: still in force
    assert contracts_expire() == 0
    frozen_clock.shift(dt.timedelta(days=1))
    assert contracts_expire() == 1 and contracts_expire() == 0
    signed.refresh_from_db()
    assert signed.status == ContractStatus.EXPIRED
    assert Interaction.objects.filter(
        customer=signed.customer, related_model="sales.contract.expired", related_id=str(signed.pk)
    ).exists()
    assert contracts_renewal_remind() == 0  # expired contracts are not reminded again


def test_drafts_and_contracts_without_notice_are_not_reminded(org, contract, account, now, frozen_clock):
    today = timezone.localdate(now)
    Contract.objects.filter(pk=contract.pk).update(end_date=today + dt.timedelta(days=5))  # a draft
    silent = contracts.contract_create(
        data={
            "title": "无提醒",
            "customer": account,
            "amount": "100.00",
            "end_date": today + dt.timedelta(days=3),
        },
        by=org.rep1,
    )
    _in_force(silent, org, ends=today + dt.timedelta(days=3), notice=0)
    result = run_sales_schedule.call()
    assert result["contracts_renewal_reminded"] == 0 and result["contracts_expired"] == 0
    frozen_clock.shift(dt.timedelta(days=4))
    assert run_sales_schedule.call()["contracts_expired"] == 1
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT  # only contracts in force expire


def test_overdue_instalment_flagged_on_pages_and_api_and_mailed_once(
    client,
    api_for,
    org,
    contract,
    now,
    frozen_clock,
    smtp_settings,
    django_capture_on_commit_callbacks,
):
    today = timezone.localdate(now)
    half = contract.amount / 2
    receivables.instalment_plan_set(
        contract=contract,
        rows=[
            {"due_date": today + dt.timedelta(days=3), "amount": half},
            {"due_date": today + dt.timedelta(days=60), "amount": contract.amount - half},
        ],
        by=org.rep1,
    )
    first = contract.instalments.order_by("sequence").first()
    frozen_clock.shift(dt.timedelta(days=10))
    smtp_settings.messages.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert receivables.instalments_overdue_remind() == 1
        assert receivables.instalments_overdue_remind() == 0
    assert [m[0] for m in smtp_settings.messages] == [[org.rep1.email]]

    client.force_login(org.rep1)
    page = client.get(reverse("sales:receivables")).content.decode()
    overdue = page.split('data-testid="receivables-overdue"')[1].split("</table>")[0]
    assert contract.number in overdue and contract.get_absolute_url() in overdue
    assert (today + dt.timedelta(days=3)).isoformat() in overdue and ">7<" in overdue  # days overdue
    assert (today + dt.timedelta(days=60)).isoformat() not in overdue
    detail = client.get(contract.get_absolute_url()).content.decode()
    assert detail.count('data-testid="overdue"') == 1
    rows = api_for(org.rep1).get(f"/api/instalments/?contract={contract.pk}").json()["results"]
    assert {r["id"]: r["is_overdue"] for r in rows}[first.pk] is True
    assert sorted(r["is_overdue"] for r in rows) == [False, True]

    client.force_login(org.rep3)  # outside the contract's scope
    page = client.get(reverse("sales:receivables")).content.decode()
    assert contract.number not in page


@pytest.mark.django_db(transaction=True)
def test_two_workers_send_each_reminder_once(org, account, frozen_clock, smtp_settings):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race is exercised on PostgreSQL")
    from django.utils import timezone

    today = timezone.localdate()
    made = contracts.contract_create(
        data={"title": "并发", "customer": account, "amount": "1000.00"}, by=org.rep1
    )
    receivables.instalment_plan_set(
        contract=made, rows=[{"due_date": today - dt.timedelta(days=1), "amount": "1000.00"}], by=org.rep1
    )
    _in_force(made, org, ends=today + dt.timedelta(days=10))
    smtp_settings.messages.clear()
    counts, barrier = [], threading.Barrier(2)

    def work():
        from django.db import connections

        try:
            barrier.wait()
            counts.append((contracts_renewal_remind(), receivables.instalments_overdue_remind()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sum(c) for c in zip(*counts, strict=True)) == [1, 1]  # one renewal, one overdue reminder
    assert Notification.objects.filter(user=org.rep1).filter(title__contains="renew").count() == 1
    assert len(smtp_settings.messages) == 2
