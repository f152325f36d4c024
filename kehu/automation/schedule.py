"""Time triggers, found by a periodic scan (`manage.py automation_scheduler --every 60`): a date reached
(N days before or after a date field, e.g. 3 days before a warranty ends), time without activity, and a
cron-like schedule. Each (rule, record, occasion) fires once (RuleFire), however often the scan runs."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .conditions import model_of
from .models import Rule, RuleFire, Trigger

MAX_PER_SCAN = 5000
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def parse_cron(text: str) -> list[set[int]]:
    """Five fields (minute hour day month weekday, 0 = Sunday) of *, numbers, ranges a-b, lists and */n."""
    parts = str(text or "").split()
    if len(parts) != 5:
        raise ValueError(_("A schedule has five fields: minute hour day month weekday."))
    result = []
    for part, (low, high) in zip(parts, _RANGES, strict=True):
        values: set[int] = set()
        for item in part.split(","):
            step = 1
            if "/" in item:
                item, step_text = item.split("/", 1)
                step = int(step_text)
                if step < 1:
                    raise ValueError(_("A step must be at least 1."))
            if item == "*":
                start, end = low, high
            elif "-" in item:
                start, end = (int(x) for x in item.split("-", 1))
            else:
                start = end = int(item)
            if not low <= start <= end <= high:
                raise ValueError(
                    _("%(part)s is out of range %(low)d-%(high)d.") % {"part": part, "low": low, "high": high}
                )
            values.update(range(start, end + 1, step))
        result.append(values)
    return result


def cron_matches(fields: list[set[int]], local: dt.datetime) -> bool:
    weekday = (local.weekday() + 1) % 7
    return (
        local.minute in fields[0] and local.hour in fields[1] and local.day in fields[2]
        and local.month in fields[3] and weekday in fields[4]
    )  # fmt: skip


def _fire_once(rule: Rule, object_id, key: str) -> bool:
    try:
        with transaction.atomic():
            RuleFire.objects.create(rule=rule, object_id=str(object_id), key=key[:60])
    except IntegrityError:
        return False
    return True


def _date_lookup(model, field: str) -> str:
    if field.startswith("custom."):
        return f"custom__{field.split('.', 1)[1]}"
    f = model._meta.get_field(field)
    return f"{field}__date" if isinstance(f, models.DateTimeField) else field


def due_records(rule: Rule, now: dt.datetime) -> list[tuple[int, str]]:
    """(record id, occasion key) of the records whose time trigger is due now."""
    model = model_of(rule.model)
    config = rule.trigger_config or {}
    qs = model._default_manager.all()
    if rule.trigger == Trigger.DATE_REACHED:
        field = config["field"]
        target = timezone.localdate(now) + dt.timedelta(days=int(config.get("days_before", 0)))
        value = target.isoformat() if field.startswith("custom.") else target
        ids = qs.filter(**{_date_lookup(model, field): value}).values_list("pk", flat=True)[:MAX_PER_SCAN]
        return [(pk, f"date:{target.isoformat()}") for pk in ids]
    if rule.trigger == Trigger.NO_ACTIVITY:
        field = config.get("field") or (
            "last_activity_at" if hasattr(model, "last_activity_at") else "updated_at"
        )
        cutoff = now - dt.timedelta(days=int(config.get("days", 7)))
        rows = qs.filter(**{f"{field}__lt": cutoff}).values_list("pk", field)[:MAX_PER_SCAN]
        return [(pk, f"quiet:{value.isoformat()[:40]}") for pk, value in rows]
    if rule.trigger == Trigger.SCHEDULE:
        fields = parse_cron(config.get("cron", ""))
        local = timezone.localtime(now).replace(second=0, microsecond=0)
        last = (rule.state or {}).get("scheduled")
        start = dt.datetime.fromisoformat(last) + dt.timedelta(minutes=1) if last else local
        start = max(start, local - dt.timedelta(hours=24))
        minute, due = start, None
        while minute <= local:
            if cron_matches(fields, minute):
                due = minute
            minute += dt.timedelta(minutes=1)
        Rule.objects.filter(pk=rule.pk).update(state={**(rule.state or {}), "scheduled": local.isoformat()})
        if due is None:
            return []
        ids = qs.values_list("pk", flat=True)[:MAX_PER_SCAN]
        return [(pk, f"cron:{due.isoformat()[:16]}") for pk in ids]
    return []


def scan(now: dt.datetime | None = None) -> int:
    from . import engine

    now = now or timezone.now()
    count = 0
    for rule in Rule.objects.filter(
        active=True,
        trigger__in=[t.value for t in (Trigger.DATE_REACHED, Trigger.NO_ACTIVITY, Trigger.SCHEDULE)],
    ).select_related("owner"):
        candidates = due_records(rule, now)
        if not candidates:
            continue
        keys = dict(candidates)
        problem, q = engine._compiled(rule)
        if problem:  # logged once per scan as a failed run, with the reason
            count += engine.run_rule(rule, [next(iter(keys))])
            continue
        matched = set(engine.matching(rule, list(keys), q).values_list("pk", flat=True))
        fresh = [pk for pk in keys if pk in matched and _fire_once(rule, pk, keys[pk])]
        if fresh:
            count += engine.run_rule(rule, fresh, events={str(pk): {"occasion": keys[pk]} for pk in fresh})
    return count
