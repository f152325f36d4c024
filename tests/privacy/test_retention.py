"""Retention rules: dry run counts, the scheduled run deletes or anonymises, legal records are refused."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from kehu.interactions.models import Interaction
from kehu.privacy import retention
from kehu.privacy.models import RetentionRule
from kehu.sales.models import Lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def leads(admin_user):
    now = timezone.now()
    old = Lead.objects.create(name="Old lead", company="Old Co", owner=admin_user)
    new = Lead.objects.create(name="New lead", company="New Co", owner=admin_user)
    Lead.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(days=400))
    return old, new


def test_dry_run_then_run_deletes_unconverted_leads(leads):
    old, new = leads
    rule = RetentionRule.objects.create(
        name="Unconverted leads 12 months",
        record_type="sales.lead",
        condition="unconverted",
        date_field="created_at",
        months=12,
        action="delete",
    )
    [outcome] = retention.run(dry_run=True)
    assert outcome.count == 1 and not outcome.applied
    assert Lead.objects.filter(pk=old.pk).exists()
    out = io.StringIO()
    call_command("privacy_retention", "--now", stdout=out)
    assert "Unconverted leads 12 months: 1" in out.getvalue()
    assert not Lead.objects.filter(pk=old.pk).exists() and Lead.objects.filter(pk=new.pk).exists()
    rule.refresh_from_db()
    assert rule.last_run_count == 1
    assert retention.run(dry_run=True)[0].count == 0


def test_anonymise_keeps_the_row(subject):
    Interaction.objects.filter(pk=subject.interaction.pk).update(
        occurred_at=timezone.now() - dt.timedelta(days=4000)
    )
    RetentionRule.objects.create(
        name="Interactions 10 years",
        record_type="interactions.interaction",
        date_field="occurred_at",
        months=120,
        action="anonymise",
    )
    retention.run(dry_run=False)
    row = Interaction.objects.get(pk=subject.interaction.pk)
    assert row.body == "" and "欧阳" not in row.subject


def test_rules_on_legal_records_and_bad_input_are_refused():
    with pytest.raises(ValidationError) as err:
        retention.clean_rule(
            record_type="sales.order", condition="", date_field="created_at", months=1, action="delete"
        )
    assert "record_type" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        retention.clean_rule(
            record_type="sales.lead", condition="nope", date_field="nope", months=0, action="x"
        )
    assert set(err.value.message_dict) == {"condition", "date_field", "months", "action"}


def test_report_page(leads, officer, client):
    RetentionRule.objects.create(
        name="Unconverted leads",
        record_type="sales.lead",
        condition="unconverted",
        date_field="created_at",
        months=12,
        action="delete",
    )
    client.force_login(officer[0])
    page = client.get(reverse("privacy:retention")).content.decode()
    assert "Unconverted leads" in page and 'data-testid="retention-report"' in page
    response = client.post(
        reverse("privacy:retention"),
        {
            "name": "x",
            "record_type": "sales.lead",
            "condition": "",
            "date_field": "nope",
            "months": 3,
            "action": "delete",
        },
    )
    assert response.status_code == 200 and RetentionRule.objects.count() == 1
