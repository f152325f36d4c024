"""Writing workflow rules: create, change (a new version each time), switch on and off. Thin views call these."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core import records, registry
from kehu.marketing.rules import RuleError, jsonable

from . import actions, triggers
from .conditions import compile_conditions, fields_for, model_of
from .models import Rule, RuleVersion, Trigger
from .schedule import parse_cron

CONFIG_FIELDS = (
    "name",
    "description",
    "model",
    "trigger",
    "trigger_config",
    "conditions",
    "actions",
    "active",
)


def model_choices() -> list[tuple[str, str]]:
    """The record types rules may watch: the registered business records."""
    return sorted(
        (
            (e.label, str(e.model._meta.verbose_name).capitalize())
            for e in registry.all_models()
            if e.nav and e.label != "automation.rule"
        ),
        key=lambda c: c[1],
    )


def _clean(data: dict, *, by, owner=None) -> dict:
    """The rule's settings validated (every problem with its path); conditions are compiled for the user the
    rule will act as (its owner), so a field hidden for the owner is refused."""
    errors: list[str] = []
    label = data.get("model") or ""
    if label not in dict(model_choices()):
        raise ValidationError({"model": _("Choose a record type.")})
    model = model_of(label)
    trigger = data.get("trigger")
    if trigger not in Trigger.values:
        raise ValidationError({"trigger": _("Choose a trigger.")})
    config = data.get("trigger_config") or {}
    if not isinstance(config, dict):
        raise ValidationError({"trigger_config": _("Expected an object.")})
    fields = fields_for(label)
    if trigger == Trigger.FIELD_CHANGED:
        name = config.get("field") or ""
        if not isinstance(name, str) or (
            name and name not in {f.name for f in model._meta.get_fields()} and not name.startswith("custom.")
        ):
            errors.append(_("trigger: unknown field %(f)s.") % {"f": name})
    if trigger == Trigger.STAGE_ENTERED and not isinstance(config.get("stages", []), list):
        errors.append(_("trigger: list the stages by id."))
    if trigger == Trigger.STAGE_ENTERED and not any(
        f.name == (config.get("field") or "stage") for f in model._meta.get_fields()
    ):
        errors.append(_("trigger: this record type has no stage."))
    if trigger == Trigger.DATE_REACHED:
        name = config.get("field") or ""
        if not isinstance(name, str) or name not in fields or fields[name].kind != "date":
            errors.append(_("trigger: choose a date field."))
        days = config.get("days_before", 0)
        if isinstance(days, bool) or not isinstance(days, int) or not -3650 <= days <= 3650:
            errors.append(_("trigger: days before must be a whole number (negative: after)."))
    days = config.get("days")
    if trigger == Trigger.NO_ACTIVITY and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650
    ):
        errors.append(_("trigger: enter the number of days without activity."))
    if trigger == Trigger.NO_ACTIVITY and config.get("field"):
        name = config["field"]
        if not isinstance(name, str) or name not in fields or fields[name].kind != "date":
            errors.append(_("trigger: choose a date field."))
    if trigger == Trigger.SCHEDULE:
        try:
            parse_cron(config.get("cron", ""))
        except ValueError as exc:
            errors.append(_("trigger: %(e)s") % {"e": exc})
    if trigger == Trigger.INBOUND and label not in triggers.INBOUND:
        errors.append(_("trigger: inbound messages are interactions or ticket messages."))
    conditions = data.get("conditions") or {}
    try:
        clean_conditions, _q = compile_conditions(label, conditions, user=owner or data.get("owner") or by)
    except RuleError as exc:
        errors += [f"conditions.{m}" if not m.startswith("conditions") else m for m in exc.messages]
        clean_conditions = conditions
    rule_actions = data.get("actions")
    errors += actions.validate(rule_actions, model)
    if errors:
        raise ValidationError({"__all__": errors})
    return {
        **data,
        "trigger_config": config,
        "conditions": jsonable(clean_conditions),
        "actions": rule_actions,
    }


def _version(rule: Rule, by) -> None:
    RuleVersion.objects.get_or_create(
        rule=rule,
        number=rule.version,
        defaults={"snapshot": {k: getattr(rule, k) for k in CONFIG_FIELDS}, "by": by},
    )


def rule_create(*, data: dict, by) -> Rule:
    with transaction.atomic():
        rule = records.record_create(model=Rule, data=_clean(data, by=by), by=by)
        _version(rule, by)
    triggers.invalidate()
    return rule


def rule_update(*, rule: Rule, data: dict, by, expected_version: int | None) -> Rule:
    with transaction.atomic():
        merged = {k: data.get(k, getattr(rule, k)) for k in CONFIG_FIELDS}
        rule = records.record_update(
            instance=rule, data=_clean(merged, by=by), by=by, expected_version=expected_version
        )
        _version(rule, by)
    triggers.invalidate()
    return rule


def rule_switch(*, rule: Rule, active: bool, by, expected_version: int | None = None) -> Rule:
    return rule_update(rule=rule, data={"active": active}, by=by, expected_version=expected_version)
