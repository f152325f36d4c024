"""Retention rules (issue 14 item 2): records of a type older than N months, matching a preset condition, are
deleted or anonymised by the scheduled run (`manage.py privacy_retention --every 86400`); the dry run reports
what a run would do, per rule, without changing anything (the report page /privacy/retention/).

Legally required records (orders, invoices, payments, contracts) cannot get a rule: accounting law keeps them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.db.models.deletion import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import audit, registry

from .models import RetentionAction, RetentionRule

#: accounting records kept by law (PRC Accounting Archives Measures: 30 years), never deleted by a rule
LEGAL_HOLD = {
    "sales.order",
    "sales.orderline",
    "sales.invoicerequest",
    "sales.payment",
    "sales.contract",
    "sales.instalment",
    "core.auditentry",
}

#: preset conditions per record type: code -> (label, Q); "" means every record of the type
CONDITIONS = {
    "sales.lead": {
        "unconverted": (
            gettext_lazy("never converted"),
            Q(converted_customer__isnull=True) & ~Q(status="converted"),
        ),
        "disqualified": (gettext_lazy("disqualified"), Q(status="disqualified")),
    },
    "customers.customer": {
        "prospect_without_orders": (
            gettext_lazy("prospects without orders"),
            Q(lifecycle_stage="prospect", orders__isnull=True, merged_into__isnull=True),
        ),
    },
}


def record_types() -> list[tuple[str, str]]:
    return sorted(
        (
            (e.label, str(e.model._meta.verbose_name_plural))
            for e in registry.all_models()
            if e.label not in LEGAL_HOLD
        ),
        key=lambda p: p[1],
    )


def date_fields(label: str) -> list[str]:
    model = apps.get_model(label)
    return [
        f.name for f in model._meta.concrete_fields if isinstance(f, models.DateField | models.DateTimeField)
    ]


def clean_rule(*, record_type: str, condition: str, date_field: str, months, action: str) -> dict:
    errors: dict = {}
    try:
        apps.get_model(record_type)
    except (LookupError, ValueError):
        errors["record_type"] = _("Choose a record type.")
    else:
        if record_type in LEGAL_HOLD:
            errors["record_type"] = _("These records are kept by law; no retention rule may delete them.")
        elif date_field not in date_fields(record_type):
            errors["date_field"] = _("Choose a date of this record type.")
        if condition and condition not in CONDITIONS.get(record_type, {}):
            errors["condition"] = _("This condition does not exist for this record type.")
    try:
        months = int(months)
        if not 1 <= months <= 1200:
            raise ValueError
    except (TypeError, ValueError):
        errors["months"] = _("Enter a number of months between 1 and 1200.")
    if action not in RetentionAction.values:
        errors["action"] = _("Choose delete or anonymise.")
    if errors:
        raise ValidationError(errors)
    return {
        "record_type": record_type,
        "condition": condition,
        "date_field": date_field,
        "months": months,
        "action": action,
    }


def cutoff(months: int, now=None) -> dt.datetime:
    now = now or timezone.now()
    year, month = divmod(now.month - 1 - months, 12)
    day = min(now.day, 28)
    return now.replace(year=now.year + year, month=month + 1, day=day)


def candidates(rule: RetentionRule, now=None) -> models.QuerySet:
    model = apps.get_model(rule.record_type)
    limit = cutoff(rule.months, now)
    f = model._meta.get_field(rule.date_field)
    value = limit.date() if not isinstance(f, models.DateTimeField) else limit
    qs = model._base_manager.filter(**{f"{rule.date_field}__lt": value})
    if rule.condition:
        qs = qs.filter(CONDITIONS[rule.record_type][rule.condition][1])
    if rule.record_type == "customers.customer":
        qs = qs.exclude(name__startswith="[erased #")
    return qs.distinct()


@dataclass
class Outcome:
    rule: RetentionRule
    count: int
    sample: list[str]
    applied: bool


def _anonymise(model, qs) -> int:
    from . import erasure

    if model._meta.label_lower == "customers.customer":
        ids = list(qs.values_list("pk", flat=True))
        for pk in ids:
            erasure.erase_customer(customer_id=pk, by=None)
        return len(ids)
    fields = erasure._anonymise_fields(model)
    return qs.update(**{f.name: erasure._blank(f) for f in fields}) if fields else qs.count()


def run(*, dry_run: bool = True, now=None, batch: int = 1000) -> list[Outcome]:
    """Apply every active rule (or, with dry_run, count what it would touch)."""
    outcomes = []
    for rule in RetentionRule.objects.filter(active=True).order_by("pk"):
        if rule.record_type in LEGAL_HOLD:
            continue
        qs = candidates(rule, now)
        model = qs.model
        if dry_run:
            count = qs.count()
            sample = [str(o) for o in qs.order_by("pk")[:5]]
            outcomes.append(Outcome(rule, count, sample, False))
            continue
        all_ids = list(qs.order_by("pk").values_list("pk", flat=True))
        total = 0
        for start in range(0, len(all_ids), batch):
            ids = all_ids[start : start + batch]
            try:
                with transaction.atomic():
                    chunk = model._base_manager.filter(pk__in=ids)
                    if rule.action == RetentionAction.DELETE:
                        chunk.delete()
                    else:
                        _anonymise(model, chunk)
                    audit.log_many(
                        actor=None,
                        action="delete" if rule.action == RetentionAction.DELETE else "update",
                        model=rule.record_type,
                        rows=[(pk, f"#{pk}", {"retention": [None, rule.name]}) for pk in ids],
                        note=f"retention rule #{rule.pk} ({rule.action})",
                    )
            except ProtectedError:
                continue  # records other records still need (e.g. a customer with contracts): left alone
            total += len(ids)
        RetentionRule.objects.filter(pk=rule.pk).update(last_run_at=timezone.now(), last_run_count=total)
        outcomes.append(Outcome(rule, total, [], True))
    return outcomes


def run_scheduled() -> str:
    outcomes = run(dry_run=False)
    return ", ".join(f"{o.rule.name}: {o.count}" for o in outcomes) or "no rules"
