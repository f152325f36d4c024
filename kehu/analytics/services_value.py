"""Writes of the value/churn pages: handing at-risk customers to a care plan."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.exceptions import FieldNotWritable
from kehu.interactions import services as interaction_services

from . import selectors_value


def care_for_at_risk(*, plan, customers, by, today: dt.date) -> int:
    """For each customer: a task for the customer's owner (or `by` when `by` may not assign tasks to others)
    titled with the plan's task title and the churn reasons, and the plan's CareAction for `today`. A customer
    already handled by this plan today is skipped. Returns the number of tasks created."""
    from kehu.service.models import CareAction, CareActionStatus

    created = 0
    due = timezone.make_aware(
        dt.datetime.combine(today + dt.timedelta(days=plan.days_before or 0), dt.time(9))
    )
    for customer in customers:
        if CareAction.objects.filter(plan=plan, customer=customer, due_date=today).exists():
            continue
        value = getattr(customer, "analytics_value", None)
        reasons = selectors_value.churn_reason_labels(value.churn_reasons if value else [])
        reason = "; ".join(str(r["label"]) for r in reasons)[:300]
        data = {
            "title": (plan.task_title or _("Win back")).strip()[:200],
            "customer": customer,
            "due_at": due,
            "notes": _("Churn risk %(risk)d %%. %(reasons)s")
            % {"risk": round(100 * (value.churn_risk if value else 0)), "reasons": reason},
        }
        with transaction.atomic():
            try:
                task = interaction_services.task_create(data={**data, "owner": customer.owner}, by=by)
            except FieldNotWritable:
                task = interaction_services.task_create(data=data, by=by)
            try:
                with transaction.atomic():
                    CareAction.objects.create(
                        plan=plan,
                        customer=customer,
                        due_date=today,
                        status=CareActionStatus.CREATED,
                        task=task,
                        reason=reason or _("Churn risk"),
                    )
            except IntegrityError:
                transaction.set_rollback(True)
                continue
        created += 1
    return created
